"""Updating the search index from the logs (the format and contract: search_index.py).

Contract: `update_index` reads, per session, only what was appended since the
last update, each session in one ``BEGIN IMMEDIATE`` transaction (a crash
leaves the session as it was before: never half-indexed and recorded as done),
re-reads a log shorter than its indexed offset, and rebuilds the whole index
when a log was deleted or rewritten (new inode) or once unlinked rows outnumber
the live ones. A corrupt database is deleted and rebuilt once.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from ..errors import P8jError
from ..store.fs.cursor import LogCursor
from ..store.fs.layout import Home
from .search_index import (
    FieldFn,
    IndexPosition,
    drop_index,
    index_bytes,
    open_index,
    position_of,
    resume_cursor,
    session_logs,
)

__all__ = ["IndexStats", "update_index"]

_BATCH = 2000
# In every line that refers to blobs (see cursor.py): such lines are always candidates.
_BLOB_MARK = b',"blobs":[{"path":['


class IndexStats(msgspec.Struct, kw_only=True):
    """What `update_index` did."""

    sessions: int
    updated_sessions: int
    dropped_sessions: int
    events: int
    rows: int
    bytes_read: int
    seconds: float
    index_bytes: int
    log_bytes: int
    rebuilt: bool


def update_index(
    home: Home,
    fields: FieldFn,
    *,
    progress: Callable[[int, int], None] | None = None,
    wait: bool = True,
    max_bytes: int | None = None,
) -> IndexStats | None:
    """Bring the index up to date with the logs (see the module docstring).

    Returns None if the index cannot be used (unsafe place, unwritable), when
    `wait` is false and another process is updating it, or when more than
    `max_bytes` of log would have to be read.
    """
    start = time.monotonic()
    dropped = 0
    for attempt in (0, 1):
        conn = open_index(home, create=True)
        if conn is None:
            return None
        try:
            with contextlib.closing(conn):
                if not wait:
                    conn.execute("PRAGMA busy_timeout = 0")
                stats = _update(conn, home, fields, progress, max_bytes)
        except sqlite3.OperationalError as exc:
            if "no such" not in str(exc):
                return None  # busy, locked, read-only, full: try again another time
            drop_index(home)  # a table or column is missing: not our schema, start over
            continue
        except sqlite3.DatabaseError:
            drop_index(home)  # corrupt: start over once
            continue
        if stats is None:
            return None
        if stats.rebuilt and attempt == 0:
            dropped = stats.dropped_sessions
            drop_index(home)
            continue
        stats.rebuilt = attempt > 0
        stats.dropped_sessions = dropped
        stats.seconds = time.monotonic() - start
        stats.index_bytes = index_bytes(home)
        return stats
    return None


def _update(
    conn: sqlite3.Connection,
    home: Home,
    fields: FieldFn,
    progress: Callable[[int, int], None] | None,
    max_bytes: int | None,
) -> IndexStats | None:
    logs = session_logs(home)
    known = {
        sid: (key, inode, offset)
        for key, sid, inode, offset in conn.execute("SELECT id, sid, inode, offset FROM sessions")
    }
    todo = []
    for sid, st in logs.items():
        old = known.get(sid)
        if old is None or old[1] != st.st_ino or old[2] != st.st_size:
            same = old is not None and old[1] == st.st_ino and old[2] <= st.st_size
            todo.append((sid, st.st_size - old[2] if same and old else st.st_size))
    total = sum(n for _, n in todo)
    log_bytes = sum(st.st_size for st in logs.values())
    # A deleted or rewritten log (`p8j redact`) takes text out of the journal; a
    # contentless index cannot forget a text it no longer has, so it is rebuilt.
    left = [s for s, (_, inode, _) in known.items() if s not in logs or logs[s].st_ino != inode]
    if max_bytes is not None and (log_bytes if left else total) > max_bytes:
        return None
    stats = IndexStats(
        sessions=len(logs),
        updated_sessions=0,
        dropped_sessions=len(left),
        events=0,
        rows=0,
        bytes_read=0,
        seconds=0.0,
        index_bytes=0,
        log_bytes=log_bytes,
        rebuilt=bool(left),
    )
    if left:
        return stats  # the caller deletes the index and builds a new one
    done = 0
    if progress is not None:
        progress(0, total)
    for sid, size in sorted(todo, reverse=True):
        _index_session(conn, home, sid, fields, stats)
        done += size
        if progress is not None:
            progress(done, total)
    dead = conn.execute("SELECT value FROM meta WHERE key = 'dead'").fetchone()
    live = conn.execute("SELECT max(id) FROM rows").fetchone()[0] or 0
    if dead is not None and dead[0] > max(_BATCH * 10, live // 2):
        stats.rebuilt = True  # more dead postings than live ones: the caller rebuilds
    return stats


def _unlink_rows(conn: sqlite3.Connection, key: int) -> None:
    n = conn.execute("DELETE FROM rows WHERE sess = ?", (key,)).rowcount
    conn.execute(
        "INSERT INTO meta(key, value) VALUES('dead', ?) "
        "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
        (n,),
    )


def _lines(path: Path, offset: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of each newline-terminated line from `offset` on."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    with contextlib.closing(os.fdopen(fd, "rb", buffering=0)) as f:
        f.seek(offset)
        pending = b""
        pos = offset
        while True:
            data = f.read(1 << 20)
            if not data:
                return
            buf = pending + data if pending else data
            lines = buf.split(b"\n")
            pending = lines.pop()
            for ln in lines:
                yield pos, ln
                pos += len(ln) + 1


def _index_session(
    conn: sqlite3.Connection, home: Home, sid: str, fields: FieldFn, stats: IndexStats
) -> None:
    """Index what `sid`'s log gained since the last update, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        _index_session_locked(conn, home, sid, fields, stats)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _index_session_locked(
    conn: sqlite3.Connection, home: Home, sid: str, fields: FieldFn, stats: IndexStats
) -> None:
    path = home.log_path(sid)
    try:
        st = os.lstat(path)
    except OSError:
        return
    row = conn.execute(
        "SELECT id, inode, offset, line, next_seq, state, clean FROM sessions WHERE sid = ?",
        (sid,),
    ).fetchone()
    at: IndexPosition | None = None
    clean = True
    if row is not None:
        key, inode, offset, line, next_seq, state, was_clean = row
        if inode == st.st_ino and offset <= st.st_size:
            if offset == st.st_size:
                return  # another updater got here first
            at, clean = IndexPosition(inode, offset, line, next_seq, state), bool(was_clean)
        else:
            _unlink_rows(conn, key)
            conn.execute("DELETE FROM sessions WHERE id = ?", (key,))
            row = None
    if row is None:
        key = conn.execute(
            "INSERT INTO sessions(sid, inode, offset, line, next_seq, state, clean, updated) "
            "VALUES(?, ?, 0, 1, 0, NULL, 1, 0)",
            (sid, st.st_ino),
        ).lastrowid
    cursor = resume_cursor(path, sid, at)
    start = cursor.offset
    try:
        if clean:
            clean = _add_rows(conn, key, cursor, fields, stats)
        else:
            for _ in cursor.read(final=False):
                pass
    except (P8jError, OSError):
        clean = False
    if not clean:
        _unlink_rows(conn, key)
    pos = position_of(cursor, st.st_ino)
    conn.execute(
        "UPDATE sessions SET inode = ?, offset = ?, line = ?, next_seq = ?, state = ?, "
        "clean = ?, updated = ? WHERE id = ?",
        (pos.epoch, pos.offset, pos.line, pos.next_seq, pos.state, int(clean), time.time(), key),
    )
    stats.updated_sessions += 1
    stats.bytes_read += pos.offset - start


