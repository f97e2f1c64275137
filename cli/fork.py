"""`p8j fork ID [--at SEQ | --until TIME]`: a new session holding the history up to a point."""

from __future__ import annotations

from datetime import datetime

import click
import msgspec

from p8j.journal import SessionManager
from p8j.journal.housekeeping import resolve_session_ref

from .options import SESSION_REF, SINCE, count, current_home, home_option, json_option

__all__ = ["fork"]


@click.command(
    epilog="""\b
The fork is paused, ready to resume (mycli --resume ID); it records the session
and event it was forked from (ls --json: forked_from). The original is untouched.
Examples:
  p8j fork latest                 a copy of the whole session
  p8j fork 01a2c3 --at 12         the history up to event 12
  p8j fork 01a2c3 --until 2h      as it was two hours ago
"""
)
@click.argument("ref", metavar="ID", type=SESSION_REF)
@click.option("--at", "at_seq", type=count(0), default=None, help="Up to event seq SEQ.")
@click.option("--until", type=SINCE, default=None, help="Up to a time: 2026-11-24T07:00, 2h (ago).")
@json_option
@home_option
def fork(ref: str, at_seq: int | None, until: datetime | None, as_json: bool) -> None:
    """Copy a session's history up to a point into a new session; print its id."""
    if at_seq is not None and until is not None:
        raise click.UsageError("--at and --until cannot be combined")
    home = current_home()
    parent = resolve_session_ref(home, ref)
    child = SessionManager(home).fork_session(parent, at_seq=at_seq, until=until)
    if as_json:
        click.echo(msgspec.json.encode({"session_id": child, "forked_from": parent}).decode())
        return
    click.echo(child)
