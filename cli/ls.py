"""`p8j ls`: sessions, most recently active first, filtered; a table for people, JSON for scripts.

Contract (the table): ids are shown `ID_CHARS` long (longer only where two would
collide), the project column is at most `PROJECT_CELLS` wide and a title at most
the terminal's remaining width (`TITLE_CELLS` when piped), each cut with ``…``,
so one long name never pads every row. A child session (a sub-agent) listed
with its parent comes right under it, its title indented after ``↳``; ``--json``
rows carry ``parent_id`` (and ``parent_call_id``, ``agent``, ``model``,
``usage`` totals, ``usage_by_model``).
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import click

from p8j.journal.cache.listing_file import distinct_prefix
from p8j.journal.cache.titles import TITLE_MAX
from p8j.replay.kept import DefaultListing, default_listing
from p8j.replay.listing import SORTS, SessionListing, list_sessions, listing_catalog, sessions_json

from .options import SINCE, STATE_LIST, count, current_store, shared_options, stdout_style

if TYPE_CHECKING:
    from p8j.journal.store.base import SessionStore

# render (terminal text: replay.content, unicodedata) is imported by the table's code only:
# `p8j ls --json` of 10k sessions is a start-up race (bench/README.md).

__all__ = ["ls", "nested", "short_ids", "title_cell"]

TABLE_LIMIT = 50
PROJECT_CELLS = 24
TITLE_CELLS = 200
_STATE_COLORS = {
    "live": "green",
    "crashed": "red",
    "imported": "blue",
    "paused": "yellow",
    "active": "cyan",
    "damaged": "magenta",
}
# The fourth column, between STATE and DURATION, is the time the order is by.
_HEADERS = ("ID", "PROJECT", "STATE", "DURATION", "MSGS", "CMDS", "EXECS", "TITLE")


def title_cell(title: str, cells: int) -> str:
    """A session's title escaped and cut to `cells`, with ``…`` wherever it was cut."""
    from .render import escape, truncate

    text = escape(title)
    if len(title) >= TITLE_MAX:
        text += "…"  # the catalog keeps the first TITLE_MAX characters of a longer title
    return truncate(text, cells)


def short_ids(ids: list[str], minimum: int = 8) -> int:
    """The shortest prefix length (at least `minimum`) that tells every id apart."""
    return distinct_prefix(ids, minimum)


def nested(rows: list[SessionListing]) -> list[tuple[SessionListing, int]]:
    """`rows` with each child right after its parent (when listed too), and its depth."""
    listed = {r.session_id for r in rows}
    children: dict[str, list[SessionListing]] = {}
    for r in rows:
        if r.parent_id is not None and r.parent_id in listed and r.parent_id != r.session_id:
            children.setdefault(r.parent_id, []).append(r)
    out: list[tuple[SessionListing, int]] = []
    seen: set[str] = set()

    def visit(row: SessionListing, depth: int) -> None:
        if row.session_id in seen:  # a cycle of parents (hand-made logs): each row once
            return
        seen.add(row.session_id)
        out.append((row, depth))
        for child in children.get(row.session_id, ()):
            visit(child, depth + 1)

    for r in rows:
        if r.parent_id is None or r.parent_id not in listed:
            visit(r, 0)
    for r in rows:  # rows only reachable through a cycle
        visit(r, 0)
    return out


def _rows(rows: list[SessionListing], relative: bool, prefix: int, sort: str) -> list[list[str]]:
    from .render import duration, escape, plural, truncate, when

    now = datetime.now(timezone.utc)
    out = []
    for r, depth in nested(rows):
        title = title_cell(r.title, TITLE_CELLS)
        if depth:
            title = "  " * (depth - 1) + "↳ " + title
        if r.problems:
            title = f"[{plural(r.problems, 'problem')}] {title}"
        out.append(
            [
                r.session_id[:prefix],
                truncate(escape(r.project_name), PROJECT_CELLS) or "-",
                r.state,
                when(
                    r.start_time if sort == "started" else (r.last_activity or r.start_time),
                    relative=relative,
                    now=now,
                ),
                duration(r.duration_s),
                str(r.message_count),
                str(r.command_count),
                str(r.execution_count),
                title,
            ]
        )
    return out


def _table(rows: list[SessionListing], prefix: int, sort: str) -> list[str]:
    from .render import is_terminal, table, terminal_width

    tty = is_terminal()
    style = stdout_style()

    def state_style(text: str) -> str:
        return style(text, _STATE_COLORS.get(text))

    lines = table(
        [*_HEADERS[:3], "STARTED" if sort == "started" else "ACTIVE", *_HEADERS[3:]],
        _rows(rows, tty, prefix, sort),
        right=(4, 5, 6, 7),
        styles=[
            lambda s: style(s, "yellow"),
            lambda s: style(s, bold=True),
            state_style,
            lambda s: style(s, dim=True),
            None,
            None,
            None,
            None,
            None,
        ]
        if style.enabled
        else None,
        header_style=(lambda s: style(s, bold=True)) if style.enabled else None,
        width=terminal_width() if tty else None,
    )
    return lines


