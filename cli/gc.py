"""`p8j gc`: remove what no session needs any more (unreferenced blobs, orphans); says what."""

from __future__ import annotations

from collections import Counter

import click
import msgspec

from p8j.journal.garbage import collect_garbage

from .info import size
from .options import current_home, home_option, json_option
from .render import escape

__all__ = ["gc"]

_ENC = msgspec.json.Encoder()


@click.command(
    epilog="""\b
Removes blobs no session refers to, lock files, snapshot caches and repair
sidecars of sessions that no longer exist, temporary files of interrupted
writes, and logs whose start was cut short. Never a session's log, never what a
live writer uses; files younger than an hour are left alone. Nothing is ever
removed automatically.
Example:
  p8j gc --dry-run
"""
)
@click.option("-n", "--dry-run", is_flag=True, help="Only list what would be removed.")
@json_option
@home_option
def gc(dry_run: bool, as_json: bool) -> None:
    """Remove what no session needs any more; say what it freed."""
    report = collect_garbage(current_home(), dry_run=dry_run)
    if as_json:
        data = msgspec.to_builtins(report)
        data["bytes_freed"] = report.bytes_freed
        click.echo(_ENC.encode(data))
        return
    verb = "would remove" if dry_run else "removed"
    for item in report.removed if dry_run else []:
        click.echo(f"{item.kind:<9} {size(item.size):>10}  {escape(item.path)}")
    kinds = Counter(item.kind for item in report.removed)
    what = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "nothing"
    freed = "" if not report.removed else f"; {size(report.bytes_freed)} freed"
    click.echo(f"{verb} {what}{freed if not dry_run else ''}")
    if report.blobs_kept_because:
        click.echo(f"p8j: kept every blob: {escape(report.blobs_kept_because)}", err=True)
