"""`p8j import AGENT [PATH]`: bring another agent's sessions in (once, or --follow them live).

Exit status: 0 when every source line became an event, 1 when any was skipped
(each reported on stderr as ``p8j: FILE:LINE: reason``, or under ``skipped`` in
--json), 2 for a usage error (an unknown importer, legacy without PATH). With
--follow the command keeps importing what the agent appends until Ctrl-C
(exit 0); each pass that imported something prints one summary (one JSON
object per line with --json).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import msgspec

from p8j.journal.importers.base import Importer
from p8j.journal.importers.engine import ImportRun, default_roots
from p8j.journal.importers.registry import ImporterError, get_importer
from p8j.journal.importers.report import ImportReport

from .options import current_store, shared_options
from .render import escape, is_terminal

__all__ = ["import_cmd"]

PROGRESS_MIN = 1 << 20  # a bar is worth showing from this many source bytes


@contextmanager
def _progress(show: bool) -> Iterator[Callable[[int, int], None] | None]:
    if not show:
        yield None
        return
    from rich.progress import Progress  # only on a terminal

    with Progress(transient=True) as bar:
        task = bar.add_task("importing", total=None, visible=False)

        def advance(done: int, total: int) -> None:
            if total >= PROGRESS_MIN:
                bar.update(task, completed=done, total=total, visible=True)

        yield advance


def _summary(report: ImportReport) -> str:
    verb = "would import" if report.dry_run else "imported"
    kinds = ", ".join(f"{n} {t}" for t, n in sorted(report.records.items()))
    raw = ", ".join(f"{k} {n}" for k, n in sorted(report.kept_raw.items()))
    text = (
        f"{verb} {report.events} record(s) from {report.files} file(s): "
        f"{report.sessions_new} new, {report.sessions_updated} updated, "
        f"{report.sessions_unchanged} unchanged session(s)"
    )
    if kinds:
        text += f"\n  by type: {kinds}"
    if raw:
        text += f"\n  kept raw (not conversation), by source type: {raw}"
    return text


def _show(report: ImportReport, as_json: bool) -> None:
    if as_json:
        out = msgspec.to_builtins(report)
        out["ok"] = report.ok
        click.echo(msgspec.json.encode(out).decode("utf-8"))
    else:
        for line in _summary(report).split("\n"):
            click.echo(escape(line))
    for skip in report.skipped:
        where = f"{skip.path}:{skip.line}" if skip.line else skip.path
        click.echo(f"p8j: {escape(where)}: skipped: {escape(skip.reason)}", err=True)


def _importer(agent: str) -> Importer:
    try:
        return get_importer(agent)
    except ImporterError as exc:
        raise click.BadParameter(exc.message, param_hint="AGENT") from exc


@click.command(
    "import",
    epilog="""\b
Examples:
  p8j import claude                     # ~/.claude/projects
  p8j import codex ~/.codex/sessions --dry-run
  p8j import legacy old-sessions/ --json
  p8j import claude --follow            # keep archiving as Claude Code writes
\b
Importing again adds only what is new; a killed import finishes on the next run.
""",
)
@click.argument("agent", metavar="AGENT")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Write nothing; report what would be imported.")
@click.option(
    "--follow", is_flag=True, help="Keep watching and import records as the agent writes them."
)
@shared_options
def import_cmd(
    agent: str,
    path: Path | None,
    dry_run: bool,
    follow: bool,
    as_json: bool,
) -> None:
    """Import sessions of AGENT (claude, codex, legacy) from PATH or the agent's own place."""
    importer = _importer(agent)
    roots = [path] if path is not None else default_roots(importer)
    if not roots:
        raise click.UsageError(f"{agent}: give the PATH of the files to import")
    if follow and dry_run:
        raise click.UsageError("--follow imports as the agent writes: it cannot be a --dry-run")
    store = current_store()  # --store, else $P8J_STORE, else the home's files
    run = ImportRun(importer, store, dry_run=dry_run)
    if follow:
        from p8j.journal.importers.follow import follow_paths

        def each(report: ImportReport) -> None:
            if report.events or report.skipped:
                _show(report, as_json)

        def ready(files: int) -> None:
            where = ", ".join(escape(str(r)) for r in roots)
            click.echo(f"p8j: following {files} file(s) under {where} (Ctrl-C ends)", err=True)

        # Ctrl-C ends it with status 0: every record is one whole append.
        with contextlib.suppress(KeyboardInterrupt):
            follow_paths(run, roots, each, threading.Event(), ready)
        return
    with _progress(not as_json and is_terminal(sys.stderr)) as progress:
        report = run.run(run.discover(roots), progress)
    _show(report, as_json)
    if not report.ok:
        sys.exit(1)
