"""The store seam: what everything above the store may ask of where events are kept.

Contract (every backend; `p8j.journal.store.contract` checks it):
- A store holds sessions, each one append-only log of records (one encoded
  event per record, see codec), and content-addressed blobs.
- `Position` is where a log stands: opaque to callers, comparable, and
  encodable (a msgspec struct of two ints, so caches store it as is).
  ``epoch`` names one incarnation of a log (the file system: the inode; a
  rewrite makes a new one); ``offset`` grows with every record (the file
  system: bytes; a message stream: its sequence number). Positions compare
  as ``(epoch, offset)`` tuples, but only positions of one epoch are ordered
  meaningfully: a cached position `p` is a valid place to resume reading iff
  ``p.same_log(head) and p <= head``, where ``head`` is `SessionStore.head`.
- One writer per session: `open_writer` holds a lease until the writer is
  closed (or its process dies); a second one raises `SessionLockedError`.
  `holder` says whether someone is writing a session now (live vs crashed).
- A record handed to `StoreWriter.append` is whole in the log when it returns,
  or not there at all; readers never see half of one (a backend that can tear
  a tail on a crash, like the file system, reports it as `torn` and
  `repair_tail` sets it aside). `StoreWriter.append_many` appends several in
  one go (one write, one round trip) with the same guarantees (writing.py).
- Reading is verified (framing, checksum, seq, session, lifecycle) exactly as
  `LogCursor` documents; a store cursor adds `position`.
- `watch` reports changes after it returns: ``created`` (a new log, or a log
  replaced by a rewrite), ``appended`` and ``removed``. A change may be
  reported more than once, and one may stand for several (a log created and
  appended to between two waits may be reported as ``created`` only), so
  watchers re-read from their own position on any change; an empty list
  means a timeout or a stop, after which callers rescan.

Errors (all `P8jError` subclasses): a bad id or prefix raises
`InvalidSessionIdError`; an unknown or ambiguous one `SessionNotFoundError`;
a live writer `SessionLockedError`; a position of an older incarnation
`StalePositionError`; a missing blob `BlobMissingError`, a damaged one
`JournalIOError`; an oversized record `RecordTooLargeError`; an unencodable
event `InvalidEventError`; a hostile file system `UnsafePathError`; anything
else the backend's medium refuses (I/O, a missing log, a closed writer, a
watch that cannot start) `JournalIOError`.

Why `typing.Protocol` and not ABCs: backends need not inherit from p8j (a NATS
backend can live in its own package, and the file store wraps the existing
`LogWriter`/`LogCursor` classes), mypy checks conformance statically, and the
contract suite checks behaviour, which an ABC could not.

The NATS JetStream backend (store/nats) fits as: a stream per store, a
subject per session; ``offset`` = the stream sequence of the session's last
message, ``epoch`` = the sequence of its first one (a rewrite republishes,
then purges the old ones); one writer via ``Nats-Expected-Last-Subject-Sequence``
plus a KV lease with a TTL for `holder`; `watch` = an ordered consumer on the
subjects; blobs = the object store.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeGuard, runtime_checkable

import msgspec

from ..codec import DEFAULT_MAX_RECORD_BYTES
from ..events import AnyEvent, Event, UnknownEvent

# The reader's vocabulary, shared by every backend's cursor (records.py uses the same):
# what a cursor reports (`ReadIssue`), the error for a log without its start, the
# blobs its issues name, how a blob reference stands in a record and is put back,
# and who holds a session (`LockHolder`).
from .fs.blobs import missing_blob_hashes, placeholder
from .fs.blobs import resolve as resolve_blobs
from .fs.cursor import ReadIssue, missing_start_error
from .fs.layout import Home
from .writing import StoreWriter

if TYPE_CHECKING:  # loaded on first use (`__getattr__`): readers need neither
    from .fs.lock import LockHolder
    from .fs.writer import Durability

_WRITE_SIDE = {"Durability": "writer", "LockHolder": "lock"}


def __getattr__(name: str) -> Any:
    # The writer's and the lock's modules load only when a writer (or holder) needs them,
    # so a reader (`p8j ls`) that imports the seam does not pay for them.
    if name in _WRITE_SIDE:
        import importlib

        value = getattr(importlib.import_module(f".fs.{_WRITE_SIDE[name]}", __package__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Blobs",
    "Change",
    "ChangeKind",
    "EntryMap",
    "HomeStore",
    "LineTest",
    "LockHolder",
    "Position",
    "ReadIssue",
    "SessionStore",
    "StoreCursor",
    "StoreEntry",
    "StoreWatch",
    "StoreWriter",
    "is_home_store",
    "missing_blob_hashes",
    "missing_start_error",
    "placeholder",
    "resolve_blobs",
]

ChangeKind = Literal["appended", "created", "removed"]


class Position(msgspec.Struct, frozen=True, order=True, array_like=True):
    """Where a log stands: opaque, comparable within one log incarnation, encodable."""

    epoch: int
    offset: int

    def same_log(self, other: Position) -> bool:
        """True if both positions are in the same incarnation of a log (comparable)."""
        return self.epoch == other.epoch

    def encode(self) -> bytes:
        """Compact bytes for a cache (`decode` reads them back)."""
        return _ENC.encode(self)

    @staticmethod
    def decode(data: bytes) -> Position:
        """A position from `encode`'s bytes; ValueError if they are not one."""
        return _DEC.decode(data)


