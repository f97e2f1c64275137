"""`p8j archive` / `p8j unarchive`: move completed sessions into ``<home>/archive`` and back.

Only on request: nothing is archived automatically. Archived sessions are still
read by ``ls --archived``, ``replay``, ``export``, ``search ID`` and ``verify``
(journal/store/fs/archive.py). The bytes saved are reported.
"""

from __future__ import annotations

from datetime import datetime

import click
import msgspec

from p8j.journal.errors import SessionNotFoundError
from p8j.journal.housekeeping import resolve_session_ref
from p8j.journal.store.fs.archive import ArchiveResult, archive_session, unarchive_session
from p8j.journal.store.fs.archived import archive_path
from p8j.journal.timefmt import format_ts
from p8j.replay.listing import list_sessions

from .info import size
from .options import SESSION_REF, SINCE, current_home, home_option, json_option

__all__ = ["archive", "unarchive"]

_ENC = msgspec.json.Encoder()


def _report(results: list[ArchiveResult], dry_run: bool) -> dict[str, object]:
    before = sum(r.bytes_before for r in results)
    after = sum(r.bytes_after for r in results)
    return {
        "dry_run": dry_run,
        "sessions": msgspec.to_builtins(results),
        "bytes_before": before,
        "bytes_after": after,
        "bytes_saved": before - after,
    }


def _selected(refs: tuple[str, ...], older_than: datetime | None) -> list[str]:
    home = current_home()
    if refs:
        return list(dict.fromkeys(resolve_session_ref(home, r) for r in refs))
    cutoff = format_ts(older_than) if older_than is not None else None
    rows = list_sessions(home, states=("completed",))
    return sorted(
        r.session_id
        for r in rows
        if r.state == "completed"
        and (cutoff is None or (r.last_activity or r.start_time or "") < cutoff)
    )


@click.command(
    epilog="""\b
Only completed sessions are archived; a live, active or paused one is refused.
The log is gzipped into <home>/archive/<id>.jsonl.gz (written and fsynced
before the log is removed); ls --archived, replay, export, search ID and verify
still read it; p8j unarchive ID puts it back. Nothing is archived automatically.
Examples:
  p8j archive --older-than 90d --dry-run
  p8j archive 01a2c3
"""
)
@click.argument("refs", metavar="[ID]...", nargs=-1, type=SESSION_REF)
@click.option(
    "--older-than",
    type=SINCE,
    default=None,
    help="Only sessions last active before this: 90d, 2w, 2026-01-01.",
)
@click.option(
    "--status",
    type=click.Choice(["completed"]),
    default=None,
    help="Which sessions: completed (the only state that can be archived).",
)
@click.option("-n", "--dry-run", is_flag=True, help="Only say what would be archived and saved.")
@json_option
@home_option
def archive(
    refs: tuple[str, ...],
    older_than: datetime | None,
    status: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Move completed sessions into a compressed archive; report the bytes saved."""
    if not refs and older_than is None and status is None:
        raise click.UsageError("say which sessions: ID..., --older-than or --status completed")
    home = current_home()
    results = [archive_session(home, sid, dry_run=dry_run) for sid in _selected(refs, older_than)]
    report = _report(results, dry_run)
    if as_json:
        click.echo(_ENC.encode(report))
        return
    verb = "would archive" if dry_run else "archived"
    for r in results:
        click.echo(f"{r.session_id}  {size(r.bytes_before):>10} -> {size(r.bytes_after):>10}")
    saved = sum(r.bytes_before - r.bytes_after for r in results)
    click.echo(f"{verb} {len(results)} session(s); {size(saved)} saved")


@click.command(
    epilog="""\b
Restores the log crash-safely (written, fsynced, linked in) before the archive is removed.
Example:
  p8j unarchive 01a2c3
"""
)
@click.argument("ref", metavar="ID", type=SESSION_REF)
@json_option
@home_option
def unarchive(ref: str, as_json: bool) -> None:
    """Put an archived session's log back among the sessions."""
    home = current_home()
    sid = resolve_session_ref(home, ref, archived=True)
    if not archive_path(home, sid).is_file():
        raise SessionNotFoundError(f"session {sid} is not archived")
    result = unarchive_session(home, sid)
    if as_json:
        click.echo(_ENC.encode(result))
        return
    click.echo(f"unarchived {sid} ({size(result.bytes_after)})")
