"""Snapshot cache: a folded Session plus the log position it covers, for fast resume and replay.

Contract:
- ``<home>/cache/snapshots/<session-id>.snap`` starts with a 16-byte prefix
  (``b"p8jsnap"``, the format version byte `SNAPSHOT_VERSION`, then the head's
  length and CRC-32 as little-endian u32), then the *head*, then the *chunks*.
  The head is the msgpack encoding of the `Snapshot` (its Session with empty
  histories: the Session folded from the log's first ``offset`` bytes, with the
  reader's position there (line, next seq, lifecycle state), the number of
  events folded, the log's inode and the CRC-32 of the up to `TAIL_CHECK` bytes
  before ``offset``) and of one chunk table per history (conversation, commands,
  executions, stored in that order). A chunk is the msgpack array of up to
  `CHUNK` consecutive history entries, with its own count, length and CRC-32.
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
- A snapshot is about as large as the history it holds (msgpack of the Session).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import itertools
import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from ..errors import P8jError, SessionStateError
from ..events import AnyEvent, UnknownEvent
from ..session import Session, check_history, fold
from ..store.fs.cursor import LogCursor, missing_start_error
from ..store.fs.layout import Home
from ..store.fs.syscalls import replace_file

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

SNAPSHOT_VERSION = 2
TAIL_CHECK = 4096
MIN_EVENTS = 10_000
CHUNK = 4096
_COPY_PIECE = 1 << 20

_PREFIX = struct.Struct("<7sBII")  # magic, version, head length, head CRC-32
_MAGIC = b"p8jsnap"
_KINDS = ("conversation_history", "command_history", "execution_histories")
_OMITTED = ("conversation_omitted", "commands_omitted", "executions_omitted")


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


class _Chunk(msgspec.Struct, array_like=True):
    count: int
    length: int
    crc: int


class _Head(msgspec.Struct, array_like=True):
    snapshot: Snapshot  # its session's histories are empty: they are the chunks
    tables: tuple[list[_Chunk], list[_Chunk], list[_Chunk]]


_ENC = msgspec.msgpack.Encoder()
_HEAD_DEC = msgspec.msgpack.Decoder(_Head)
_ENTRY_DECS: tuple[msgspec.msgpack.Decoder[Any], ...] = (
    msgspec.msgpack.Decoder(list[dict[str, Any]]),
    msgspec.msgpack.Decoder(list[str]),
    msgspec.msgpack.Decoder(list[dict[str, Any]]),
)


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


def _table(entries: list[Any]) -> tuple[list[_Chunk], list[bytes]]:
    """`entries` cut into chunks: their table and their bytes."""
    blobs = [_ENC.encode(entries[i : i + CHUNK]) for i in range(0, len(entries), CHUNK)]
    counts = [min(CHUNK, len(entries) - i) for i in range(0, len(entries), CHUNK)]
    return [_Chunk(n, len(b), zlib.crc32(b)) for n, b in zip(counts, blobs, strict=True)], blobs


def _assemble(
    snap: Snapshot, tables: list[list[_Chunk]], parts: list[Iterable[bytes]]
) -> Iterator[bytes]:
    """The file, in parts: prefix, head, then each history's chunk bytes in order.

    The head is encoded here, so encoding errors raise before anything is written.
    """
    bare = msgspec.structs.replace(
        snap.session,
        conversation_history=[],
        command_history=[],
        execution_histories=[],
        conversation_omitted=0,
        commands_omitted=0,
        executions_omitted=0,
    )
    head = _ENC.encode(
        _Head(msgspec.structs.replace(snap, session=bare), (tables[0], tables[1], tables[2]))
    )
    prefix = _PREFIX.pack(_MAGIC, SNAPSHOT_VERSION, len(head), zlib.crc32(head))
    return itertools.chain((prefix, head), *parts)


def encode_snapshot(snap: Snapshot) -> bytes:
    """The snapshot file's bytes for `snap`, whose Session must hold whole histories."""
    if _omitted(snap.session):
        raise ValueError("a windowed Session cannot be a snapshot: it lacks earlier entries")
    tables, parts = zip(*(_table(getattr(snap.session, kind)) for kind in _KINDS), strict=True)
    return b"".join(_assemble(snap, list(tables), list(parts)))


# What msgpack cannot encode although the log holds it (e.g. integers beyond 64 bits):
# such a session is simply not cached.
_ENCODE_ERRORS = (OverflowError, TypeError, ValueError, RecursionError)


