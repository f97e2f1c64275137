"""The snapshot file: its on-disk layout, its writing in parts, and reading its head and chunks.

Layout (contract): ``<home>/cache/snapshots/<session-id>.snap`` starts with a
16-byte prefix (``b"p8jsnap"``, the format version byte `SNAPSHOT_VERSION`,
then the head's length and CRC-32 as little-endian u32), then the *head*, then
the *chunks*. The head is the msgpack encoding of the `Snapshot` (its Session
with empty histories: the Session folded from the log's first ``offset`` bytes,
with the reader's position there (line, next seq, lifecycle state), the number
of events folded, the log's inode and the CRC-32 of the bytes just before
``offset``) and of one chunk table per history (conversation, commands,
executions, stored in that order). A chunk is the msgpack array of consecutive
history entries, with its own count, length and CRC-32. A head is sound when
its prefix, length and checksum match and its tables account for exactly the
file's remaining bytes; a chunk is checked (length, CRC-32, count) only when
it is read. Version 1 files (one msgpack array) are not sound.

When to write or trust a snapshot is `snapshots.py`'s business; this module
only encodes and decodes the file.
"""

from __future__ import annotations

import errno
import itertools
import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from ..session import Session

__all__ = [
    "KINDS",
    "OMITTED",
    "SNAPSHOT_VERSION",
    "Chunk",
    "Head",
    "Snapshot",
    "SnapshotFile",
    "assemble",
    "chunk_table",
    "read_head",
]

SNAPSHOT_VERSION = 3  # 3: Session gained the fidelity fields (usage, context, compactions)
_COPY_PIECE = 1 << 20

_PREFIX = struct.Struct("<7sBII")  # magic, version, head length, head CRC-32
_MAGIC = b"p8jsnap"
KINDS = ("conversation_history", "command_history", "execution_histories")
OMITTED = ("conversation_omitted", "commands_omitted", "executions_omitted")


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


class Chunk(msgspec.Struct, array_like=True):
    """One chunk's entry count, byte length and CRC-32."""

    count: int
    length: int
    crc: int


class Head(msgspec.Struct, array_like=True):
    """The head: the snapshot without its histories, and each history's chunk table."""

    snapshot: Snapshot  # its session's histories are empty: they are the chunks
    tables: tuple[list[Chunk], list[Chunk], list[Chunk]]


_ENC = msgspec.msgpack.Encoder()
_HEAD_DEC = msgspec.msgpack.Decoder(Head)
_ENTRY_DECS: tuple[msgspec.msgpack.Decoder[Any], ...] = (
    msgspec.msgpack.Decoder(list[dict[str, Any]]),
    msgspec.msgpack.Decoder(list[str]),
    msgspec.msgpack.Decoder(list[dict[str, Any]]),
)


def chunk_table(entries: list[Any], chunk: int) -> tuple[list[Chunk], list[bytes]]:
    """`entries` cut into chunks of `chunk` entries: their table and their bytes."""
    blobs = [_ENC.encode(entries[i : i + chunk]) for i in range(0, len(entries), chunk)]
    counts = [min(chunk, len(entries) - i) for i in range(0, len(entries), chunk)]
    return [Chunk(n, len(b), zlib.crc32(b)) for n, b in zip(counts, blobs, strict=True)], blobs


def assemble(
    snap: Snapshot, tables: list[list[Chunk]], parts: list[Iterable[bytes]]
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
        Head(msgspec.structs.replace(snap, session=bare), (tables[0], tables[1], tables[2]))
    )
    prefix = _PREFIX.pack(_MAGIC, SNAPSHOT_VERSION, len(head), zlib.crc32(head))
    return itertools.chain((prefix, head), *parts)


class SnapshotFile:
    """An open snapshot file with a sound head; its chunks are read (and checked) on demand."""

    def __init__(self, fd: int, head: Head, start: int) -> None:
        self.fd = fd
        self.head = head
        self.spans: list[tuple[int, int]] = []  # (file offset, length) of each history
        for table in head.tables:
            length = sum(c.length for c in table)
            self.spans.append((start, length))
            start += length

    @property
    def snapshot(self) -> Snapshot:
        """The head's Snapshot (its Session's histories are empty)."""
        return self.head.snapshot

    def totals(self) -> tuple[int, ...]:
        """How many entries each history holds."""
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
            zip(KINDS, OMITTED, self.totals(), strict=True)
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
        """Close the file."""
        os.close(self.fd)


def read_head(fd: int) -> tuple[Head, int] | None:
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
