"""Full-text search index: a derived SQLite FTS5 (trigram) cache of the text search looks at.

Contract:
- ``<home>/cache/search.sqlite`` (WAL mode, with its ``-wal``/``-shm`` files)
  holds, per indexed session, the log position it covers (`IndexPosition`:
  inode, byte offset, line, next seq, lifecycle state) and whether that prefix
  read clean; per searchable field of each event (the caller's `FieldFn`
  says which: search passes the very function its scan uses) a row with the
  session, seq, the event's line (byte offset, length), kind, role, field and
  whether the line refers to blobs; and a contentless FTS5 table (trigram
  tokenizer, case folded, ``detail=none``) over the field's text. The text
  itself is not stored: it is in the log, and search re-reads the candidate
  lines to produce its hits, so results never depend on the index beyond
  which lines are read.
- `update_index` (search_indexer.py) reads only what was appended since the
  last update (the position is where a `LogCursor` resumes). Each session is
  updated in one transaction (``BEGIN IMMEDIATE``): a crash leaves it as it was
  before, never half-indexed and recorded as done. Concurrent updaters take
  turns on the write lock (busy timeout); readers see the last committed state
  (WAL). A session whose read met a problem (corrupt line, seq gap, missing
  blob) is recorded as not clean and gets no rows: search reads it in full, as
  it would without an index. A log that was deleted or rewritten (a new inode:
  `p8j redact`) makes the update rebuild the whole index: a contentless FTS
  table cannot forget a text it no longer has, and text that left the journal
  must not stay behind in its postings. A log cut shorter in place (a torn
  tail moved aside) is re-read; its old rows are unlinked, their postings (of
  text still in the log, or torn bytes) left until a rebuild, which happens
  once they outnumber the live rows.
- `index_candidates` turns a `Need` (pieces every match contains, with and/or)
  into an FTS5 query of trigrams and returns, per clean session, the lines
  that may match, the other lines that refer to blobs, and the position the
  index covers; the caller reads the rest of the log itself. A need with no piece of
  3 or more characters gives None (no narrowing).
- Safety like every cache: the database and its side files must be regular
  files owned by us (never a symlink); an unsafe, corrupt (any
  `sqlite3.DatabaseError`) or other-version database is ignored by readers and
  deleted and rebuilt by `update_index`. Deleting the cache changes nothing but
  speed.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import msgspec

from ..ids import is_session_id
from ..store.fs.cursor import LogCursor
from ..store.fs.layout import Home
from ..timefmt import format_ts

# sqlite3 loads where an index is opened: search imports this module for its names,
# and a journal without an index (the unindexed scan) never needs it.
if TYPE_CHECKING:
    import sqlite3

__all__ = [
    "INDEX_FILE",
    "INDEX_VERSION",
    "FieldFn",
    "IndexPosition",
    "IndexStatus",
    "IndexedSession",
    "Need",
    "drop_index",
    "fts_query",
    "index_bytes",
    "index_candidates",
    "index_status",
    "open_index",
    "position_of",
    "resume_cursor",
    "session_logs",
]

INDEX_FILE = "search.sqlite"
INDEX_VERSION = 2  # 2: tool inputs, stderr, results, compactions, imported records
_SIDE_FILES = ("-wal", "-shm")
_BUSY_MS = 10_000

# What every match contains: a piece of text, or an "and"/"or" of needs.
Need: TypeAlias = "str | tuple[str, tuple[Need, ...]]"
# (kind, role, field, texts) of each searchable field of an event.
FieldFn = Callable[[Any], Iterable[tuple[str, "str | None", str, list[str]]]]

_SCHEMA = """
CREATE TABLE sessions(
    id INTEGER PRIMARY KEY, sid TEXT NOT NULL UNIQUE, inode INTEGER NOT NULL,
    offset INTEGER NOT NULL, line INTEGER NOT NULL, next_seq INTEGER NOT NULL,
    state TEXT, clean INTEGER NOT NULL, updated REAL NOT NULL);
CREATE TABLE rows(
    id INTEGER PRIMARY KEY, sess INTEGER NOT NULL, seq INTEGER NOT NULL,
    off INTEGER NOT NULL, len INTEGER NOT NULL, kind TEXT NOT NULL, role TEXT,
    field TEXT NOT NULL, blob INTEGER NOT NULL);
CREATE INDEX rows_sess ON rows(sess);
CREATE INDEX rows_blob ON rows(sess) WHERE blob = 1;
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE VIRTUAL TABLE fts USING fts5(text, tokenize='trigram', detail=none, content='');
"""


class IndexPosition(msgspec.Struct, frozen=True):
    """How far a session's log is indexed: the store Position (epoch, offset) and reader state."""

    epoch: int  # with `offset`: the file store's Position (the log's inode, bytes)
    offset: int
    line: int
    next_seq: int
    state: str | None