# A test of raw bytes: does data[start:end] hold what a search needs?
LineTest = Callable[[bytes | bytearray, int, int], bool]

_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(Position)


class Change(msgspec.Struct, frozen=True):
    """One change a watch saw: a log created (or replaced), appended to, or removed."""

    kind: ChangeKind
    session_id: str


class StoreEntry(Protocol):
    """One session as a listing sees it: its id, a cheap change marker, its head on demand."""

    @property
    def session_id(self) -> str:
        """The session's id."""
        ...

    @property
    def epoch(self) -> int:
        """The log's incarnation, known without reading it (the file system: the inode)."""
        ...

    def head(self) -> Position | None:
        """The log's current end (one stat on the file system); None if it is gone."""
        ...


class EntryMap:
    """Sessions as a listing takes them: ``epochs`` by id (a dict to pop), `entry` on demand."""

    __slots__ = ("_entries", "epochs")

    def __init__(self, entries: Iterable[StoreEntry] = ()) -> None:
        self._entries = {e.session_id: e for e in entries}
        self.epochs = {sid: e.epoch for sid, e in self._entries.items()}

    def entry(self, session_id: str) -> StoreEntry | None:
        """The session's entry, or None."""
        return self._entries.get(session_id)


@runtime_checkable
class StoreCursor(Protocol):
    """A resumable, verifying reader of one log (the `LogCursor` contract, plus `position`)."""

    session_id: str | None
    line: int
    next_seq: int
    state: str | None
    issues: list[ReadIssue]
    torn: ReadIssue | None

    @property
    def path(self) -> str | os.PathLike[str]:
        """What errors and issues name as the log's place (a file path, ``memory:<id>``)."""
        ...

    @property
    def position(self) -> Position:
        """The first byte (record) not yet consumed: where the next `read` starts."""
        ...

    @property
    def bytes_read(self) -> int:
        """Bytes of the records consumed since the cursor was made, each + 1 for its newline.

        As the records take as lines of a file, whatever `position` counts: listings
        keep a log's size with it (catalog.py), which a message stream's offsets are not.
        """
        ...

    def read(self, *, final: bool = True) -> Iterator[AnyEvent | UnknownEvent]:
        """Yield verified events from the position on (see cursor.py for `final`)."""
        ...

    def read_blocks(self, *, final: bool = True) -> Iterator[list[AnyEvent | UnknownEvent]]:
        """Like `read`, a list at a time, for readers that take every event."""
        ...

    def read_with_lines(
        self, *, final: bool = True
    ) -> Iterator[tuple[AnyEvent | UnknownEvent, bytes]]:
        """Like `read`, each event with its record exactly as stored (newline included).

        For ``--json`` output and jsonl export: a payload kept in a blob appears
        as its reference, as stored. JournalIOError if the log changed underneath.
        """
        ...


@runtime_checkable
class Blobs(Protocol):
    """Content-addressed payloads (SHA-256 names), shared by every session of a store."""

    def put(self, data: bytes) -> str:
        """Store `data` durably before returning; return its SHA-256 hex name."""
        ...

    def get(self, sha256: str, size: int | None = None) -> bytes:
        """The blob's bytes, checked; BlobMissingError, or JournalIOError if damaged."""
        ...


@runtime_checkable
class StoreWatch(Protocol):
    """A registered watch: every change after `SessionStore.watch` returned is reported."""

    def wait(self, timeout: float | None = None) -> list[Change]:
        """The changes seen since the last call, waiting up to `timeout` s; [] on timeout/stop."""
        ...

    def close(self) -> None:
        """Stop watching; idempotent."""
        ...


