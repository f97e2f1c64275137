"""`p8j scan [ID ...]`: find secrets in logs already written; exit 1 if any are found."""

from __future__ import annotations

import click
import msgspec

from p8j.journal import P8jError
from p8j.journal.housekeeping import resolve_session_ref
from p8j.journal.secrets.scan import ScanReport, scan_session

from .options import SESSION_REF, current_home, shared_options, stdout_style
from .render import Style, escape

__all__ = ["describe_findings", "scan"]

_ENC = msgspec.json.Encoder()


def describe_findings(report: ScanReport, style: Style) -> list[str]:
    """One line per finding: where, which rules, and a preview that shows the marker only."""
    sid = style(report.session_id[:13], "yellow")
    lines = []
    for f in report.findings:
        where = f"line {f.line}" if f.line else "sidecar"
        seq = f" seq {f.seq}" if f.seq is not None else ""
        lines.append(
            f"{sid}  {where}{seq}  {escape(f.field)}  {style(','.join(f.rules), 'red')}  "
            f"{escape(f.preview)}"
        )
    return lines


@click.command()
@click.argument("refs", metavar="[ID]...", nargs=-1, type=SESSION_REF)
@shared_options
def scan(refs: tuple[str, ...], as_json: bool) -> None:
    """Find secrets in existing session logs (exit 1 if any); `p8j redact ID` removes them."""
    home = current_home()
    ids = [resolve_session_ref(home, r) for r in refs] if refs else home.session_ids()
    style = stdout_style()
    reports: list[ScanReport] = []
    failed = 0
    for sid in ids:
        # One unreadable or unsafe log (a FIFO, a symlink, ...) must not hide the others.
        try:
            reports.append(scan_session(home, sid))
        except P8jError as exc:
            failed += 1
            click.echo(f"p8j: cannot scan {sid}: {escape(str(exc))}", err=True)
    dirty = [r for r in reports if r.findings]
    if as_json:
        click.echo(_ENC.encode(reports).decode("utf-8"))
    else:
        for report in dirty:
            for line in describe_findings(report, style):
                click.echo(line)
        found = sum(len(r.findings) for r in dirty)
        if dirty:
            click.echo(
                style(
                    f"{found} place(s) with secrets in {len(dirty)} of {len(ids)} session(s); "
                    "remove them with: p8j redact ID",
                    "red",
                )
            )
        else:
            click.echo(style(f"no secrets found in {len(ids)} session(s)", "green"))
    if dirty or failed:
        click.get_current_context().exit(1)
