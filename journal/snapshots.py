"""Snapshot cache: a folded Session plus the log position it covers, for fast resume and replay.

Contract:
- ``<home>/cache/snapshots/<session-id>.snap`` holds one msgpack array
  ``[SNAPSHOT_VERSION, crc32(body), body]``; ``body`` is the msgpack encoding of
  a `Snapshot`: the Session folded from the log's first ``offset`` bytes, with
  the reader's position there (line, next seq, lifecycle state), the number of
  events folded, the log's inode and the CRC-32 of the up to `TAIL_CHECK` bytes
  before ``offset``.
- A snapshot is only ever written from a fold *of the log* (never from a
  writer's in-memory Session), and only when those bytes were read clean (no
  corrupt, skipped or unknown-type line), so it holds exactly what a replay of
  that prefix gives and is valid with or without ``skip_corrupt``.
- It is *fresh* when it decodes, its checksum matches, and the log still has
  the same inode, at least ``offset`` bytes, and the same bytes just before
  ``offset``. Folding it plus the log after ``offset`` equals folding the whole
  log (``fold(tail, initial=snapshot) == fold(all)``, tested for random cuts).
- The freshness check is O(1): it does not re-read the prefix, so a log edited
  in place before the checked tail (which append-only logs never are) keeps
  its cached state until the snapshot is replaced; `p8j verify` and
  ``fold_log(..., use_cache=False)`` always read every line.
- Corrupt, stale or missing snapshots are ignored: `fold_log` falls back to a
  full replay, also when reading the tail after a snapshot fails. The cache is
  derived: deleting it changes nothing but speed.
- Writes are crash-safe (temp file, fsync, rename, fsync dir) and best effort:
  failing to write a snapshot costs speed, never data. They happen after a fold
  that read at least `MIN_EVENTS` events past the previous snapshot (resume,
  replay), never on the per-record path.
- A snapshot is about as large as the history it holds (msgpack of the Session).
"""

from __future__ import annotations

import contextlib
import gc
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import msgspec

from .errors import P8jError, SessionStateError
from .events import AnyEvent, UnknownEvent
from .home import Home
from .reader import LogCursor, missing_start_error
from .session import Session, fold
from .storage import replace_file

__all__ = [
    "MIN_EVENTS",
    "SNAPSHOT_VERSION",
    "TAIL_CHECK",
    "Snapshot",
    "fold_log",
    "load_snapshot",
    "save_snapshot",
    "snapshot_path",
]

SNAPSHOT_VERSION = 1
TAIL_CHECK = 4096
MIN_EVENTS = 10_000


class Snapshot(msgspec.Struct, array_like=True):
    """A Session folded from a log prefix, and the reader's position at its end."""

    session: Session
    offset: int
    line: int
    next_seq: int
    state: str | None
    events: int
    inode: int
    tail_crc: int


class _File(msgspec.Struct, array_like=True):
    version: int
    crc: int
    body: bytes


_ENC = msgspec.msgpack.Encoder()
_FILE_DEC = msgspec.msgpack.Decoder(_File)
_SNAP_DEC = msgspec.msgpack.Decoder(Snapshot)


def snapshot_path(home: Home, session_id: str) -> Path:
    """Where `session_id`'s snapshot lives (the id is validated)."""
    return home.cache_dir / "snapshots" / (home.log_path(session_id).stem + ".snap")


def _tail_crc(fd: int, offset: int) -> int | None:
    start = max(0, offset - TAIL_CHECK)
    try:
        data = os.pread(fd, offset - start, start)
    except OSError:
        return None
    return zlib.crc32(data) if len(data) == offset - start else None


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cycle collector while building a big, acyclic history.

    Loading allocates containers per message; the collector would rescan the
    growing heap again and again for nothing (JSON data holds no cycles): a full
    replay of 1M events runs ~1.5x faster without it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _decode(data: bytes) -> Snapshot | None:
    try:
        f = _FILE_DEC.decode(data)
        if f.version != SNAPSHOT_VERSION or zlib.crc32(f.body) != f.crc:
            return None
        return _SNAP_DEC.decode(f.body)
    except (ValueError, RecursionError):  # msgspec errors, and UnicodeDecodeError
        return None


