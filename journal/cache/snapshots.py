"""Snapshot cache: a folded Session plus the log position it covers, for fast resume and replay.

Contract:
- ``<home>/cache/snapshots/<session-id>.snap`` holds a prefix, a *head* (the
  `Snapshot`: the Session folded from the log's first ``offset`` bytes, without
  its histories, the reader's position there, the number of events folded, the
  log's inode and the CRC-32 of the up to `TAIL_CHECK` bytes before ``offset``)
  and the histories cut into checksummed *chunks* of up to `CHUNK` entries
  (the byte layout is `snapfile`'s contract).
- Chunks make a windowed load O(window): ``history=N`` reads the head and the
  last chunks of each history only, so resuming a session of any size with a
  fresh snapshot costs the head, N entries and the log's tail. A whole load
  reads every chunk. Only the chunks read are checked.
- A snapshot is only ever written from a fold *of the log* (never from a
  writer's in-memory Session), and only when those bytes were read clean (no
  corrupt, skipped or unknown-type line), so it holds exactly what a replay of
  that prefix gives and is valid with or without ``skip_corrupt``. A fold that
  started from a snapshot and read a long tail writes the next one by copying
  the previous one's chunks file to file (a windowed fold never loaded them)
  and appending chunks for the tail's entries.
- It is *fresh* when its head decodes, its checksum matches, and the log still
  has the same inode, at least ``offset`` bytes, and the same bytes just before
  ``offset``. Folding it plus the log after ``offset`` equals folding the whole
  log (``fold(tail, initial=snapshot) == fold(all)``, tested for random cuts).
- The freshness check is O(1): it does not re-read the prefix, so a log edited
  in place before the checked tail (which append-only logs never are) keeps
  its cached state until the snapshot is replaced; `p8j verify` and
  ``fold_log(..., use_cache=False)`` always read every line.
- Corrupt, stale or missing snapshots are ignored: `fold_log` falls back to a
  full replay, also when reading the tail after a snapshot fails. The cache is
  derived: deleting it changes nothing but speed. Version 1 files (one msgpack
  array) are stale by version and are replaced on the next long fold.
- Writes are crash-safe (temp file, fsync, rename, fsync dir) and best effort:
  failing to write a snapshot costs speed, never data. They happen after a fold
  that read at least `MIN_EVENTS` events past the previous snapshot (resume,
  replay), never on the per-record path.
- Snapshots and the log they are checked against are opened through checked
  directory descriptors (`Home.open_file`, `Home.replace_file`): a symlinked
  ``cache/`` or ``cache/snapshots/``, a FIFO, a hard-linked or foreign file in a
  snapshot's place is ignored like a corrupt snapshot, never followed, blocked
  on or written through.
- A snapshot is about as large as the history it holds (msgpack of the Session).
"""

from __future__ import annotations

import itertools
import os
import stat
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from ..errors import P8jError, SessionStateError
from ..events import AnyEvent, UnknownEvent
from ..session import Session, check_history, fold
from ..store.base import Position, SessionStore, StoreCursor
from ..store.fs.cursor import missing_start_error
from ..store.fs.layout import Home, check_file
from ..store.fs.store import FileStore
from .gc import gc_paused
from .snapfile import (
    KINDS,
    OMITTED,
    SNAPSHOT_VERSION,
    Chunk,
    Snapshot,
    SnapshotFile,
    assemble,
    chunk_table,
    read_head,
)

__all__ = [
    "CHUNK",
    "MIN_EVENTS",
    "SNAPSHOT_VERSION",
    "TAIL_CHECK",
    "Snapshot",
    "encode_snapshot",
    "fold_log",
    "load_snapshot",
    "save_snapshot",
    "snapshot_path",
]

TAIL_CHECK = 4096
MIN_EVENTS = 10_000
CHUNK = 4096
_DIR = "cache/snapshots"


def snapshot_path(home: Home, session_id: str) -> Path:
    """Where `session_id`'s snapshot lives (the id is validated)."""
    return home.cache_dir / "snapshots" / _name(home, session_id)


def _name(home: Home, session_id: str) -> str:
    return home.log_path(session_id).stem + ".snap"


def _tail_crc(fd: int, offset: int) -> int | None:
    start = max(0, offset - TAIL_CHECK)
    try:
        data = os.pread(fd, offset - start, start)
    except OSError:
        return None
    return zlib.crc32(data) if len(data) == offset - start else None


def encode_snapshot(snap: Snapshot) -> bytes:
    """The snapshot file's bytes for `snap`, whose Session must hold whole histories."""
    if _omitted(snap.session):
        raise ValueError("a windowed Session cannot be a snapshot: it lacks earlier entries")
    tables, parts = zip(
        *(chunk_table(getattr(snap.session, kind), CHUNK) for kind in KINDS), strict=True
    )
    return b"".join(assemble(snap, list(tables), list(parts)))


