"""Which p8j session a source session is: identities, derived ids, and the index of past imports.

Contract:
- A source session's identity is ``(agent, source_id, parent source_id)``: the
  agent's own session id, and for a sub-agent (its own file, or records kept
  inline in its parent's file) the source id of the session that spawned it
  (sub-agent ids are short and only unique within their parent). Paths are not
  part of it: the same session imported on two machines is the same session.
- `derive_id` turns an identity and the first source time into a UUIDv7-shaped
  p8j id (the time's milliseconds, then a hash of the identity), so two
  machines importing the same source get the same id and ids still sort by
  start time.
- `SourceIndex` finds past imports by reading each log's ``SessionStarted``
  (its ``source``, with ``parent_source_id``), never by deriving the id again: a changed
  derivation never duplicates a session. Inline sub-agent sessions are found as
  the children of a session whose ``source.path`` is their parent's.
- `read_source` returns a source file's bytes, decompressed (``zstd``), or
  the tail of an uncompressed one (``--follow`` reads only what was appended).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec

from ..errors import P8jError
from ..events import SessionStarted
from ..store.base import SessionStore
from ..store.fs.cursor import LogCursor
from ..timefmt import parse_ts
from .base import SourceFile

__all__ = ["Identity", "SourceEntry", "SourceIndex", "derive_id", "identity_of", "read_source"]

Identity = tuple[str, str, str]
# What the index reads of a file-store log at a time: a SessionStarted line fits.
START_CHUNK = 16 << 10


class SourceEntry(msgspec.Struct, frozen=True):
    """One imported session as the index sees it (from its SessionStarted)."""

    session_id: str
    agent: str
    source_id: str
    path: str
    parent_id: str | None
    parent_source_id: str | None = None


def identity_of(file: SourceFile) -> Identity:
    """The identity of `file`'s own source session."""
    return (file.source.agent, file.source.source_id, file.parent_source_id or "")


def derive_id(identity: Identity, first_ts: str | None) -> str:
    """A UUIDv7-shaped id: milliseconds of `first_ts` (0 if None), then a hash of `identity`."""
    ms = 0
    if first_ts is not None:
        try:
            ms = max(0, int(parse_ts(first_ts).timestamp() * 1000))
        except ValueError:
            ms = 0
    digest = hashlib.sha256("\0".join(identity).encode("utf-8", "surrogatepass")).digest()
    rand = int.from_bytes(digest[:10], "big")
    rand_a, rand_b = rand >> 68 & 0xFFF, rand & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class SourceIndex:
    """Past imports in a store, by identity (read once, kept up to date by `add`)."""

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self.entries: dict[str, SourceEntry] = {}
        self._by_identity: dict[Identity, str] = {}
        for sid in store.session_ids():
            start = self._start(sid)
            if start is not None and start.source is not None:
                src = start.source
                self.entries[sid] = SourceEntry(
                    sid, src.agent, src.source_id, src.path, start.parent_id, src.parent_source_id
                )
        for entry in self.entries.values():
            self._by_identity.setdefault(self.identity(entry), entry.session_id)

    def _start(self, sid: str) -> SessionStarted | None:
        try:
            cursor = self.store.open_cursor(sid, resolve_blobs=False)
            if isinstance(cursor, LogCursor):
                # Only the first line is wanted (a few kB): the default 1 MiB block would
                # read and decode up to a MiB of every log the index looks at.
                cursor.chunk_size = START_CHUNK
            first = next(iter(cursor.read(final=False)), None)
        except P8jError:
            return None  # a damaged log is not ours to judge here: verify/repair say why
        return first if isinstance(first, SessionStarted) else None

    def identity(self, entry: SourceEntry) -> Identity:
        """`entry`'s identity (its parent's source id as recorded, else from the parent's entry)."""
        if entry.parent_source_id is not None:
            return (entry.agent, entry.source_id, entry.parent_source_id)
        parent = self.entries.get(entry.parent_id or "")
        return (entry.agent, entry.source_id, parent.source_id if parent else "")

    def add(self, entry: SourceEntry) -> None:
        """Record a session this import created."""
        self.entries[entry.session_id] = entry
        self._by_identity.setdefault(self.identity(entry), entry.session_id)

    def lookup(self, identity: Identity) -> str | None:
        """The p8j session of a source identity, or None if it was never imported."""
        return self._by_identity.get(identity)

    def inline_children(self, sid: str) -> list[str]:
        """The sessions made of records kept inline in `sid`'s own source file."""
        parent = self.entries.get(sid)
        if parent is None:
            return []
        return sorted(
            e.session_id
            for e in self.entries.values()
            if e.parent_id == sid and e.path == parent.path and e.path
        )


def read_source(file: SourceFile, offset: int = 0) -> bytes:
    """The file's bytes from `offset` on, decompressed; OSError, or P8jError for a bad archive.

    `offset` applies to an uncompressed file only (a compressed one is read whole).
    """
    if file.compressed is None and offset:
        with open(file.path, "rb") as f:
            f.seek(offset)
            return f.read()
    data = Path(file.path).read_bytes()
    if file.compressed is None:
        return data
    if file.compressed != "zstd":
        raise P8jError(f"unsupported compression {file.compressed!r}", path=file.path)
    try:
        import zstandard
    except ImportError as exc:
        raise P8jError(
            "reading .zst rollouts needs the zstandard package (pip install 'p8j[zstd]')",
            path=file.path,
        ) from exc
    try:
        with zstandard.ZstdDecompressor().stream_reader(data) as reader:
            return reader.read()
    except zstandard.ZstdError as exc:
        raise P8jError(f"cannot decompress: {exc}", path=file.path) from exc
