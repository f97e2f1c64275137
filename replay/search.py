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
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

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
from p8j.journal.cache.search_index import (
    INDEX_FILE,
    IndexedSession,
    index_candidates,
)
from p8j.journal.cache.search_indexer import IndexStats, update_index
from p8j.journal.codec import decode_line
from p8j.journal.fidelity import display_time
from p8j.journal.store.fs import LogCursor, ReadIssue
from p8j.journal.store.fs.blobs import BlobStore

from .bounded import read_bounded, ts_bound
from .listing import archived_summaries
from .search_fields import event_fields
from .search_pattern import SearchPattern
from .search_scan import (
    Test,
    blob_line_may_match,
    candidate_lines,
    decode_candidate,
    lines_at,
    need_test,
)

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
    return update_index(home, event_fields, progress=progress, wait=wait, max_bytes=max_bytes)


def _as_pattern(pattern: SearchPattern | re.Pattern[str] | str, ignore_case: bool) -> SearchPattern:
    if isinstance(pattern, SearchPattern):
        return pattern
    if isinstance(pattern, re.Pattern):
        return SearchPattern(pattern.pattern, ignore_case or bool(pattern.flags & re.IGNORECASE))
    return SearchPattern(pattern, ignore_case)


def search(
    home: Home,
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
    summaries = list_summaries(home)
    if session_ids is not None:  # an archived session is searched when it is named
        session_ids = set(session_ids)
        summaries = summaries + [s for s in archived_summaries(home) if s.session_id in session_ids]
    selected = _select(summaries, session_ids, project, bound)
    run = _Run(home, compiled, roles, kinds, bound, limit, per_session)
    if narrow and compiled.need is not None:
        run.test = need_test(compiled.need, compiled.fold)
        if use_index:
            run.indexed = _indexed(home, compiled, summaries)
            run.inodes = _inodes(home) if run.indexed else {}
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
    # The catalog's sizes say what grew (no stat of every log); a log replaced with
    # the same size is caught per session by `_covers` and read without the index.
    behind = 0
    for s in summaries:
        entry = found.get(s.session_id)
        behind += s.size_bytes - (entry.position.offset if entry is not None else 0)
    if behind and update_search_index(home, wait=False, max_bytes=INDEX_UPDATE_MAX) is not None:
        found = index_candidates(home, pattern.need) or {}
    return found


def _inodes(home: Home) -> dict[str, int]:
    """Each log's inode, from one directory read (no stat)."""
    try:
        with os.scandir(home.sessions_dir) as entries:
            return {e.name[:-6]: e.inode() for e in entries if e.name.endswith(".jsonl")}
    except OSError:
        return {}


class _Fallback(Exception):
    """A candidate line the reader would reject: read this session with the reader."""


class _Run:
    """One search: its filters, what it found, and how it reads each session."""

    def __init__(
        self,
        home: Home,
        pattern: SearchPattern,
        roles: Iterable[str] | None,
        kinds: Iterable[str] | None,
        bound: str | None,
        limit: int | None,
        per_session: int | None,
    ) -> None:
        self.home = home
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
        self._blobs: BlobStore | None = None
        self._sessions = str(home.sessions_dir)
        self.inodes: dict[str, int] = {}  # session id -> its log's inode (directory entries)

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
        if self.test is not None and summary.problems == 0:
            hits: list[SearchHit] = []
            issues: list[ReadIssue] = []
            try:
                self._collect(self._candidates(summary, issues), summary, hits, room)
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
        sid = summary.session_id
        cursor = LogCursor(self.home.log_path(sid), session_id=sid, skip_corrupt=True)
        try:
            self._collect(read_bounded(cursor, since=self.bound), summary, self.result.hits, room)
        except P8jError as exc:
            self.result.errors.append(str(exc))
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
        self, summary: SessionSummary, issues: list[ReadIssue]
    ) -> Iterator[AnyEvent | UnknownEvent]:
        """The events of the lines that may match: from the index, then from the raw bytes."""
        sid = summary.session_id
        entry = self.indexed.get(sid)
        offset = 0
        # A plain string for the lstat: building a checked Path per session costs more
        # than the lstat itself when thousands of indexed sessions have nothing to read
        # (the id is the catalog's, already checked).
        size = None
        if entry is not None:
            if (
                summary.status == "completed"
                and self.inodes.get(sid) == entry.position.inode
                and summary.size_bytes >= entry.position.offset
            ):
                # Like listing (catalog.py): a completed log never grows and p8j rewrites
                # one only as a new file, so its directory entry's inode vouches for it.
                size = summary.size_bytes
            else:
                size = _covers(f"{self._sessions}/{sid}.jsonl", entry)
        if entry is not None and size is not None:
            self.result.indexed_sessions += 1
            fresh = size == entry.position.offset
            if fresh and not entry.lines and not entry.blob_lines:
                return  # nothing may match, nothing was appended since the update
            yield from self._indexed_lines(self.home.log_path(sid), entry, issues)
            if fresh:
                return
            offset = entry.position.offset
        test = self.test
        assert test is not None
        for off, ln in candidate_lines(self.home.log_path(sid), test, offset=offset):
            if not test(ln, 0, len(ln)) and not self._blob_line_may_match(ln, sid, off):
                continue  # it is a candidate for its blobs only, and they do not match
            yield from self._decode(ln, sid, off, None, issues)

    def _indexed_lines(
        self, path: Path, entry: IndexedSession, issues: list[ReadIssue]
    ) -> Iterator[AnyEvent | UnknownEvent]:
        """The events of the lines the index names (up to the offset it covers)."""
        sid = entry.session_id
        blob_only = set(entry.blob_lines)
        places = sorted([*entry.lines, *entry.blob_lines]) if blob_only else entry.lines
        for off, ln in lines_at(path, places):
            if (off, len(ln)) in blob_only and self._blobs_intact(ln, sid, off):
                continue  # its text, blobs included, was indexed and does not match
            yield from self._decode(ln, sid, off, None, issues)

    def _blob_line_may_match(self, ln: bytes, sid: str, off: int) -> bool:
        if self._blobs is None:
            self._blobs = BlobStore(self.home.blobs_dir)
        assert self.test is not None
        path = self.home.log_path(sid)
        try:
            event = decode_candidate(
                ln, path=path, session_id=sid, offset=off, line=None, blobs=None, issues=[]
            )
        except CorruptLineError as exc:
            raise _Fallback from exc
        texts = [t for _, _, _, parts in event_fields(event) for t in parts]
        return blob_line_may_match(event, ln, self.test, texts, self._blobs)

    def _blobs_intact(self, ln: bytes, sid: str, off: int) -> bool:
        """True if every blob the line refers to is there with its size (no hash check)."""
        if self._blobs is None:
            self._blobs = BlobStore(self.home.blobs_dir)
        try:
            event = decode_line(ln)
        except CorruptLineError as exc:
            raise _Fallback from exc
        for ref in getattr(event, "blobs", ()):
            try:
                st = os.lstat(self._blobs.path(ref.sha256))
            except (OSError, P8jError):
                return False
            if not stat.S_ISREG(st.st_mode) or st.st_size != ref.size:
                return False
        return True

    def _decode(
        self, ln: bytes, sid: str, off: int, line: int | None, issues: list[ReadIssue]
    ) -> Iterator[AnyEvent | UnknownEvent]:
        if self._blobs is None:
            self._blobs = BlobStore(self.home.blobs_dir)
        try:
            event = decode_candidate(
                ln,
                path=self.home.log_path(sid),
                session_id=sid,
                offset=off,
                line=line,
                blobs=self._blobs,
                issues=issues,
            )
        except CorruptLineError as exc:
            raise _Fallback from exc
        if self.bound is None or display_time(event) >= self.bound:
            yield event


def _covers(path: Any, entry: IndexedSession) -> int | None:
    """The log's size if it is still the one indexed (same inode, not shorter), else None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if st.st_ino == entry.position.inode and st.st_size >= entry.position.offset:
        return st.st_size
    return None


def _problems(cursor: LogCursor) -> list[ReadIssue]:
    return [i for i in cursor.issues if i.kind != "unknown-event"]
