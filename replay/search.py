"""Regular-expression search over decoded message content, commands and outputs.

Contract: `search` reads the selected logs (newest session first, each in seq
order) with the verifying reader in skip-and-report mode and matches the pattern
against decoded text, not raw JSON: message content (strings and content blocks:
text, thinking, tool names, tool inputs, tool results; see `content.content_texts`),
commands, and executions (command and output). Each event field with a match
(a message's whole content, a command, an execution's command or its output)
gives one `SearchHit`: where (session, seq, ts), what (kind, role) and a snippet
of the text around the first match, exact (not escaped), with the match's
position inside it and the number of matches in that field. Problems met while
reading are collected in `SearchResult.issues`, never raised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime

import msgspec

from p8j.journal import (
    CommandRecorded,
    ExecutionRecorded,
    Home,
    MessageRecorded,
    P8jError,
    SessionSummary,
)
from p8j.journal.cache.catalog import list_summaries
from p8j.journal.store.fs import LogCursor, ReadIssue

from .bounded import read_bounded, ts_bound
from .content import content_texts

__all__ = ["SearchHit", "SearchResult", "search", "snippet"]

CONTEXT = 60


class SearchHit(msgspec.Struct, frozen=True, kw_only=True):
    """One match: session, seq, time, kind (message/command/execution), role, snippet."""

    session_id: str
    project_name: str
    seq: int
    ts: str
    kind: str
    role: str | None
    field: str
    snippet: str
    match_start: int
    match_end: int
    matches: int


class SearchResult(msgspec.Struct):
    """Hits plus what reading met (corrupt lines skipped, unreadable logs)."""

    hits: list[SearchHit]
    issues: list[ReadIssue]
    errors: list[str]
    sessions_searched: int


def snippet(text: str, start: int, end: int, context: int = CONTEXT) -> tuple[str, int, int]:
    """Cut `text` to `context` characters around ``[start, end)``; return it and the new span."""
    lo = max(0, start - context)
    hi = min(len(text), end + context)
    # Prefer cutting at a line boundary so a snippet starts where a line does.
    nl = text.rfind("\n", lo, start)
    if nl >= 0:
        lo = nl + 1
    nl = text.find("\n", end, hi)
    if nl >= 0:
        hi = nl
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(text) else ""
    cut = prefix + text[lo:hi] + suffix
    return cut, start - lo + len(prefix), end - lo + len(prefix)


def _fields(event: object) -> Iterator[tuple[str, str | None, str, list[str]]]:
    """(kind, role, field, texts) of every searchable field of an event."""
    t = type(event)
    if t is MessageRecorded:
        assert isinstance(event, MessageRecorded)
        yield "message", event.role, "content", content_texts(event.content)
    elif t is CommandRecorded:
        assert isinstance(event, CommandRecorded)
        yield "command", None, "command", [event.command]
    elif t is ExecutionRecorded:
        assert isinstance(event, ExecutionRecorded)
        yield "execution", None, "command", [event.command]
        if event.output:
            yield "execution", None, "output", [event.output]


def _select(
    summaries: Iterable[SessionSummary],
    session_ids: Iterable[str] | None,
    project: str | None,
    bound: str | None,
) -> list[SessionSummary]:
    import fnmatch

    wanted = set(session_ids) if session_ids is not None else None
    out = []
    for s in summaries:
        if wanted is not None and s.session_id not in wanted:
            continue
        if project is not None and not fnmatch.fnmatchcase(s.project_name, project):
            continue
        if bound is not None and (s.last_activity or "") < bound:
            continue
        out.append(s)
    return out


def search(
    home: Home,
    pattern: re.Pattern[str],
    *,
    roles: Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
    project: str | None = None,
    since: datetime | None = None,
    session_ids: Iterable[str] | None = None,
    limit: int | None = None,
) -> SearchResult:
    """Search the selected sessions (see the module docstring); at most `limit` hits."""
    role_set = frozenset(roles) if roles else None
    kind_set = frozenset(kinds) if kinds else None
    if role_set is not None and kind_set is None:
        kind_set = frozenset({"message"})  # a role only ever belongs to a message
    bound = ts_bound(since)
    selected = _select(list_summaries(home), session_ids, project, bound)
    result = SearchResult([], [], [], 0)
    for summary in selected:
        sid = summary.session_id
        result.sessions_searched += 1
        cursor = LogCursor(home.log_path(sid), session_id=sid, skip_corrupt=True)
        try:
            for event in read_bounded(cursor, since=bound):
                for kind, role, field, texts in _fields(event):
                    if kind_set is not None and kind not in kind_set:
                        continue
                    if role_set is not None and role not in role_set:
                        continue
                    found = _first_match(pattern, texts)
                    if found is None:
                        continue
                    text, first, count = found
                    cut, s, e = snippet(text, first.start(), first.end())
                    result.hits.append(
                        SearchHit(
                            session_id=sid,
                            project_name=summary.project_name,
                            seq=event.seq,
                            ts=event.ts,
                            kind=kind,
                            role=role,
                            field=field,
                            snippet=cut,
                            match_start=s,
                            match_end=e,
                            matches=count,
                        )
                    )
                    if limit is not None and len(result.hits) >= limit:
                        result.issues.extend(_problems(cursor))
                        return result
        except P8jError as exc:
            result.errors.append(str(exc))
        result.issues.extend(_problems(cursor))
    return result


def _first_match(
    pattern: re.Pattern[str], texts: list[str]
) -> tuple[str, re.Match[str], int] | None:
    """The text holding the first match, the match, and how many matches all texts hold."""
    first: tuple[str, re.Match[str]] | None = None
    count = 0
    for text in texts:
        for m in pattern.finditer(text):
            if first is None:
                first = (text, m)
            count += 1
    return None if first is None else (first[0], first[1], count)


def _problems(cursor: LogCursor) -> list[ReadIssue]:
    return [i for i in cursor.issues if i.kind != "unknown-event"]