def position_of(cursor: LogCursor, epoch: int) -> IndexPosition:
    # The one place that says what a position is (the column is named `inode`: the
    # index is the file store's cache, and its epochs are inodes).
    return IndexPosition(epoch, cursor.offset, cursor.line, cursor.next_seq, cursor.state)


def resume_cursor(path: Path, session_id: str, at: IndexPosition | None) -> LogCursor:
    """A skipping reader of `path` that starts where `at` says (the start if None)."""
    if at is None:
        return LogCursor(path, session_id=session_id, skip_corrupt=True)
    return LogCursor(
        path,
        session_id=session_id,
        skip_corrupt=True,
        offset=at.offset,
        line=at.line,
        next_seq=at.next_seq,
        state=at.state,
    )


class IndexedSession(msgspec.Struct):
    """A clean session in the index: lines that may match, and how far the index covers."""

    session_id: str
    position: IndexPosition
    lines: list[tuple[int, int]]  # (offset, length), in log order, no duplicates
    # Lines that refer to blobs and do not match: their text matches only if a blob
    # went missing since (then the reader searches its placeholder instead).
    blob_lines: list[tuple[int, int]] = []


class IndexStatus(msgspec.Struct, kw_only=True):
    """Size and freshness of the index (for `p8j info`)."""

    exists: bool
    index_bytes: int
    sessions: int
    indexed_sessions: int
    stale_sessions: int
    behind_bytes: int
    updated: str | None  # RFC 3339 UTC: the last update that read a log


def _path(home: Home) -> Path:
    return home.cache_dir / INDEX_FILE