# What msgpack cannot encode although the log holds it (e.g. integers beyond 64 bits):
# such a session is simply not cached.
_ENCODE_ERRORS = (OverflowError, TypeError, ValueError, RecursionError)


def _open_regular(home: Home, subdir: str, name: str) -> int:
    """A descriptor of a regular file in the home (see `Home.open_file`); OSError if not one."""
    fd = home.open_file(subdir, name, os.O_RDONLY)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{subdir}/{name}: not a regular file")
    return fd


def _open(home: Home, session_id: str, log_head: Position | None = None) -> SnapshotFile | None:
    """`session_id`'s snapshot, open, if its head is sound and it is fresh for the log."""
    if log_head is None:
        try:
            log_head = FileStore(home).head(session_id)
        except P8jError:
            return None
    name = _name(home, session_id)
    try:
        fd = home.open_file(_DIR, name, os.O_RDONLY)
    except (P8jError, OSError):  # none, or an unsafe cache directory: no cache
        return None
    try:
        check_file(snapshot_path(home, session_id), os.fstat(fd))
        head = read_head(fd)
        if (
            head is not None
            and head[0].snapshot.session.session_id == session_id
            and _fresh(head[0].snapshot, home, session_id, log_head)
        ):
            return SnapshotFile(fd, *head)
    except (P8jError, OSError):  # not a regular file of ours, or unreadable
        pass
    os.close(fd)
    return None


def _fresh(snap: Snapshot, home: Home, session_id: str, head: Position) -> bool:
    covered = Position(snap.inode, snap.offset)
    if not (covered.same_log(head) and covered <= head):
        return False
    # A file-store detail on top of the seam's rule: the bytes just before the offset
    # are still the ones folded (the log was not replaced by one of the same inode).
    fd = _open_regular(home, "sessions", home.log_path(session_id).name)
    try:
        return os.fstat(fd).st_ino == snap.inode and _tail_crc(fd, snap.offset) == snap.tail_crc
    finally:
        os.close(fd)


def load_snapshot(home: Home, session_id: str, *, history: int | None = None) -> Snapshot | None:
    """`session_id`'s snapshot if it is fresh for the log as it is now, else None.

    With `history`, its Session holds only the last `history` entries of each
    history, and only those are read.
    """
    f = _open(home, session_id)
    if f is None:
        return None
    try:
        with gc_paused():
            session = f.session(history)
    finally:
        f.close()
    return None if session is None else msgspec.structs.replace(f.snapshot, session=session)


def _position(home: Home, session: Session, cursor: StoreCursor, events: int) -> Snapshot | None:
    at = cursor.position
    try:
        fd = _open_regular(home, "sessions", home.log_path(session.session_id).name)
        try:
            same = os.fstat(fd).st_ino == at.epoch  # the log the cursor read, not a rewrite
            tail = _tail_crc(fd, at.offset)
        finally:
            os.close(fd)
    except (P8jError, OSError):
        return None
    if tail is None or not same:
        return None
    return Snapshot(
        session, at.offset, cursor.line, cursor.next_seq, cursor.state, events, at.epoch, tail
    )


def _write(home: Home, session_id: str, data: Iterable[bytes]) -> bool:
    try:
        home.replace_file(_DIR, _name(home, session_id), data)
    except (P8jError, OSError):  # an unsafe or unwritable cache: no snapshot, no harm
        return False
    return True


def _omitted(session: Session) -> bool:
    return bool(
        session.conversation_omitted or session.commands_omitted or session.executions_omitted
    )


def save_snapshot(home: Home, session: Session, cursor: StoreCursor, events: int) -> bool:
    """Write a snapshot of `session`, folded from the log up to `cursor`; True if written.

    Refuses (returns False) when the cursor met any issue, or the Session is
    windowed: the snapshot must be exactly what a clean replay of the prefix gives.
    """
    return not _omitted(session) and _save(home, session, cursor, events, None)