def load_snapshot(home: Home, session_id: str) -> Snapshot | None:
    """`session_id`'s snapshot if it is fresh for the log as it is now, else None."""
    log = home.log_path(session_id)
    try:
        with open(snapshot_path(home, session_id), "rb", opener=_nofollow) as f, _gc_paused():
            snap = _decode(f.read())
        if snap is None or snap.session.session_id != session_id:
            return None
        fd = os.open(log, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_ino != snap.inode or st.st_size < snap.offset:
            return None
        if _tail_crc(fd, snap.offset) != snap.tail_crc:
            return None
    finally:
        os.close(fd)
    return snap


def save_snapshot(home: Home, session: Session, cursor: LogCursor, events: int) -> bool:
    """Write a snapshot of `session`, folded from the log up to `cursor`; True if written.

    Refuses (returns False) when the cursor met any issue: the snapshot must be
    exactly what a clean replay of the prefix gives.
    """
    if cursor.issues or session.session_id != cursor.session_id:
        return False
    target = snapshot_path(home, session.session_id)
    try:
        fd = os.open(cursor.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            inode = os.fstat(fd).st_ino
            tail = _tail_crc(fd, cursor.offset)
        finally:
            os.close(fd)
        if tail is None:
            return False
        snap = Snapshot(
            session, cursor.offset, cursor.line, cursor.next_seq, cursor.state, events, inode, tail
        )
        body = _ENC.encode(snap)
        data = _ENC.encode(_File(SNAPSHOT_VERSION, zlib.crc32(body), body))
        home.cache_dir.mkdir(mode=0o700, exist_ok=True)
        target.parent.mkdir(mode=0o700, exist_ok=True)
        replace_file(target.parent, target.name, data)
    except OSError:
        return False
    return True


def fold_log(
    home: Home,
    session_id: str,
    *,
    skip_corrupt: bool = False,
    use_cache: bool = True,
    save: bool = True,
) -> tuple[Session, LogCursor, int]:
    """Fold `session_id`'s whole log, from a fresh snapshot when there is one.

    Returns the Session, the cursor (position, issues, torn tail) and the number
    of events folded (snapshot included). With `save`, writes a new snapshot
    when at least `MIN_EVENTS` events were read from the log. A log without a
    complete SessionStarted raises `missing_start_error`'s CorruptLineError.
    """
    with _gc_paused():
        return _fold_log(home, session_id, skip_corrupt, use_cache, save)


def _fold_log(
    home: Home, session_id: str, skip_corrupt: bool, use_cache: bool, save: bool
) -> tuple[Session, LogCursor, int]:
    path = home.log_path(session_id)
    snap = load_snapshot(home, session_id) if use_cache else None
    if snap is not None:
        cursor = LogCursor(
            path,
            session_id=session_id,
            skip_corrupt=skip_corrupt,
            offset=snap.offset,
            line=snap.line,
            next_seq=snap.next_seq,
            state=snap.state,
        )
        counted = _Counter(cursor.read(final=True))
        try:
            session = fold(counted, initial=snap.session)
        except P8jError:
            pass  # a snapshot that does not fit the log: replay it all
        else:
            total = snap.events + counted.n
            if save and counted.n >= MIN_EVENTS:
                save_snapshot(home, session, cursor, total)
            return session, cursor, total
    cursor = LogCursor(path, session_id=session_id, skip_corrupt=skip_corrupt)
    counted = _Counter(cursor.read(final=True))
    try:
        session = fold(counted)
    except SessionStateError:
        if cursor.next_seq == 0:  # not even a complete SessionStarted
            raise missing_start_error(cursor) from None
        raise
    if save and counted.n >= MIN_EVENTS:
        save_snapshot(home, session, cursor, counted.n)
    return session, cursor, counted.n


class _Counter:
    """Pass events through, counting them."""

    def __init__(self, events: Iterator[AnyEvent | UnknownEvent]) -> None:
        self._events = events
        self.n = 0

    def __iter__(self) -> Iterator[AnyEvent | UnknownEvent]:
        for ev in self._events:
            self.n += 1
            yield ev


def _nofollow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC)
