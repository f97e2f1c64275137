"""`p8j search PATTERN`: regular-expression search over messages, commands and outputs."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import click
import msgspec

from p8j.replay.search import SearchHit, SearchResult, search
from p8j.replay.search_pattern import PatternError, SearchPattern

from .options import SESSION_REF, SINCE, count, current_store, shared_options, stdout_style
from .pager import paged
from .render import Style, escape, is_terminal, local_time, truncate

# Loaded where they are needed (-s, -C): a plain search's start-up is most of its time.
if TYPE_CHECKING:
    from p8j.replay.search_context import ContextEvent

__all__ = ["search_cmd"]

_ENC = msgspec.json.Encoder()


def _hit_line(hit: SearchHit, style: Style, color: bool) -> str:
    where = f"{hit.session_id[:13]}:{hit.seq}"
    what = hit.role if hit.kind == "message" and hit.role else hit.kind
    if hit.kind == "execution":
        what = f"{hit.kind} {hit.field}"
    before = escape(hit.snippet[: hit.match_start])
    match = escape(hit.snippet[hit.match_start : hit.match_end])
    after = escape(hit.snippet[hit.match_end :])
    shown = before + (style(match, "red", bold=True) if color else match) + after
    more = style(f"  (+{hit.matches - 1} more)", dim=True) if hit.matches > 1 else ""
    project = truncate(escape(hit.project_name), 20)
    return (
        f"{style(where, 'yellow')} {style(local_time(hit.ts), dim=True)} {project} "
        f"{style(escape(what or ''), 'cyan')}: {shown}{more}"
    )


def _context_line(sid: str, ev: ContextEvent, style: Style) -> str:
    what = ev.role if ev.kind == "message" and ev.role else ev.kind
    where = f"{sid[:13]}-{ev.seq}"
    return style(f"{where} {local_time(ev.ts)} {escape(what or '')}- {escape(ev.text)}", dim=True)


def _show_hits(result: SearchResult, context: int | None, as_json: bool, style: Style) -> None:
    near: dict[tuple[str, int], list[ContextEvent]] = {}
    if context:
        from p8j.replay.search_context import hit_context

        near = hit_context(current_store(), result.hits, context)
    if as_json:
        if context is None:
            click.echo(_ENC.encode(result.hits).decode("utf-8"))
            return
        rows: list[dict[str, Any]] = []
        for hit in result.hits:
            row = msgspec.structs.asdict(hit)
            row["context"] = near.get((hit.session_id, hit.seq), [])
            rows.append(row)
        click.echo(_ENC.encode(rows).decode("utf-8"))
        return
    for i, group in enumerate(_groups(result.hits, near)):
        if context and i:
            click.echo(style("--", dim=True))
        hit_seqs = {hit.seq for hit, _ in group}
        around = {ev.seq: ev for _, evs in group for ev in evs if ev.seq not in hit_seqs}
        lines = [(hit.seq, _hit_line(hit, style, style.enabled)) for hit, _ in group]
        sid = group[0][0].session_id
        lines += [(seq, _context_line(sid, ev, style)) for seq, ev in around.items()]
        for _seq, line in sorted(lines, key=lambda pair: pair[0]):  # stable: hits in order
            click.echo(line)


_Group: TypeAlias = "list[tuple[SearchHit, list[ContextEvent]]]"


def _groups(hits: list[SearchHit], near: dict[tuple[str, int], list[ContextEvent]]) -> list[_Group]:
    """Hits with their context, those of one session whose windows touch in one group.

    As grep -C: an event is printed once even when it is near two hits (or is a hit
    in one field and context for another), and "--" only separates what is apart.
    """
    groups: list[_Group] = []
    end = -1  # the last seq the current group shows
    for hit in hits:
        around = near.get((hit.session_id, hit.seq), [])
        first = min([hit.seq, *(ev.seq for ev in around)])
        if groups and groups[-1][0][0].session_id == hit.session_id and first <= end + 1:
            groups[-1].append((hit, around))
        else:
            groups.append([(hit, around)])
            end = -1
        end = max([end, hit.seq, *(ev.seq for ev in around)])
    return groups


def _show_sessions(result: SearchResult, counts: bool, as_json: bool) -> None:
    per: dict[str, int] = {}
    names: dict[str, str] = {}
    for hit in result.hits:
        per[hit.session_id] = per.get(hit.session_id, 0) + 1
        names[hit.session_id] = hit.project_name
    if as_json:
        rows: list[dict[str, Any]] = [
            {"session_id": sid, "project_name": names[sid]} | ({"hits": n} if counts else {})
            for sid, n in per.items()
        ]
        click.echo(_ENC.encode(rows).decode("utf-8"))
        return
    for sid, n in per.items():
        click.echo(f"{sid}:{n}" if counts else sid)


@click.command(
    "search",
    epilog="""\b
