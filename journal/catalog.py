"""Session summaries and the derived catalog that makes listing cheap.

Contract:
- `summarize` is a pure fold from events to a `SessionSummary` (id, project,
  status, times, counts, title = first user message, ...).
- The catalog (``<home>/cache/catalog.msgpack``) caches, per session, the
  summary plus the log's inode and the byte offset / seq / lifecycle state it
  covers. Listing stats every log; an unchanged log costs one stat, a grown log
  is read only from the cached offset, a replaced or shrunk one is re-read.
- The catalog is derived: it is written crash-safely (temp file, fsync, rename,
  fsync dir), any unreadable or stale catalog is ignored and rebuilt, and
  deleting it changes nothing but speed. Logs are read with skipping on, so a
  corrupt log still lists; its summary counts the problems met.
"""

from __future__ import annotations

import contextlib
import gc
import os
import secrets
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from .errors import P8jError
from .events import (
    CommandRecorded,
    ExecutionRecorded,
    MessageRecorded,
    MetadataUpdated,
    SessionEnded,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    UnknownEvent,
)
from .home import Home, fsync_dir
from .ids import _ID_RE
from .reader import LogCursor

__all__ = ["CATALOG_VERSION", "SessionSummary", "list_summaries", "summarize", "title_of"]

CATALOG_VERSION = 1
TITLE_MAX = 120


class SessionSummary(msgspec.Struct, kw_only=True):
    """What listing shows about one session, without folding it whole."""

    session_id: str
    project_name: str = ""
    status: str = "active"
    start_time: str | None = None
    end_time: str | None = None
    last_activity: str | None = None
    message_count: int = 0
    command_count: int = 0
    execution_count: int = 0
    title: str = ""
    size_bytes: int = 0
    last_seq: int = -1
    problems: int = 0
    metadata: dict[str, Any] = {}


class _Entry(msgspec.Struct, array_like=True):
    summary: SessionSummary
    inode: int
    offset: int
    line: int
    next_seq: int
    state: str | None


class _Catalog(msgspec.Struct):
    version: int
    entries: dict[str, _Entry]


_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(_Catalog)


def _first_line(text: str) -> str:
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped:
            return stripped[:TITLE_MAX]
    return ""


def title_of(content: Any) -> str:
    """A one-line title from message content (a string or content blocks)."""
    if isinstance(content, str):
        return _first_line(content)
    if isinstance(content, list):
        for block in content:
            if isinstance(block, str):
                title = _first_line(block)
            elif isinstance(block, dict) and block.get("type") in (None, "text", "input_text"):
                text = block.get("text")
                title = _first_line(text) if isinstance(text, str) else ""
            else:
                continue
            if title:
                return title
    return ""


def _step(s: SessionSummary, ev: Any) -> None:
    t = type(ev)
    if t is MessageRecorded:
        s.message_count += 1
        if not s.title and ev.role == "user":
            s.title = title_of(ev.content)
    elif t is CommandRecorded:
        s.command_count += 1
    elif t is ExecutionRecorded:
        s.execution_count += 1
    elif t is SessionStarted:
        s.project_name = ev.project_name
        s.start_time = ev.ts
        s.status = "active"
        s.metadata = dict(ev.metadata)
    elif t is MetadataUpdated:
        s.metadata.update(ev.changes)
    elif t is SessionPaused:
        s.status = "paused"
    elif t is SessionResumed:
        s.status = "active"
    elif t is SessionEnded:
        s.status = "completed"
        s.end_time = ev.ts
    elif t is UnknownEvent:
        pass
    s.last_seq = ev.seq
    s.last_activity = ev.ts


def summarize(events: Iterable[Any], session_id: str) -> SessionSummary:
    """Pure fold of events into a SessionSummary."""
    s = SessionSummary(session_id=session_id)
    for ev in events:
        _step(s, ev)
    return s


def _load(home: Home) -> dict[str, _Entry]:
    try:
        with open(home.cache_dir / "catalog.msgpack", "rb") as f, _gc_paused():
            cat = _DEC.decode(f.read())
    except (OSError, ValueError, RecursionError):
        # ValueError covers msgspec's errors and a UnicodeDecodeError from a damaged string.
        return {}
    return cat.entries if cat.version == CATALOG_VERSION else {}


def _save(home: Home, entries: dict[str, _Entry]) -> None:
    tmp = home.cache_dir / f".catalog.{secrets.token_hex(6)}.tmp"
    try:
        home.cache_dir.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, _ENC.encode(_Catalog(CATALOG_VERSION, entries)))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, home.cache_dir / "catalog.msgpack")
        fsync_dir(home.cache_dir)
    except OSError:
        # The catalog is only a cache: failing to write it costs speed, never data.
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _refresh(home: Home, sid: str, st: os.stat_result, old: _Entry | None) -> _Entry:
    path = home.sessions_dir / f"{sid}.jsonl"
    if old is not None and old.inode == st.st_ino and old.offset <= st.st_size:
        summary = msgspec.structs.replace(old.summary, metadata=dict(old.summary.metadata))
        cursor = LogCursor(
            path,
            session_id=sid,
            skip_corrupt=True,
            offset=old.offset,
            line=old.line,
            next_seq=old.next_seq,
            state=old.state,
            resolve_blobs=False,
        )
    else:
        summary = SessionSummary(session_id=sid)
        # Listing needs no blob payloads (a title is one line): never read them.
        cursor = LogCursor(path, session_id=sid, skip_corrupt=True, resolve_blobs=False)
    try:
        for ev in cursor.read(final=True):
            _step(summary, ev)
    except P8jError:
        summary.problems += 1
    summary.problems += sum(1 for i in cursor.issues if i.kind != "unknown-event")
    if cursor.torn is not None:
        summary.problems += 0  # a torn tail is expected after a crash; shown via status
    summary.size_bytes = st.st_size
    return _Entry(summary, st.st_ino, cursor.offset, cursor.line, cursor.next_seq, cursor.state)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cycle collector while building many objects that hold no cycles.

    Decoding a catalog of 100k entries otherwise triggers collections that rescan
    the growing heap again and again (a third of a large listing's time).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def list_summaries(home: Home, *, use_cache: bool = True) -> list[SessionSummary]:
    """Summaries of every session in `home`, newest first (by start = by id)."""
    with _gc_paused():
        return _list_summaries(home, use_cache)


def _list_summaries(home: Home, use_cache: bool) -> list[SessionSummary]:
    cached = _load(home) if use_cache else {}
    fresh: dict[str, _Entry] = {}
    dirty = not use_cache
    try:
        scan = os.scandir(home.sessions_dir)
    except FileNotFoundError:
        return []
    except OSError as exc:
        from .errors import JournalIOError

        raise JournalIOError(
            f"cannot list sessions: {exc.strerror}", path=home.sessions_dir
        ) from exc
    lookup = cached.get
    with scan:
        for entry in scan:
            name = entry.name
            if not name.endswith(".jsonl"):
                continue
            sid = name[:-6]
            old = lookup(sid)
            # A cached id was validated when it was first listed.
            if old is None and not _ID_RE.fullmatch(sid):
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if (
                old is not None
                and old.inode == st.st_ino
                and old.offset == st.st_size
                and old.summary.size_bytes == st.st_size
            ):
                fresh[sid] = old
                continue
            fresh[sid] = _refresh(home, sid, st, old)
            dirty = True
    if len(fresh) != len(cached):
        dirty = True
    if dirty and use_cache:
        _save(home, fresh)
    return [fresh[k].summary for k in sorted(fresh, reverse=True)]