@click.command(
    epilog="""\b
Examples:
  p8j ls --status crashed,paused      what can be resumed
  p8j ls --status damaged             what needs p8j repair first
  p8j ls --since 2h --project 'web*'
  p8j ls --cwd .                      the sessions started in this directory
  p8j ls --json | jq -r '.[] | select(.state == "live") | .session_id'
"""
)
@click.option("--project", metavar="NAME", help="Only this project (shell-style wildcards work).")
@click.option(
    "--status",
    "states",
    type=STATE_LIST,
    default=None,
    help="Only these states: active (= live, crashed or imported), live, crashed, imported, "
    "paused, completed, "
    "damaged (needs p8j repair).",
)
@click.option(
    "--since", type=SINCE, default=None, help="Only sessions active since: 2h, 3d, 2026-11-01."
)
@click.option(
    "-n",
    "--limit",
    type=count(0),
    default=None,
    help=f"At most N sessions (the table's default: {TABLE_LIMIT}; JSON and -q: all).",
)
@click.option(
    "--sort",
    type=click.Choice(SORTS),
    default="activity",
    show_default=True,
    help="Order: most recently active (the last event) or most recently started first.",
)
@click.option(
    "--cwd",
    "cwd",
    metavar="DIR",
    default=None,
    help="Only sessions started in DIR ('.' for the current directory).",
)
@click.option("-a", "--all", "show_all", is_flag=True, help="Every session, however many.")
@click.option("--archived", is_flag=True, help="List the archived sessions (see p8j archive).")
@click.option("-q", "--quiet", is_flag=True, help="Print only full session ids, one a line.")
@click.option(
    "--jsonl", "as_jsonl", is_flag=True, help="One JSON object a line instead of an array."
)
@shared_options
def ls(
    project: str | None,
    states: tuple[str, ...] | None,
    since: datetime | None,
    limit: int | None,
    sort: str,
    cwd: str | None,
    show_all: bool,
    archived: bool,
    quiet: bool,
    as_jsonl: bool,
    as_json: bool,
) -> None:
    """List sessions, most recently active first."""
    store = current_store()
    table_only = not (as_json or as_jsonl or quiet)
    cut = False
    if show_all:
        limit = None
    elif limit is None and table_only:
        limit = TABLE_LIMIT  # people read the newest few; scripts get everything
        cut = True
    unfiltered = project is None and not states and since is None and cwd is None
    if unfiltered and not archived and sort == "activity":
        # The default listing, kept between listings (replay/kept.py); None: list as below.
        kept = default_listing(store)
        if kept is not None:
            _print_kept(store, kept, limit, quiet=quiet, lines=as_jsonl, as_json=as_json, cut=cut)
            return
    # Only --json writes the kept rows: a table or -q reads none (rows.msgpack).
    catalog = listing_catalog(store, archived=archived, rows=as_json or as_jsonl)
    if as_json or as_jsonl:
        # Kept rows written as they are: no row is built or encoded for an unchanged session.
        out = sessions_json(
            store,
            project=project,
            states=states,
            since=since,
            limit=limit,
            sort=sort,
            cwd=cwd,
            catalog=catalog,
            lines=as_jsonl,
        )
        click.echo(out, nl=not as_jsonl)  # bytes: written as they are, no str round trip
        return
    want = None if limit is None else limit + 1  # one more tells whether there is more
    rows = list_sessions(
        store,
        project=project,
        states=states,
        since=since,
        limit=want,
        sort=sort,
        cwd=cwd,
        catalog=catalog,
    )
    more = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit is not None else rows
    if quiet:
        if rows:
            click.echo("\n".join([row.session_id for row in rows]))
        return
    filtered = bool(project or states or since or cwd is not None or limit == 0)
    from .render import ID_CHARS

    prefix = short_ids([entry.session_id for entry in catalog.entries], ID_CHARS)
    _print_table(_place(store), rows, prefix, sort, filtered=filtered)
    if more and cut:
        which = "most recently active" if sort == "activity" else "newest"
        click.echo(f"p8j: showing the {limit} {which} sessions; -n N or --all shows more", err=True)


def _print_kept(
    store: SessionStore,
    kept: DefaultListing,
    limit: int | None,
    *,
    quiet: bool,
    lines: bool,
    as_json: bool,
    cut: bool,
) -> None:
    """`ls` of the default listing: what the catalog's path prints, from `kept`."""
    if as_json or lines:
        sys.stdout.flush()
        out = sys.stdout.buffer
        # In parts, as kept: 10k rows are MBs, and joining them costs a copy (~5 ms at 10k).
        for part in kept.json_parts(limit, lines=lines):
            out.write(part)  # not writelines: a stream may copy what write() is given only
        if not lines:
            out.write(b"\n")
        out.flush()
        return
    if quiet:
        ids = kept.session_ids(limit)
        if ids:
            click.echo("\n".join(ids))
        return
    rows = kept.rows(None if limit is None else limit + 1)  # one more tells whether there is more
    more = limit is not None and len(rows) > limit
    from .render import ID_CHARS

    # = short_ids(every id, ID_CHARS), kept with the listing: no sort of 10k ids
    prefix = max(ID_CHARS, kept.id_chars)
    _print_table(_place(store), rows[:limit], prefix, "activity", filtered=limit == 0)
    if more and cut:
        click.echo(
            f"p8j: showing the {limit} most recently active sessions; -n N or --all shows more",
            err=True,
        )


def _place(store: SessionStore) -> str:
    """Where the sessions are, for people: a home's path, or the store's URL."""
    from p8j.journal.store.base import is_home_store

    return str(store.home.path) if is_home_store(store) else store.url


def _print_table(
    place: str,
    rows: list[SessionListing],
    prefix: int,
    sort: str,
    *,
    filtered: bool,
) -> None:
    """The table for people (see the module docstring), or why there is none."""
    from .render import escape  # only the table needs rendering (ls --json stays light)

    if not rows:
        if filtered:
            click.echo("No sessions match.", err=True)
        else:
            click.echo(f"No sessions in {escape(place)} yet. Try `p8j demo`.", err=True)
        return
    click.echo("\n".join(_table(rows, prefix, sort)))