Exit status: 0 if something matched, 1 if nothing did (like grep), 2 for a bad
pattern or option. Patterns are Python's re syntax without backreferences and
lookaround (matched by RE2; \\b is ASCII-only): matching time is linear, so no
pattern can hang a search. `p8j index` makes searches of big journals fast.
\b
Examples:
  p8j search 'rate.?limit' -i
  p8j search 'Traceback' --kind execution --since 1d -C 2
  p8j search 'def \\w+' --role assistant -l
  p8j search TODO -c --json | jq '.[] | select(.hits > 3)'
""",
)
@click.argument("pattern")
@click.option("-i", "--ignore-case", is_flag=True, help="Match regardless of case.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="ROLE",
    help="Only messages of this role (repeatable).",
)
@click.option(
    "--kind",
    "kinds",
    type=click.Choice(["message", "command", "execution", "compaction", "record"]),
    multiple=True,
    help="Only this kind of record (repeatable; imported records only with record).",
)
@click.option("--project", metavar="NAME", help="Only sessions of this project (wildcards work).")
@click.option("--since", type=SINCE, default=None, help="Only events since: 2h, 3d, 2026-11-01.")
@click.option(
    "-s",
    "--session",
    "refs",
    type=SESSION_REF,
    multiple=True,
    help="Only this session (repeatable).",
)
@click.option("-n", "--limit", type=count(1), default=None, help="Stop after N hits.")
@click.option(
    "-l", "--sessions-only", "list_sessions", is_flag=True, help="Print only matching session ids."
)
@click.option("-c", "--count", is_flag=True, help="Print each matching session's number of hits.")
@click.option(
    "-C",
    "--context",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Show N events before and after each hit.",
)
@shared_options
def search_cmd(
    pattern: str,
    ignore_case: bool,
    roles: tuple[str, ...],
    kinds: tuple[str, ...],
    project: str | None,
    since: datetime | None,
    refs: tuple[str, ...],
    limit: int | None,
    list_sessions: bool,
    count: bool,
    context: int | None,
    as_json: bool,
) -> None:
    """Search messages, commands and outputs (regex)."""
    if list_sessions and count:
        raise click.UsageError("-l and -c cannot be combined")
    try:
        regex = SearchPattern(pattern, ignore_case)
    except PatternError as exc:
        raise click.BadParameter(exc.message, param_hint="PATTERN") from None
    store = current_store()
    ids = None
    if refs:
        from p8j.journal.housekeeping import resolve_in

        ids = [resolve_in(store, r, archived=True) for r in refs]
    result = search(
        store,
        regex,
        roles=roles or None,
        kinds=kinds or None,
        project=project,
        since=since,
        session_ids=ids,
        limit=limit,
        per_session=1 if list_sessions else None,
    )
    if list_sessions or count:
        _show_sessions(result, count, as_json)
    else:
        style = stdout_style()
        paging = result.hits and not as_json
        with paged(color=style.enabled) if paging else contextlib.nullcontext():
            _show_hits(result, context, as_json, style)  # styled for the terminal, not the pipe
    if not result.hits and not as_json and is_terminal():
        click.echo(f"No matches in {result.sessions_searched} session(s).", err=True)
    for issue in result.issues[:5]:
        click.echo(f"p8j: warning: skipped {escape(issue.describe())}", err=True)
    if len(result.issues) > 5:
        click.echo(f"p8j: warning: ... and {len(result.issues) - 5} more bad lines", err=True)
    for error in result.errors:
        click.echo(f"p8j: warning: {escape(error)}", err=True)
    if not result.hits:
        click.get_current_context().exit(1)  # like grep: nothing matched
