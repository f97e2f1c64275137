"""`p8j redact ID`: rewrite a session's log crash-safely with its secrets replaced."""

from __future__ import annotations

import click
import msgspec

from p8j.journal import SessionLockedError
from p8j.journal.housekeeping import resolve_session_ref
from p8j.journal.secrets.rewrite import redact_session
from p8j.journal.secrets.scan import ScanReport

from .options import SESSION_REF, current_home, shared_options, stdout_style
from .scan import describe_findings

__all__ = ["redact"]

_ENC = msgspec.json.Encoder()


@click.command()
@click.argument("ref", metavar="ID", type=SESSION_REF)
@shared_options
def redact(ref: str, as_json: bool) -> None:
    """Rewrite a session's log with its secrets replaced (refused while a writer has it open)."""
    home = current_home()
    sid = resolve_session_ref(home, ref)
    try:
        report = redact_session(home, sid)
    except SessionLockedError as exc:
        raise SessionLockedError(
            f"{exc.message}; pause or end it there, then run p8j redact again",
            pid=exc.pid,
            host=exc.host,
        ) from exc
    if as_json:
        click.echo(_ENC.encode(report).decode("utf-8"))
        return
    style = stdout_style()
    if not report.changed:
        click.echo(style(f"no secrets found in session {sid}; the log is unchanged", "green"))
        return
    shown = ScanReport(sid, report.path, report.lines, report.findings)
    for line in describe_findings(shown, style):
        click.echo(line)
    parts = [f"rewrote {report.changed_lines} of {report.lines} line(s) of session {sid}"]
    if report.blobs_written:
        parts.append(f"{len(report.blobs_written)} blob(s) replaced")
    if report.blobs_removed:
        parts.append(f"{len(report.blobs_removed)} old blob(s) deleted")
    if report.sidecars_rewritten:
        parts.append(f"{len(report.sidecars_rewritten)} torn-tail sidecar(s) rewritten")
    click.echo(style("; ".join(parts), "green"))
