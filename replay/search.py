"""Regular-expression search over decoded message content, commands and outputs.

Contract: `search` reads the selected logs (newest session first, each in seq
order) with the verifying reader in skip-and-report mode and matches the pattern
(RE2, see search_pattern.py) against decoded text, not raw JSON: message
content (strings and content blocks: text, thinking, tool names, tool inputs,
tool results; see `content.content_texts`), commands (and a tool call's tool
and input), executions (command, output, stderr, result) and compactions
(summary, replacement history); imported records (kind ``record``) only when
`kinds` names them. Each event field with a match (a message's whole content, a
command, an execution's command or its output) gives one `SearchHit`: where
(session, seq, ts), what (kind, role) and a snippet of the text around the
first match, exact (not escaped), with the match's position inside it and the
number of matches in that field. Problems met while reading are collected in
`SearchResult.issues`, never raised.

Only which lines get decoded depends on how a session is read; the hits, their
order and snippets never do. When the pattern needs literal pieces (see
`SearchPattern.need`) and the catalog saw no problem in the session's log,
search decodes only the lines that may match: those the full-text index
(journal/cache/search_index.py) names for the part of the log it covers, and
those whose raw bytes hold the pieces for the rest (search_scan.py). A line the
reader would reject sends that session back to the verifying reader. Lines that
refer to blobs are always decoded and their blobs read and checked (values that
cannot matter are not decoded: search_scan.py), except where the index says
their text (blobs included) does not match: there only the blobs' presence and
size are checked (a missing one is read like the reader does), so a blob
damaged in place (same size, other bytes) is not reported as a `bad-blob` issue
there, as the plain scan and `p8j verify` report it. With
``use_index`` and an existing index, search first brings the index up to date
when the catalog's sizes say logs grew, that means reading at most
`INDEX_UPDATE_MAX` bytes, and no other process is updating it. An indexed
session is used only while its log is the one indexed: the same inode (for a
completed session, as listing does, the directory entry's; else an lstat) and
not shorter than the indexed offset.

Sessions are read through the store seam (`home`: a `SessionStore`; a `Home`
or a path means its file store). The narrowing above (raw line scans, the
index in the home's cache) is the file store's fast path (`HomeStore`); any
other store is searched by the verifying reader alone, with the same hits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec

from p8j.journal import (
    AnyEvent,
    CorruptLineError,
    Home,
    P8jError,
    SessionSummary,
    UnknownEvent,
)
from p8j.journal.cache.catalog import list_summaries
from p8j.journal.cache.search_index import INDEX_FILE, IndexedSession, index_candidates
from p8j.journal.codec import decode_line
from p8j.journal.fidelity import display_time
from p8j.journal.store.base import (
    HomeStore,
    ReadIssue,
    SessionStore,
    StoreCursor,
    StoreEntry,
    is_home_store,
)
from p8j.journal.store.select import as_store

from .bounded import read_bounded, ts_bound
from .search_fields import event_fields
from .search_pattern import SearchPattern
from .search_scan import Test, blob_line_may_match, decode_candidate, need_test

# Loaded where they are needed: the indexer (sqlite3) to update an index, listing to add
# archived sessions someone names; the unindexed scan of `p8j search` needs neither.
if TYPE_CHECKING:
    from p8j.journal.cache.search_indexer import IndexStats

    from .listing import Where

__all__ = [
    "INDEX_UPDATE_MAX",
    "SearchHit",
    "SearchResult",
    "event_fields",
    "search",
    "snippet",
    "update_search_index",
]

CONTEXT = 60
INDEX_UPDATE_MAX = 64 << 20


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
    indexed_sessions: int = 0  # sessions whose lines the index narrowed


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


def update_search_index(
    home: Home,
    *,
    progress: Callable[[int, int], None] | None = None,
    wait: bool = True,
    max_bytes: int | None = None,
) -> IndexStats | None:
    """Build or update the full-text index with exactly the fields search looks at."""
    from p8j.journal.cache.search_indexer import update_index

    return update_index(home, event_fields, progress=progress, wait=wait, max_bytes=max_bytes)


def _as_pattern(pattern: SearchPattern | re.Pattern[str] | str, ignore_case: bool) -> SearchPattern:
    if isinstance(pattern, SearchPattern):
        return pattern
    if isinstance(pattern, re.Pattern):
        return SearchPattern(pattern.pattern, ignore_case or bool(pattern.flags & re.IGNORECASE))
    return SearchPattern(pattern, ignore_case)


def search(
    home: Where,
    pattern: SearchPattern | re.Pattern[str] | str,
    *,
    ignore_case: bool = False,
    roles: Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
    project: str | None = None,
    since: datetime | None = None,
    session_ids: Iterable[str] | None = None,
    limit: int | None = None,
    per_session: int | None = None,
    use_index: bool = True,
    narrow: bool = True,
) -> SearchResult:
    """Search the selected sessions (see the module docstring); at most `limit` hits.

    `per_session` caps the hits taken from one session (1 lists matching sessions
    cheaply); `narrow=False` decodes every line (the plain scan, for comparison).
    """
    compiled = _as_pattern(pattern, ignore_case)
    bound = ts_bound(since)
    store = as_store(home)
    summaries = list_summaries(store)
    if session_ids is not None:  # an archived session is searched when it is named
        from .listing import archived_summaries

        session_ids = set(session_ids)
        summaries = summaries + [
            s for s in archived_summaries(store) if s.session_id in session_ids
        ]
    selected = _select(summaries, session_ids, project, bound)
    run = _Run(store, compiled, roles, kinds, bound, limit, per_session)
    if narrow and compiled.need is not None and is_home_store(store):
        run.test = need_test(compiled.need, compiled.fold)
        if use_index:
            run.indexed = _indexed(store.home, compiled, summaries)
            run.entries = _entries(store) if run.indexed else {}
    for summary in selected:
        run.result.sessions_searched += 1
        if not run.session(summary):
            break
    return run.result


def _indexed(
    home: Home, pattern: SearchPattern, summaries: list[SessionSummary]
) -> dict[str, IndexedSession]:
    """The index's candidates, after bringing it up to date if the logs grew a little."""
    if not (home.cache_dir / INDEX_FILE).exists():
        return {}
    found = index_candidates(home, pattern.need) or {}
    # The catalog's sizes say what grew (no stat of every log): on the file store (the
    # only one indexed) a log's size is its head offset, as the index's. A log replaced with
    # the same size is caught per session by `_covers` and read without the index.
    behind = 0
    for s in summaries:
        entry = found.get(s.session_id)
        behind += s.size_bytes - (entry.position.offset if entry is not None else 0)
    if behind and update_search_index(home, wait=False, max_bytes=INDEX_UPDATE_MAX) is not None:
        found = index_candidates(home, pattern.need) or {}
    return found