def _add_rows(
    conn: sqlite3.Connection, key: int, cursor: LogCursor, fields: FieldFn, stats: IndexStats
) -> bool:
    """Insert the rows of what `cursor` reads; False if the read met a problem."""
    # Row ids are never reused: an unlinked row's FTS postings stay behind (contentless
    # tables cannot forget a text they no longer have), and must not point at a new row.
    found = conn.execute("SELECT value FROM meta WHERE key = 'next_id'").fetchone()
    next_id = found[0] if found is not None else 1
    rows: list[tuple[Any, ...]] = []
    texts: list[tuple[int, str]] = []
    # A clean log has one event per line: the line reader gives each event's place.
    lines = _lines(cursor.path, cursor.offset)
    for event in cursor.read(final=False):
        if any(i.kind != "unknown-event" for i in cursor.issues):
            return False
        place = next(lines, None)
        if place is None:
            return False
        off, ln = place
        stats.events += 1
        blob = int(_BLOB_MARK in ln)
        for kind, role, field, parts in fields(event):
            text = "\n".join(parts)
            if not text and not blob:
                continue
            rows.append((next_id, key, event.seq, off, len(ln), kind, role, field, blob))
            texts.append((next_id, text))
            next_id += 1
        if len(rows) >= _BATCH:
            _flush(conn, rows, texts, stats)
    if any(i.kind != "unknown-event" for i in cursor.issues):
        return False
    _flush(conn, rows, texts, stats)
    conn.execute(
        "INSERT INTO meta(key, value) VALUES('next_id', ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (next_id,),
    )
    return True


def _flush(
    conn: sqlite3.Connection,
    rows: list[tuple[Any, ...]],
    texts: list[tuple[int, str]],
    stats: IndexStats,
) -> None:
    conn.executemany("INSERT INTO rows VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.executemany("INSERT INTO fts(rowid, text) VALUES(?, ?)", texts)
    stats.rows += len(rows)
    rows.clear()
    texts.clear()
