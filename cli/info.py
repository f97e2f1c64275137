"""`p8j info`: where the journal lives, how many sessions in which state, how much disk."""

from __future__ import annotations

import click
import msgspec

from p8j.journal.store.base import is_home_store
from p8j.replay.info import journal_info

from .options import current_store, shared_options, stdout_style
from .render import escape, local_time

__all__ = ["info", "size"]


def size(n: int) -> str:
    """Bytes for people: ``512 B``, ``1.5 KiB``, ``3.2 MiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@click.command()
@shared_options
def info(as_json: bool) -> None:
    """Show where the journal is, its sessions, disk use."""
    store = current_store()
    if is_home_store(store):
        store.home.check()  # one rule for every command: a symlink or a file is refused, named
    facts = journal_info(store)
    if as_json:
        click.echo(msgspec.json.encode(facts).decode("utf-8"))
        return
    style = stdout_style()
    click.echo(f"{style('home', bold=True)}      {escape(facts.home)}")
    if not facts.exists:
        click.echo("          (does not exist yet: nothing has been recorded here; try `p8j demo`)")
        return
    states = ", ".join(f"{n} {s}" for s, n in facts.states.items()) or "none"
    click.echo(f"{style('sessions', bold=True)}  {facts.sessions} ({states})")
    if facts.sessions_with_problems:
        click.echo(
            f"          {style(str(facts.sessions_with_problems), 'red')} with bad lines "
            "(`p8j verify` says which)"
        )
    if facts.oldest:
        span = f"{local_time(facts.oldest)} .. {local_time(facts.newest, zone=True)}"
        click.echo(f"{style('span', bold=True)}      {span}")
    click.echo(f"{style('logs', bold=True)}      {size(facts.log_bytes)}")
    click.echo(
        f"{style('cache', bold=True)}     {size(facts.cache_bytes)} (derived; safe to delete)"
    )
    ix = facts.index
    if ix is None:
        click.echo(f"{style('index', bold=True)}     none (`p8j index` makes search fast)")
    else:
        ratio = f", {ix.index_bytes / facts.log_bytes:.2f}x the logs" if facts.log_bytes else ""
        fresh = (
            "up to date"
            if not ix.stale_sessions
            else f"{ix.stale_sessions} session(s), {size(ix.behind_bytes)} behind"
        )
        when = f", updated {local_time(ix.updated)}" if ix.updated else ""
        click.echo(f"{style('index', bold=True)}     {size(ix.index_bytes)}{ratio}; {fresh}{when}")
    if facts.torn_files:
        click.echo(
            f"{style('torn', bold=True)}      {facts.torn_files} file(s), {size(facts.torn_bytes)} "
            "(bytes cut from crashed writes, kept for inspection)"
        )