@runtime_checkable
class SessionStore(Protocol):
    """Where sessions are kept: list, resolve, write, read, rewrite, watch; and its blobs."""

    @property
    def url(self) -> str:
        """A string `open_store` opens this store again from (``file:///...``, ``memory:``)."""
        ...

    @property
    def blobs(self) -> Blobs:
        """The store's blobs."""
        ...

    def entries(self) -> Iterator[StoreEntry]:
        """Every session, in no particular order, each with its cheap change marker."""
        ...

    def session_ids(self) -> list[str]:
        """Ids of every session, sorted (= by start time)."""
        ...

    def resolve(self, ref: str) -> str:
        """A full id, a unique prefix, or ``latest`` -> the session id (see the module doc)."""
        ...

    def exists(self, session_id: str) -> bool:
        """True if the session's log exists."""
        ...

    def head(self, session_id: str) -> Position:
        """The log's current end; JournalIOError if there is no such log."""
        ...

    def holder(self, session_id: str) -> LockHolder | None:
        """Who is writing the session now, or None (nobody: paused, ended, or crashed)."""
        ...

    def open_writer(
        self,
        session_id: str,
        *,
        first: Event | None = None,
        durability: Durability = "default",
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        batch_interval_ms: float = 50.0,
        batch_max_events: int = 1024,
    ) -> StoreWriter:
        """Take the session's lease and open its log for appending.

        With `first` (the session's ``SessionStarted``) the log is created holding
        that event: a log never exists without its first line. Without it the
        existing log is opened. SessionLockedError if another writer holds it;
        JournalIOError if `first` is given and the log exists, or not and it does not.
        """
        ...

    def open_cursor(
        self,
        session_id: str,
        *,
        position: Position | None = None,
        line: int = 1,
        next_seq: int = 0,
        state: str | None = None,
        skip_corrupt: bool = False,
        resolve_blobs: bool = True,
    ) -> StoreCursor:
        """A verifying reader from `position` (the start when None) with its reader state.

        StalePositionError if `position` is of another incarnation of the log.
        """
        ...

    def rewrite(
        self, session_id: str, records: Iterable[bytes], *, expected: Position | None = None
    ) -> Position:
        """Replace the whole log by `records` (each one line, without its newline), atomically.

        Takes the session's lease for the rewrite (SessionLockedError while a
        writer holds it). If iterating `records` raises, or the log no longer
        stands at `expected`, nothing changes (the error propagates; a moved
        log raises StalePositionError). Returns the new log's head, of a new epoch.
        """
        ...

    def remove(self, session_id: str) -> None:
        """Delete a session's log; SessionLockedError while a writer holds it."""
        ...

    def watch(
        self, session_ids: Sequence[str] | None = None, *, stop: threading.Event | None = None
    ) -> StoreWatch:
        """Start watching (these sessions, or all); registered when this returns.

        JournalIOError if the store cannot watch (callers poll `entries` instead).
        """
        ...


@runtime_checkable
class HomeStore(SessionStore, Protocol):
    """A store kept as journal files in a home on this machine (the file store).

    What readers above the seam may use, checked with ``isinstance``, where the
    files allow much faster paths than the seam's generic ones: the derived
    caches kept in the home (catalog, search index), archived sessions, raw
    line scanning for search, and a watch tuned for `p8j tail`. Every store
    without them is read through the `SessionStore` methods alone.
    """

    @property
    def home(self) -> Home:
        """The journal home (its caches live in ``home.cache_dir``)."""
        ...

    def entry_map(self) -> EntryMap:
        """Every session's epoch, read at once (one directory read), and entries on demand."""
        ...

    def archived_ids(self) -> list[str]:
        """Ids of the archived sessions, sorted (checks the home)."""
        ...

    def is_archived(self, session_id: str) -> bool:
        """True if the session has no log but an archive."""
        ...

    def open_archived(
        self, session_id: str, *, skip_corrupt: bool = False, resolve_blobs: bool = True
    ) -> StoreCursor:
        """A verifying reader of an archived session (the same checks as a live log)."""
        ...

    def scan_lines(
        self, session_id: str, test: LineTest, *, offset: int = 0
    ) -> Iterator[tuple[int, bytes]]:
        """(offset, line) of each complete line from `offset` on that `test` may accept.

        A block of lines is skipped whole when `test` rejects it; lines that refer
        to blobs are always yielded (their values are not in the line).
        """
        ...

    def lines_at(
        self, session_id: str, places: Sequence[tuple[int, int]]
    ) -> Iterator[tuple[int, bytes]]:
        """(offset, line) at each (offset, length) place, in the order given."""
        ...

    def blob_intact(self, sha256: str, size: int) -> bool:
        """True if the blob is present with `size` bytes (its hash is not checked)."""
        ...

    def watch(
        self,
        session_ids: Sequence[str] | None = None,
        *,
        stop: threading.Event | None = None,
        debounce_ms: int = 20,
        step_ms: int = 2,
    ) -> StoreWatch:
        """Like `SessionStore.watch`, with the file watch's batching (see fs/watch.py)."""
        ...


_HOME_TYPES: dict[type, bool] = {}


def is_home_store(store: object) -> TypeGuard[HomeStore]:
    """``isinstance(store, HomeStore)``, decided once per type.

    A runtime protocol check looks up every member (~50 us for `HomeStore`);
    readers ask once per session, so the answer is kept per store class.
    """
    kind = type(store)
    known = _HOME_TYPES.get(kind)
    if known is None:
        known = _HOME_TYPES[kind] = isinstance(store, HomeStore)
    return known