def _save(
    home: Home, session: Session, cursor: StoreCursor, events: int, base: SnapshotFile | None
) -> bool:
    """Write `session`'s snapshot: `base`'s chunks (if any), then chunks for what follows them.

    A windowed `session` folded from `base` plus the log's tail holds every entry
    `base` lacks, so the two make a whole snapshot.
    """
    if cursor.issues or session.session_id != cursor.session_id:
        return False
    snap = _position(home, session, cursor, events)
    if snap is None:
        return False
    tables: list[list[Chunk]] = []
    parts: list[Iterable[bytes]] = []
    totals = (0, 0, 0) if base is None else base.totals()
    for kind, (name, omitted, old) in enumerate(zip(KINDS, OMITTED, totals, strict=True)):
        entries: list[Any] = getattr(session, name)
        new = getattr(session, omitted) + len(entries) - old
        if not 0 <= new <= len(entries):
            return False
        try:
            table, blobs = chunk_table(entries[len(entries) - new :], CHUNK)
        except _ENCODE_ERRORS:
            return False
        if base is None:
            tables.append(table)
            parts.append(blobs)
        else:
            tables.append(base.head.tables[kind] + table)
            # The old chunks are copied from file to file, not held in memory.
            parts.append(itertools.chain(base.copy(kind), blobs))
    try:
        data = assemble(snap, tables, parts)
    except _ENCODE_ERRORS:
        return False
    return _write(home, session.session_id, data)


def as_store(source: SessionStore | Home) -> SessionStore:
    """`source` as a store: a `Home` is the file store there."""
    return FileStore(source) if isinstance(source, Home) else source


def fold_log(
    store: SessionStore | Home,
    session_id: str,
    *,
    skip_corrupt: bool = False,
    use_cache: bool = True,
    save: bool = True,
    history: int | None = None,
) -> tuple[Session, StoreCursor, int]:
    """Fold `session_id`'s whole log, from a fresh snapshot when there is one.

    Returns the Session, the cursor (position, issues, torn tail) and the number
    of events folded (snapshot included). With `history`, the Session holds only
    the last `history` entries of each history (`Session.window`), and a fresh
    snapshot is read only that far back. With `save`, writes a new snapshot
    when at least `MIN_EVENTS` events were read from the log. A log without a
    complete SessionStarted raises `missing_start_error`'s CorruptLineError.
    Snapshots are kept for the file store only (in its home); any other store
    is folded from its first record (the cache needs a local directory).
    """
    check_history(history)
    with gc_paused():
        session, cursor, n = _fold_log(
            as_store(store), session_id, skip_corrupt, use_cache, save, history
        )
    if history is not None:
        session = session.window(history)
    return session, cursor, n


def _fold_log(
    store: SessionStore,
    session_id: str,
    skip_corrupt: bool,
    use_cache: bool,
    save: bool,
    history: int | None,
) -> tuple[Session, StoreCursor, int]:
    home = store.home if isinstance(store, FileStore) else None
    head = store.head(session_id)  # no such log: JournalIOError, as reading it would
    f = _open(store.home, session_id, head) if use_cache and isinstance(store, FileStore) else None
    if f is not None:
        assert isinstance(store, FileStore)
        try:
            got = _from_snapshot(store, f, skip_corrupt, save, history)
        finally:
            f.close()
        if got is not None:
            return got
    cursor = store.open_cursor(session_id, skip_corrupt=skip_corrupt)
    counted = _Counter(cursor)
    try:
        session = fold(counted)
    except SessionStateError:
        if cursor.next_seq == 0:  # not even a complete SessionStarted
            raise missing_start_error(cursor) from None
        raise
    if save and home is not None and counted.n >= MIN_EVENTS:
        save_snapshot(home, session, cursor, counted.n)
    return session, cursor, counted.n


def _from_snapshot(
    store: FileStore, f: SnapshotFile, skip_corrupt: bool, save: bool, history: int | None
) -> tuple[Session, StoreCursor, int] | None:
    """Fold the log's tail onto snapshot `f`; None when the two do not fit together."""
    initial = f.session(history)
    if initial is None:
        return None
    snap = f.snapshot
    try:
        cursor = store.open_cursor(
            snap.session.session_id,
            position=Position(snap.inode, snap.offset),
            skip_corrupt=skip_corrupt,
            line=snap.line,
            next_seq=snap.next_seq,
            state=snap.state,
        )
        counted = _Counter(cursor)
        session = fold(counted, initial=initial)
    except P8jError:
        return None  # a snapshot that does not fit the log (or a log rewritten): replay it all
    total = snap.events + counted.n
    if save and counted.n >= MIN_EVENTS:
        _save(store.home, session, cursor, total, f)
    return session, cursor, total


class _Counter:
    """All of a cursor's events, a block at a time, counted."""

    def __init__(self, cursor: StoreCursor) -> None:
        self._cursor = cursor
        self.n = 0

    def _blocks(self) -> Iterator[list[AnyEvent | UnknownEvent]]:
        for block in self._cursor.read_blocks(final=True):
            self.n += len(block)
            yield block

    def __iter__(self) -> Iterator[AnyEvent | UnknownEvent]:
        # chain: no generator frame per event between the reader and the fold.
        return itertools.chain.from_iterable(self._blocks())