def _ours(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid()


def _files(home: Home) -> list[Path]:
    base = _path(home)
    return [base, *(base.with_name(base.name + s) for s in _SIDE_FILES)]


def drop_index(home: Home) -> None:
    """Delete the index (best effort; it is only a cache)."""
    for path in _files(home):
        with contextlib.suppress(FileNotFoundError, OSError):
            path.unlink()


def _safe_files(home: Home) -> bool | None:
    """True if the index files are safe, False if not, None if there is no index."""
    try:
        dst = os.lstat(home.cache_dir)
    except OSError:
        return None
    if not stat.S_ISDIR(dst.st_mode) or dst.st_uid != os.getuid():
        return False
    found = False
    for path in _files(home):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError:
            return False
        if not _ours(st):
            return False
        found = found or path == _path(home)
    return True if found else None


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # a cache: losing the last commits costs speed


def open_index(home: Home, *, create: bool, fresh: bool = False) -> sqlite3.Connection | None:
    """The index, checked (see the module docstring); None if it cannot be used.

    With `create`, a missing, corrupt or other-version index is (re)built; `fresh`
    marks the one retry after deleting a bad one.
    """
    if not _cache_dir_ok(home, create):
        return None
    safe = _safe_files(home)
    if safe is False and not create:
        return None
    if safe is not True:
        if not create:
            return None
        if safe is False:
            drop_index(home)  # unlinks a symlink itself, never what it points to
        try:  # created here, exclusively and never through a symlink, with our mode
            os.close(os.open(_path(home), os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        except FileExistsError:
            pass  # another updater created it just now
        except OSError:
            return None
    import sqlite3

    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(str(_path(home)), timeout=_BUSY_MS / 1000, isolation_level=None)
        _configure(conn)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0 and create:
            version = _create_schema(conn)
        if version != INDEX_VERSION:
            raise sqlite3.DatabaseError(f"index version {version}, not {INDEX_VERSION}")
        return conn
    except sqlite3.OperationalError:
        if conn is not None:
            conn.close()
        return None  # busy, locked, read-only, full: not a reason to delete anything
    except sqlite3.DatabaseError:
        if conn is not None:
            conn.close()
        if not create or fresh:
            return None
        drop_index(home)  # corrupt or another version: build a new one
        return open_index(home, create=True, fresh=True)


def _create_schema(conn: sqlite3.Connection) -> int:
    """Create the tables unless another process just did; return the version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {INDEX_VERSION}")
            version = INDEX_VERSION
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return version


def _cache_dir_ok(home: Home, create: bool) -> bool:
    """True if the cache directory is a real directory of ours (made if `create`)."""
    if create:
        with contextlib.suppress(OSError):
            home.cache_dir.mkdir(mode=0o700, exist_ok=True)
    try:
        st = os.lstat(home.cache_dir)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid()


def session_logs(home: Home) -> dict[str, os.stat_result]:
    """Every session log (regular file, valid id) with its stat."""
    out: dict[str, os.stat_result] = {}
    try:
        scan = os.scandir(home.sessions_dir)
    except OSError:
        return out
    with scan:
        for entry in scan:
            sid = entry.name[:-6]
            if not entry.name.endswith(".jsonl") or not is_session_id(sid):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                out[sid] = st
    return out


def _trigrams(piece: str) -> str | None:
    if len(piece) < 3:
        return None
    grams = dict.fromkeys(piece[i : i + 3] for i in range(len(piece) - 2))
    return " AND ".join('"' + g.replace('"', '""') + '"' for g in grams)


def fts_query(need: Need) -> str | None:
    """The FTS5 query (trigrams, and/or) for `need`; None if it narrows nothing."""
    if isinstance(need, str):
        return _trigrams(need)
    op, parts = need
    queries = [fts_query(p) for p in parts]
    if op == "or":
        if any(q is None for q in queries):
            return None
        return " OR ".join(f"({q})" for q in queries)
    kept = [f"({q})" for q in queries if q is not None]
    return " AND ".join(kept) if kept else None


def index_candidates(home: Home, need: Need | None) -> dict[str, IndexedSession] | None:
    """Per clean indexed session, the lines that may hold a match of `need` (module docstring)."""
    query = fts_query(need) if need is not None else None
    if query is None or _safe_files(home) is not True:
        return None
    import sqlite3

    conn = open_index(home, create=False)
    if conn is None:
        return None
    try:
        with contextlib.closing(conn):
            return _candidates(conn, query)
    except sqlite3.DatabaseError:
        return None


def _candidates(conn: sqlite3.Connection, query: str) -> dict[str, IndexedSession]:
    conn.execute("BEGIN")  # one snapshot for both queries
    out: dict[str, IndexedSession] = {}
    by_key: dict[int, IndexedSession] = {}
    for key, sid, inode, offset, line, next_seq, state in conn.execute(
        "SELECT id, sid, inode, offset, line, next_seq, state FROM sessions WHERE clean = 1"
    ):
        entry = IndexedSession(sid, IndexPosition(inode, offset, line, next_seq, state), [])
        out[sid] = by_key[key] = entry
    found = conn.execute(
        "SELECT r.sess, r.off, r.len FROM fts JOIN rows r ON r.id = fts.rowid WHERE fts MATCH ?",
        (query,),
    ).fetchall()
    blobs = conn.execute("SELECT sess, off, len FROM rows WHERE blob = 1").fetchall()
    conn.execute("COMMIT")
    for key, off, length in found:
        hit = by_key.get(key)
        if hit is not None:
            hit.lines.append((off, length))
    for key, off, length in blobs:
        hit = by_key.get(key)
        if hit is not None:
            hit.blob_lines.append((off, length))
    for entry in out.values():
        if entry.lines:
            entry.lines = sorted(set(entry.lines))
        if entry.blob_lines:
            entry.blob_lines = sorted(set(entry.blob_lines) - set(entry.lines))
    return out


def index_bytes(home: Home) -> int:
    total = 0
    for path in _files(home):
        with contextlib.suppress(OSError):
            total += os.lstat(path).st_size
    return total


def index_status(home: Home) -> IndexStatus:
    """How big the index is and how much of the logs it covers (never writes)."""
    logs = session_logs(home)
    status = IndexStatus(
        exists=False,
        index_bytes=0,
        sessions=len(logs),
        indexed_sessions=0,
        stale_sessions=len(logs),
        behind_bytes=sum(st.st_size for st in logs.values()),
        updated=None,
    )
    conn = open_index(home, create=False) if _safe_files(home) is True else None
    if conn is None:
        return status
    import sqlite3

    try:
        with contextlib.closing(conn):
            known = conn.execute("SELECT sid, inode, offset, updated FROM sessions").fetchall()
    except sqlite3.DatabaseError:
        return status
    status.exists = True
    status.index_bytes = index_bytes(home)
    behind = 0
    indexed = 0
    newest = 0.0
    for sid, inode, offset, updated in known:
        st = logs.get(sid)
        if st is None:
            continue
        indexed += 1
        if inode == st.st_ino and offset <= st.st_size:
            behind += st.st_size - offset
        else:
            behind += st.st_size
        newest = max(newest, updated)
    unindexed = {sid for sid in logs} - {row[0] for row in known}
    behind += sum(logs[sid].st_size for sid in unindexed)
    status.indexed_sessions = indexed
    if newest:
        status.updated = format_ts(datetime.fromtimestamp(newest, timezone.utc))
    status.behind_bytes = behind
    status.stale_sessions = sum(
        1
        for sid, inode, offset, _ in known
        if sid in logs and (inode != logs[sid].st_ino or offset != logs[sid].st_size)
    ) + len(unindexed)
    return status