class _File:
    """An open, fresh snapshot: its head, and its chunks read on demand."""

    def __init__(self, fd: int, head: _Head, start: int) -> None:
        self.fd = fd
        self.head = head
        self.spans: list[tuple[int, int]] = []  # (file offset, length) of each history
        for table in head.tables:
            length = sum(c.length for c in table)
            self.spans.append((start, length))
            start += length

    @property
    def snapshot(self) -> Snapshot:
        return self.head.snapshot

    def totals(self) -> tuple[int, ...]:
        return tuple(sum(c.count for c in table) for table in self.head.tables)

    def entries(self, kind: int, window: int | None) -> list[Any] | None:
        """The last `window` entries (all with None) of history `kind`, or None if damaged."""
        table = self.head.tables[kind]
        first, want = len(table), 0
        while first > 0 and (window is None or want < window):
            first -= 1
            want += table[first].count
        start, _ = self.spans[kind]
        pos = start + sum(c.length for c in table[:first])
        out: list[Any] = []
        decoder = _ENTRY_DECS[kind]
        for c in table[first:]:
            # One chunk at a time: a whole load holds the Session and one chunk's bytes.
            try:
                part = os.pread(self.fd, c.length, pos)
            except OSError:
                return None
            pos += c.length
            if len(part) != c.length or zlib.crc32(part) != c.crc:
                return None
            try:
                got = decoder.decode(part)
            except (ValueError, RecursionError):  # msgspec errors, and UnicodeDecodeError
                return None
            if len(got) != c.count:
                return None
            out.extend(got)
        if window is not None and len(out) > window:
            del out[: len(out) - window]
        return out

    def session(self, window: int | None) -> Session | None:
        """The snapshot's Session, windowed to the last `window` entries; None if damaged."""
        fields: dict[str, Any] = {}
        for kind, (name, omitted, total) in enumerate(
            zip(_KINDS, _OMITTED, self.totals(), strict=True)
        ):
            got = self.entries(kind, window)
            if got is None:
                return None
            fields[name] = got
            fields[omitted] = total - len(got)
        return msgspec.structs.replace(self.snapshot.session, **fields)

    def copy(self, kind: int) -> Iterator[bytes]:
        """History `kind`'s chunk bytes as stored, a piece at a time; OSError if cut short."""
        pos, left = self.spans[kind]
        while left:
            piece = os.pread(self.fd, min(left, _COPY_PIECE), pos)
            if not piece:
                raise OSError(errno.EIO, "snapshot shorter than its head says")
            pos += len(piece)
            left -= len(piece)
            yield piece

    def close(self) -> None:
        os.close(self.fd)


def _open(home: Home, session_id: str) -> _File | None:
    """`session_id`'s snapshot, open, if its head is sound and it is fresh for the log."""
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(snapshot_path(home, session_id), flags)
    except OSError:
        return None
    try:
        head = _read_head(fd)
        if (
            head is not None
            and head[0].snapshot.session.session_id == session_id
            and _fresh(head[0].snapshot, home.log_path(session_id), flags)
        ):
            return _File(fd, *head)
    except OSError:
        pass
    os.close(fd)
    return None


def _fresh(snap: Snapshot, log: Path, flags: int) -> bool:
    fd = os.open(log, flags)
    try:
        st = os.fstat(fd)
        return (
            st.st_ino == snap.inode
            and st.st_size >= snap.offset
            and _tail_crc(fd, snap.offset) == snap.tail_crc
        )
    finally:
        os.close(fd)


def _read_head(fd: int) -> tuple[_Head, int] | None:
    """The head and where the chunks start, or None if it is not a sound head."""
    prefix = os.pread(fd, _PREFIX.size, 0)
    if len(prefix) != _PREFIX.size:
        return None
    magic, version, length, crc = _PREFIX.unpack(prefix)
    if magic != _MAGIC or version != SNAPSHOT_VERSION or length > os.fstat(fd).st_size:
        return None
    body = os.pread(fd, length, _PREFIX.size)
    if len(body) != length or zlib.crc32(body) != crc:
        return None
    try:
        head = _HEAD_DEC.decode(body)
    except (ValueError, RecursionError):  # msgspec errors, and UnicodeDecodeError
        return None
    start = _PREFIX.size + length
    chunks = [c for table in head.tables for c in table]
    if any(c.count < 0 or c.length <= 0 for c in chunks):
        return None
    if start + sum(c.length for c in chunks) != os.fstat(fd).st_size:
        return None  # cut short, or bytes this head does not account for
    return head, start


def load_snapshot(home: Home, session_id: str, *, history: int | None = None) -> Snapshot | None:
    """`session_id`'s snapshot if it is fresh for the log as it is now, else None.

    With `history`, its Session holds only the last `history` entries of each
    history, and only those are read.
    """
    f = _open(home, session_id)
    if f is None:
        return None
    try:
        with _gc_paused():
            session = f.session(history)
    finally:
        f.close()
    return None if session is None else msgspec.structs.replace(f.snapshot, session=session)


