"""`p8j verify [ID ...]`: check the integrity of session logs; exit 1 if anything is wrong."""

from __future__ import annotations

from collections.abc import Iterator

import click
import msgspec

from p8j.journal.housekeeping import resolve_in
from p8j.journal.store.base import SessionStore
from p8j.replay.verify import VerifyReport, verify_session

from .options import SESSION_REF, current_store, shared_options, stdout_style
from .render import Style, escape, is_terminal

__all__ = ["verify"]

_ENC = msgspec.json.Encoder()
PROGRESS_MIN = 20  # a progress bar is worth showing from this many sessions
_REPAIRABLE = frozenset({"corrupt", "seq-gap", "lifecycle", "too-long"})


def _reports(store: SessionStore, ids: list[str], progress: bool) -> Iterator[VerifyReport]:
    if not progress:
        for sid in ids:
            yield verify_session(store, sid)
        return
    from rich.progress import Progress  # only for many sessions on a terminal

    # Lines printed meanwhile go above the bar (rich redirects stdout while it is live).
    with Progress(transient=True) as bar:
        task = bar.add_task("verifying", total=len(ids))
        for sid in ids:
            yield verify_session(store, sid)
            bar.advance(task)


def _describe(report: VerifyReport, style: Style, verbose: bool) -> list[str]:
    sid = style(report.session_id, "yellow")
    if report.ok and not report.warnings:
        return [f"{style('ok', 'green')}    {sid}  {report.events} events"] if verbose else []
    head = style("ok", "green") if report.ok else style("BAD", "red", bold=True)
    lines = [
        f"{head}   {sid}  {report.events} events, {len(report.errors)} error(s), "
        f"{len(report.warnings)} warning(s)"
    ]
    for issue in report.errors:
        where = f"line {issue.line}" if issue.line is not None else "log"
        lines.append(
            f"      {style('error', 'red')} {where}: {issue.kind}: {escape(issue.message)}"
        )
    for issue in report.warnings:
        where = f"line {issue.line}" if issue.line is not None else "log"
        lines.append(
            f"      {style('warning', 'yellow')} {where}: {issue.kind}: {escape(issue.message)}"
        )
    if any(issue.kind in _REPAIRABLE for issue in report.errors):
        lines.append(
            f"      p8j repair {report.session_id} moves the bad lines aside "
            "(--dry-run to see what first)"
        )
    return lines


@click.command(
    epilog="""\b
Exit status: 0 when every log is sound (warnings allowed), 1 otherwise.
Example:
  p8j verify --json | jq '.[] | select(.ok | not) | .errors'
"""
)
@click.argument("refs", metavar="[ID]...", nargs=-1, type=SESSION_REF)
@click.option("-v", "--verbose", is_flag=True, help="Also list the sessions that are fine.")
@shared_options
def verify(refs: tuple[str, ...], verbose: bool, as_json: bool) -> None:
    """Check the integrity of session logs."""
    store = current_store()
    ids = [resolve_in(store, r, archived=True) for r in refs] if refs else store.session_ids()
    show_bar = not as_json and is_terminal() and len(ids) >= PROGRESS_MIN
    style = stdout_style()
    bad = warned = 0
    reports: list[VerifyReport] = []
    for report in _reports(store, ids, show_bar):
        bad += not report.ok
        warned += bool(report.warnings)
        if as_json:
            reports.append(report)
        else:
            for line in _describe(report, style, verbose or len(ids) == 1):
                click.echo(line)
    if as_json:
        click.echo(_ENC.encode(reports).decode("utf-8"))
    else:
        summary = f"{len(ids)} session(s) checked: {len(ids) - bad} ok, {bad} bad"
        if warned:
            summary += f", {warned} with warnings"
        click.echo(style(summary, "red" if bad else "green"))
    if bad:
        click.get_current_context().exit(1)
