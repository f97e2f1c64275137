"""`p8j repair ID`: move a session log's damaged lines aside so it loads and resumes again."""

from __future__ import annotations

import click
import msgspec

from p8j.journal import SessionLockedError
from p8j.journal.housekeeping import resolve_session_ref
from p8j.journal.store.fs.repair import RepairReport, repair_session

from .options import SESSION_REF, current_home, home_option, json_option, stdout_style
from .render import Style, escape

__all__ = ["repair"]

_ENC = msgspec.json.Encoder()


def _describe(report: RepairReport, style: Style) -> list[str]:
    verb = "would move" if report.dry_run else "moved"
    lines = []
    for run in report.removed:
        last = run.line + run.lines - 1
        span = f"line {run.line}" if run.lines == 1 else f"lines {run.line}-{last}"
        lines.append(
            f"{verb} {span} (byte {run.offset}, {run.size} bytes) to torn/{escape(run.sidecar)}: "
            f"{escape(run.problem)}"
        )
    seqs = ", ".join(map(str, report.events_written))
    record = "would record" if report.dry_run else "recorded"
    lines.append(
        style(
            f"{record} the removal in {len(report.events_written)} LinesRemoved event(s) "
            f"(seq {seqs}); the session is {report.status}"
            + ("; nothing was changed (dry run)" if report.dry_run else ""),
            "yellow" if report.dry_run else "green",
        )
    )
    return lines


@click.command(
    epilog="""\b
Every good event is kept byte for byte; each damaged line (and a torn tail) is
moved to <home>/torn/ and recorded in a LinesRemoved event. A session whose
SessionEnded line was lost becomes resumable again, like one whose writer died.
Example:
  p8j verify || p8j repair latest --dry-run
"""
)
@click.argument("ref", metavar="ID", type=SESSION_REF)
@click.option("-n", "--dry-run", is_flag=True, help="Only say what would be done; change nothing.")
@json_option
@home_option
def repair(ref: str, dry_run: bool, as_json: bool) -> None:
    """Move a session log's damaged lines aside and record them (refused while it is open)."""
    home = current_home()
    sid = resolve_session_ref(home, ref)
    try:
        report = repair_session(home, sid, dry_run=dry_run)
    except SessionLockedError as exc:
        raise SessionLockedError(
            f"{exc.message}; pause or end it there, then run p8j repair again",
            pid=exc.pid,
            host=exc.host,
        ) from exc
    if as_json:
        click.echo(_ENC.encode(report).decode("utf-8"))
        return
    style = stdout_style()
    if not report.events_written:
        click.echo(style(f"session {sid} has no damaged lines; the log is unchanged", "green"))
        return
    for line in _describe(report, style):
        click.echo(line)
