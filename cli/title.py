"""`p8j title ID TEXT`: name a session (a SessionTitled event; ls, pick and export show it)."""

from __future__ import annotations

import click
import msgspec

from p8j.journal import SessionManager
from p8j.journal.housekeeping import resolve_session_ref

from .options import SESSION_REF, current_home, home_option, json_option
from .render import escape

__all__ = ["title"]


@click.command(
    epilog="""\b
The latest title wins; a completed session can be named too. Refused while
another process has the session open (it can call SessionManager.set_title).
Example:
  p8j title latest "checkout total fix"
"""
)
@click.argument("ref", metavar="ID", type=SESSION_REF)
@click.argument("text", metavar="TEXT")
@json_option
@home_option
def title(ref: str, text: str, as_json: bool) -> None:
    """Give a session a title (shown by ls, pick and export)."""
    home = current_home()
    sid = resolve_session_ref(home, ref)
    seq = SessionManager(home).set_title(text, sid)
    if as_json:
        click.echo(msgspec.json.encode({"session_id": sid, "seq": seq, "title": text}).decode())
        return
    click.echo(f"titled {sid}: {escape(text)}")
