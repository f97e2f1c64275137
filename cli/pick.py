"""`p8j pick`: choose a session interactively, print its id (``mycli --resume "$(p8j pick)"``)."""

from __future__ import annotations

import click
import msgspec

from .options import STATE_LIST, current_store, home_option, json_option
from .picker import pick_session

__all__ = ["pick"]


@click.command(
    epilog="""\b
Keys: type to filter, Up/Down (Ctrl-P/Ctrl-N) to move, Enter to choose, Esc to cancel.
Example:
  mycli --resume "$(p8j pick --status paused,crashed)"
"""
)
@click.argument("query", required=False, default="")
@click.option("--project", metavar="NAME", help="Only sessions of this project (wildcards work).")
@click.option(
    "--status",
    "states",
    type=STATE_LIST,
    default=None,
    help="Only these states: active, live, crashed, paused, completed, damaged.",
)
@click.option(
    "--cwd",
    metavar="DIR",
    default=None,
    help="Only sessions started in DIR ('.' for the current directory).",
)
@json_option
@home_option
def pick(
    query: str,
    project: str | None,
    states: tuple[str, ...] | None,
    cwd: str | None,
    as_json: bool,
) -> None:
    """Choose a session interactively; print its id."""
    chosen = pick_session(current_store(), query=query, project=project, states=states, cwd=cwd)
    if chosen is None:
        click.echo("p8j: no session chosen", err=True)
        click.get_current_context().exit(1)
    if as_json:
        click.echo(msgspec.json.encode({"session_id": chosen}).decode())
    else:
        click.echo(chosen)