def _entries(store: SessionStore) -> dict[str, StoreEntry]:
    """Each log's entry: its epoch (the file store: its inode) from one directory read."""
    try:
        return {e.session_id: e for e in store.entries()}
    except P8jError:
        return {}


class _Fallback(Exception):
    """A candidate line the reader would reject: read this session with the reader."""


class _Run:
    """One search: its filters, what it found, and how it reads each session."""

    def __init__(
        self,
        store: SessionStore,
        pattern: SearchPattern,
        roles: Iterable[str] | None,
        kinds: Iterable[str] | None,
        bound: str | None,
        limit: int | None,
        per_session: int | None,
    ) -> None:
        self.store = store
        self.pattern = pattern
        self.roles = frozenset(roles) if roles else None
        self.kinds = frozenset(kinds) if kinds else None
        if self.roles is not None and self.kinds is None:
            self.kinds = frozenset({"message"})  # a role only ever belongs to a message
        self.bound = bound
        self.limit = limit
        self.per_session = per_session
        self.test: Test | None = None  # the raw-bytes test when lines can be narrowed
        self.indexed: dict[str, IndexedSession] = {}
        self.result = SearchResult([], [], [], 0)
        self.entries: dict[str, StoreEntry] = {}  # session id -> its log's entry (epoch)
        self.intact: set[tuple[str, int]] = set()  # blobs found intact (sha256, size)

    def room(self) -> int | None:
        """How many more hits the next session may add (None: no cap)."""
        caps = []
        if self.limit is not None:
            caps.append(self.limit - len(self.result.hits))
        if self.per_session is not None:
            caps.append(self.per_session)
        return min(caps) if caps else None

    def session(self, summary: SessionSummary) -> bool:
        """Search one session; False once the limit is reached."""
        room = self.room()
        store = self.store
        if self.test is not None and summary.problems == 0 and is_home_store(store):
            hits: list[SearchHit] = []
            issues: list[ReadIssue] = []
            try:
                self._collect(self._candidates(store, summary, issues), summary, hits, room)
            except _Fallback:
                pass
            except P8jError as exc:
                self.result.errors.append(str(exc))
                return True
            else:
                self.result.hits.extend(hits)
                self.result.issues.extend(issues)
                return not self._full()
        return self._scan(summary, room)

    def _full(self) -> bool:
        return self.limit is not None and len(self.result.hits) >= self.limit

    def _scan(self, summary: SessionSummary, room: int | None) -> bool:
        cursor = None
        try:
            cursor = open_reader(self.store, summary.session_id)
            self._collect(read_bounded(cursor, since=self.bound), summary, self.result.hits, room)
        except P8jError as exc:
            self.result.errors.append(str(exc))
        if cursor is not None:
            self.result.issues.extend(_problems(cursor))
        return not self._full()

    def _collect(
        self,
        events: Iterator[AnyEvent | UnknownEvent],
        summary: SessionSummary,
        hits: list[SearchHit],
        room: int | None,
    ) -> None:
        taken = 0
        for event in events:
            for hit in self._hits(event, summary):
                hits.append(hit)
                taken += 1
                if room is not None and taken >= room:
                    return

    def _hits(self, event: AnyEvent | UnknownEvent, summary: SessionSummary) -> list[SearchHit]:
        out = []
        for kind, role, field, texts in event_fields(event):
            if self.kinds is None and kind == "record":
                continue  # imported records only when asked for
            if self.kinds is not None and kind not in self.kinds:
                continue
            if self.roles is not None and role not in self.roles:
                continue
            found = self.pattern.first_and_count(texts)
            if found is None:
                continue
            text, start, end, count = found
            cut, s, e = snippet(text, start, end)
            out.append(
                SearchHit(
                    session_id=summary.session_id,
                    project_name=summary.project_name,
                    seq=event.seq,
                    ts=display_time(event),
                    kind=kind,
                    role=role,
                    field=field,
                    snippet=cut,
                    match_start=s,
                    match_end=e,
                    matches=count,
                )
            )
        return out

    def _candidates(
        self, store: HomeStore, summary: SessionSummary, issues: list[ReadIssue]
    ) -> Iterator[AnyEvent | UnknownEvent]:
        """The events of the lines that may match: from the index, then from the raw bytes."""
        sid = summary.session_id
        entry = self.indexed.get(sid)
        offset = 0
        size = None
        if entry is not None:
            log = self.entries.get(sid)
            if (
                summary.status == "completed"
                and log is not None
                and log.epoch == entry.position.epoch
                and summary.size_bytes >= entry.position.offset
            ):
                # Like listing (catalog.py): a completed log never grows and p8j rewrites
                # one only as a new incarnation, so its entry's epoch vouches for it.
                size = summary.size_bytes
            else:
                size = _covers(log, entry)
        if entry is not None and size is not None:
            self.result.indexed_sessions += 1
            fresh = size == entry.position.offset
            if fresh and not entry.lines and not entry.blob_lines:
                return  # nothing may match, nothing was appended since the update
            yield from self._indexed_lines(store, entry, issues)
            if fresh:
                return
            offset = entry.position.offset
        test = self.test
        assert test is not None
        for off, ln in store.scan_lines(sid, test, offset=offset):
            if not test(ln, 0, len(ln)) and not self._blob_line_may_match(store, ln, sid, off):
                continue  # it is a candidate for its blobs only, and they do not match
            yield from self._decode(store, ln, sid, off, None, issues)

    def _indexed_lines(
        self, store: HomeStore, entry: IndexedSession, issues: list[ReadIssue]
    ) -> Iterator[AnyEvent | UnknownEvent]:
        """The events of the lines the index names (up to the offset it covers)."""
        sid = entry.session_id
        blob_only = set(entry.blob_lines)
        places = sorted([*entry.lines, *entry.blob_lines]) if blob_only else entry.lines
        for off, ln in store.lines_at(sid, places):
            if (off, len(ln)) in blob_only and self._blobs_intact(store, ln):
                continue  # its text, blobs included, was indexed and does not match
            yield from self._decode(store, ln, sid, off, None, issues)

    def _blob_line_may_match(self, store: HomeStore, ln: bytes, sid: str, off: int) -> bool:
        assert self.test is not None
        path = store.home.log_path(sid)
        try:
            event = decode_candidate(
                ln, path=path, session_id=sid, offset=off, line=None, blobs=None, issues=[]
            )
        except CorruptLineError as exc:
            raise _Fallback from exc
        texts = [t for _, _, _, parts in event_fields(event) for t in parts]
        return blob_line_may_match(event, ln, self.test, texts, store.blobs, self.intact)

    def _blobs_intact(self, store: HomeStore, ln: bytes) -> bool:
        """True if every blob the line refers to is there with its size (no hash check)."""
        try:
            event = decode_line(ln)
        except CorruptLineError as exc:
            raise _Fallback from exc
        return all(store.blob_intact(ref.sha256, ref.size) for ref in getattr(event, "blobs", ()))

    def _decode(
        self,
        store: HomeStore,
        ln: bytes,
        sid: str,
        off: int,
        line: int | None,
        issues: list[ReadIssue],
    ) -> Iterator[AnyEvent | UnknownEvent]:
        try:
            event = decode_candidate(
                ln,
                path=store.home.log_path(sid),
                session_id=sid,
                offset=off,
                line=line,
                blobs=store.blobs,
                issues=issues,
            )
        except CorruptLineError as exc:
            raise _Fallback from exc
        if self.bound is None or display_time(event) >= self.bound:
            yield event


def _covers(log: StoreEntry | None, entry: IndexedSession) -> int | None:
    """The log's head offset if it is still the one indexed (same epoch, not shorter)."""
    head = log.head() if log is not None else None
    if (
        head is not None
        and head.epoch == entry.position.epoch
        and head.offset >= entry.position.offset
    ):
        return head.offset
    return None


def open_reader(store: SessionStore, sid: str) -> StoreCursor:
    """The verifying reader of `sid` (skipping bad lines): its log's, or its archive's."""
    try:
        return store.open_cursor(sid, skip_corrupt=True)
    except P8jError:
        if is_home_store(store) and store.is_archived(sid):
            return store.open_archived(sid, skip_corrupt=True)
        raise


def _problems(cursor: StoreCursor) -> list[ReadIssue]:
    return [i for i in cursor.issues if i.kind != "unknown-event"]
