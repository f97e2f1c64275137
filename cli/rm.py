"""`p8j rm ID...`: remove sessions (log, snapshot cache, repair sidecars, lock file).

Contract: nothing is removed without a yes: on a terminal p8j asks (default no);
otherwise ``--yes`` is required (a usage error without it, exit 2). Every id is
resolved before anything is removed. A session another process has open is
refused (exit 1) and the others are still removed; ``--dry-run`` lists what would
go and removes nothing. Blobs are shared between sessions: ``p8j gc`` removes
those no session needs any more.
"""

from __future__ import annotations

import sys

import click
import msgspec

from p8j.journal import P8jError, SessionManager
from p8j.journal.housekeeping import DeleteReport, resolve_session_ref

from .info import size
from .main import CliError
from .options import SESSION_REF, current_home, home_option, json_option
from .render import escape

__all__ = ["rm"]

_ENC = msgspec.json.Encoder()


def _entry(report: DeleteReport) -> dict[str, object]:
    return {
        "session_id": report.session_id,
        "dry_run": report.dry_run,
        "removed": msgspec.to_builtins(report.removed),
        "bytes_freed": report.bytes_freed,
    }


@click.command(
    epilog="""\b
Examples:
  p8j rm 01a2c3 --dry-run         what would be removed
  p8j rm 01a2c3 01b4d5 --yes      without asking (scripts)
  p8j ls -q --status completed --project scratch | xargs p8j rm --yes
"""
)
@click.argument("refs", metavar="ID...", nargs=-1, required=True, type=SESSION_REF)
@click.option("-y", "--yes", is_flag=True, help="Do not ask (needed when not on a terminal).")
@click.option("-n", "--dry-run", is_flag=True, help="Only list what would be removed.")
@json_option
@home_option
def rm(refs: tuple[str, ...], yes: bool, dry_run: bool, as_json: bool) -> None:
    """Remove sessions: log, caches, sidecars, lock (asks first; refuses live ones)."""
    home = current_home()
    ids = list(dict.fromkeys(resolve_session_ref(home, r) for r in refs))
    mgr = SessionManager(home)
    if not dry_run and not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("not on a terminal: pass --yes to remove, or --dry-run")
        shown = ", ".join(i[:13] for i in ids[:5]) + (" ..." if len(ids) > 5 else "")
        if not click.confirm(f"Remove {len(ids)} session(s) ({shown}) for good?", err=True):
            click.echo("p8j: nothing removed", err=True)
            click.get_current_context().exit(1)
    reports: list[DeleteReport] = []
    failed: list[str] = []
    for sid in ids:
        try:
            reports.append(mgr.delete_session(sid, dry_run=dry_run))
        except P8jError as exc:
            failed.append(f"{sid}: {exc}")
    if as_json:
        click.echo(_ENC.encode([_entry(r) for r in reports]))
    else:
        verb = "would remove" if dry_run else "removed"
        for r in reports:
            click.echo(f"{verb} {r.session_id} ({len(r.removed)} files, {size(r.bytes_freed)})")
            if dry_run:
                for f in r.removed:
                    click.echo(f"  {f.kind:<8} {escape(f.path)}")
    if failed:
        raise CliError("; ".join(failed) if len(failed) > 1 else failed[0])