def _position(session: Session, cursor: LogCursor, events: int) -> Snapshot | None:
    try:
        fd = os.open(cursor.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            inode = os.fstat(fd).st_ino
            tail = _tail_crc(fd, cursor.offset)
        finally:
            os.close(fd)
    except OSError:
        return None
    if tail is None:
        return None
    return Snapshot(
        session, cursor.offset, cursor.line, cursor.next_seq, cursor.state, events, inode, tail
    )


def _write(home: Home, session_id: str, data: Iterable[bytes]) -> bool:
    target = snapshot_path(home, session_id)
    try:
        home.cache_dir.mkdir(mode=0o700, exist_ok=True)
        target.parent.mkdir(mode=0o700, exist_ok=True)
        replace_file(target.parent, target.name, data)
    except OSError:
        return False
    return True


def _omitted(session: Session) -> bool:
    return bool(
        session.conversation_omitted or session.commands_omitted or session.executions_omitted
    )


def save_snapshot(home: Home, session: Session, cursor: LogCursor, events: int) -> bool:
    """Write a snapshot of `session`, folded from the log up to `cursor`; True if written.

    Refuses (returns False) when the cursor met any issue, or the Session is
    windowed: the snapshot must be exactly what a clean replay of the prefix gives.
    """
    return not _omitted(session) and _save(home, session, cursor, events, None)


def _save(home: Home, session: Session, cursor: LogCursor, events: int, base: _File | None) -> bool:
    """Write `session`'s snapshot: `base`'s chunks (if any), then chunks for what follows them.

    A windowed `session` folded from `base` plus the log's tail holds every entry
    `base` lacks, so the two make a whole snapshot.
    """
    if cursor.issues or session.session_id != cursor.session_id:
        return False
    snap = _position(session, cursor, events)
    if snap is None:
        return False
    tables: list[list[_Chunk]] = []
    parts: list[Iterable[bytes]] = []
    totals = (0, 0, 0) if base is None else base.totals()
    for kind, (name, omitted, old) in enumerate(zip(_KINDS, _OMITTED, totals, strict=True)):
        entries: list[Any] = getattr(session, name)
        new = getattr(session, omitted) + len(entries) - old
        if not 0 <= new <= len(entries):
            return False
        try:
            table, blobs = _table(entries[len(entries) - new :])
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
        data = _assemble(snap, tables, parts)
    except _ENCODE_ERRORS:
        return False
    return _write(home, session.session_id, data)


def fold_log(
    home: Home,
    session_id: str,
    *,
    skip_corrupt: bool = False,
    use_cache: bool = True,
    save: bool = True,
    history: int | None = None,
) -> tuple[Session, LogCursor, int]:
    """Fold `session_id`'s whole log, from a fresh snapshot when there is one.

    Returns the Session, the cursor (position, issues, torn tail) and the number
    of events folded (snapshot included). With `history`, the Session holds only
    the last `history` entries of each history (`Session.window`), and a fresh
    snapshot is read only that far back. With `save`, writes a new snapshot
    when at least `MIN_EVENTS` events were read from the log. A log without a
    complete SessionStarted raises `missing_start_error`'s CorruptLineError.
    """
    check_history(history)
    with _gc_paused():
        session, cursor, n = _fold_log(home, session_id, skip_corrupt, use_cache, save, history)
    if history is not None:
        session = session.window(history)
    return session, cursor, n


def _fold_log(
    home: Home,
    session_id: str,
    skip_corrupt: bool,
    use_cache: bool,
    save: bool,
    history: int | None,
) -> tuple[Session, LogCursor, int]:
    path = home.log_path(session_id)
    f = _open(home, session_id) if use_cache else None
    if f is not None:
        try:
            got = _from_snapshot(home, f, path, skip_corrupt, save, history)
        finally:
            f.close()
        if got is not None:
            return got
    cursor = LogCursor(path, session_id=session_id, skip_corrupt=skip_corrupt)
    counted = _Counter(cursor)
    try:
        session = fold(counted)
    except SessionStateError:
        if cursor.next_seq == 0:  # not even a complete SessionStarted
            raise missing_start_error(cursor) from None
        raise
    if save and counted.n >= MIN_EVENTS:
        save_snapshot(home, session, cursor, counted.n)
    return session, cursor, counted.n


def _from_snapshot(
    home: Home, f: _File, path: Path, skip_corrupt: bool, save: bool, history: int | None
) -> tuple[Session, LogCursor, int] | None:
    """Fold the log's tail onto snapshot `f`; None when the two do not fit together."""
    initial = f.session(history)
    if initial is None:
        return None
    snap = f.snapshot
    cursor = LogCursor(
        path,
        session_id=snap.session.session_id,
        skip_corrupt=skip_corrupt,
        offset=snap.offset,
        line=snap.line,
        next_seq=snap.next_seq,
        state=snap.state,
    )
    counted = _Counter(cursor)
    try:
        session = fold(counted, initial=initial)
    except P8jError:
        return None  # a snapshot that does not fit the log: replay it all
    total = snap.events + counted.n
    if save and counted.n >= MIN_EVENTS:
        _save(home, session, cursor, total, f)
    return session, cursor, total


class _Counter:
    """All of a cursor's events, a block at a time, counted."""

    def __init__(self, cursor: LogCursor) -> None:
        self._cursor = cursor
        self.n = 0

    def _blocks(self) -> Iterator[list[AnyEvent | UnknownEvent]]:
        for block in self._cursor.read_blocks(final=True):
            self.n += len(block)
            yield block

    def __iter__(self) -> Iterator[AnyEvent | UnknownEvent]:
        # chain: no generator frame per event between the reader and the fold.
        return itertools.chain.from_iterable(self._blocks())
