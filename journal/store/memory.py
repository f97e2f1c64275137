"""`MemoryStore`: the store seam kept in this process's memory, for tests and embedders.

Contract: the seam's semantics (see base.py) without a file system.
- Each log is a list of whole records (an append adds one, `append_many` all
  of its records, under the store's lock), so torn tails cannot happen;
  `repair_tail` is always a no-op.
- Positions are ``Position(epoch, offset)`` with ``offset`` the byte length of
  the records before it plus one newline each (as in a file), and a new epoch
  per created or rewritten log (a counter per store).
- One writer per session: a second `open_writer` raises `SessionLockedError`
  naming this process until the first is closed. `holder` names this process
  while a writer is open.
- Reading verifies each record as `LogCursor` does (checksum, decoding, seq,
  session, lifecycle); a rewrite may store any bytes, so corruption is still
  reported (or skipped and listed in `issues` with ``skip_corrupt``).
- Durability modes are accepted and mean nothing: the data dies with the process.
- Thread-safe: one lock guards every log; readers copy the records they read.
- Watches: see memory_watch.py.
"""

from __future__ import annotations

import bisect
import itertools
import os
import socket
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..codec import encode_event
from ..errors import (
    InvalidEventError,
    JournalIOError,
    RecordTooLargeError,
    SessionLockedError,
    SessionNotFoundError,
    StalePositionError,
)
from ..events import Event
from ..ids import is_session_id, validate_prefix, validate_session_id
from .base import Change, ChangeKind, Position
from .fs.lock import LockHolder
from .fs.writer import DEFAULT_MAX_RECORD_BYTES, DURABILITY_MODES, Durability
from .memory_blobs import MemoryBlobs
from .memory_watch import MemoryWatch
from .records import RecordCursor

__all__ = ["MemoryBlobs", "MemoryCursor", "MemoryStore", "MemoryWatch", "MemoryWriter"]


class _Log:
    """One session's records and the offset each starts at (``starts[-1]`` is the end)."""

    __slots__ = ("epoch", "records", "starts", "writer")

    def __init__(self, epoch: int, records: Iterable[bytes] = ()) -> None:
        self.epoch = epoch
        self.records: list[bytes] = []
        self.starts = [0]
        self.writer: MemoryWriter | None = None
        for r in records:
            self.add(r)

    def add(self, record: bytes) -> None:
        self.records.append(record)
        self.starts.append(self.starts[-1] + len(record) + 1)

    @property
    def head(self) -> Position:
        return Position(self.epoch, self.starts[-1])


class MemoryWriter:
    """The single appender of one in-memory log."""

    def __init__(
        self, store: MemoryStore, log: _Log, session_id: str, durability: Durability, cap: int
    ) -> None:
        self._store = store
        self._log = log
        self.session_id = session_id
        self.durability: Durability = durability
        self.max_record_bytes = cap
        self._closed = False
        self._failed: str | None = None
        self.last_record: bytes | None = None

    @property
    def position(self) -> Position:
        """The end of the log."""
        with self._store._cond:
            return self._log.head

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self._closed

    @property
    def failed(self) -> bool:
        """True once `fail` (or `check` finding the log removed) refused further appends."""
        return self._failed is not None

    def check(self) -> None:
        """JournalIOError (and fail) if the log was removed or replaced under the writer."""
        self._refuse()
        with self._store._cond:
            if self._store._logs.get(self.session_id) is not self._log:
                self._failed = f"the log of session {self.session_id} was removed or replaced"
        self._refuse()

    def fail(self, reason: str) -> None:
        """Refuse every later append with `reason`."""
        if self._failed is None:
            self._failed = reason

    def _refuse(self) -> None:
        if self._closed:
            raise JournalIOError(f"the writer of session {self.session_id} is closed")
        if self._failed is not None:
            raise JournalIOError(self._failed, path=f"memory:{self.session_id}")

    def append(self, event: Event, limit: int = 0) -> bytes:
        """Encode `event` and add it as one record; return the record with its newline."""
        return self.append_many((event,), limit)[0]

    def append_many(self, events: Sequence[Event], limit: int = 0) -> list[bytes]:
        """Encode `events` and add them as records in one step (all or none); return them."""
        self._refuse()
        cap = limit or self.max_record_bytes
        lines = [encode_event(event) for event in events]
        for event, line in zip(events, lines, strict=True):
            if len(line) > cap:
                raise RecordTooLargeError(
                    f"{type(event).__name__} record is {len(line)} bytes; the cap is {cap}"
                )
        if not lines:
            return lines
        with self._store._cond:
            if self._store._logs.get(self.session_id) is not self._log:
                raise JournalIOError(f"the log of session {self.session_id} was removed")
            for line in lines:
                self._log.add(line[:-1])
            self._store._notify("appended", self.session_id)
        self.last_record = lines[-1]
        return lines

    def sync(self) -> None:
        """Nothing to do (memory); JournalIOError once closed."""
        if self._closed:
            raise JournalIOError(f"the writer of session {self.session_id} is closed")

    def repair_tail(self, good_end: Position) -> int:
        """Always 0 (records are whole); StalePositionError for another epoch."""
        if good_end.epoch != self._log.epoch:
            raise StalePositionError("the position is of an earlier incarnation of the log")
        return 0

    def discard(self) -> None:
        """Close and remove the log."""
        if self._closed:
            return
        with self._store._cond:
            if self._store._logs.get(self.session_id) is self._log:
                del self._store._logs[self.session_id]
                self._store._notify("removed", self.session_id)
        self.close()

    def close(self, *, sync: bool = True) -> None:
        """Release the lease; idempotent."""
        with self._store._cond:
            self._closed = True
            if self._log.writer is self:
                self._log.writer = None


class MemoryCursor(RecordCursor):
    """A resumable, verifying reader of one in-memory log."""

    def __init__(self, store: MemoryStore, session_id: str, log: _Log, **kw: Any) -> None:
        self._store = store
        self._log = log
        super().__init__(f"memory:{session_id}", session_id, log.epoch, store.blobs, **kw)

    def _offset_of(self, index: int) -> int:
        return self._log.starts[index]

    def _fetch(self, index: int) -> list[bytes]:
        self._store._same_log(self._log, self.path)
        with self._store._cond:
            return self._log.records[index:]


class MemoryStore:
    """Sessions and blobs in memory, with the file store's semantics (see the module doc)."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._logs: dict[str, _Log] = {}
        self._epochs = itertools.count(1)
        self._watches: set[MemoryWatch] = set()
        self._blobs = MemoryBlobs()

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._logs)} sessions)"

    @property
    def url(self) -> str:
        """``memory:`` (each `open_store("memory:")` is a new, empty store)."""
        return "memory:"

    @property
    def blobs(self) -> MemoryBlobs:
        """The store's blobs."""
        return self._blobs

    def _notify(self, kind: ChangeKind, session_id: str) -> None:
        change = Change(kind, session_id)
        for w in self._watches:
            w.add(change)
        self._cond.notify_all()

    def _log(self, session_id: str) -> _Log:
        validate_session_id(session_id)
        log = self._logs.get(session_id)
        if log is None:
            raise JournalIOError("no such session log", path=f"memory:{session_id}")
        return log

    def _same_log(self, log: _Log, path: str) -> None:
        sid = path.removeprefix("memory:")
        with self._cond:
            now = self._logs.get(sid)
        if now is None:
            raise JournalIOError("no such log", path=path)
        if now is not log:
            raise StalePositionError("the log was replaced (rewritten) since", path=path)

    # -- listing ---------------------------------------------------------------------------

    def entries(self) -> Iterator[_MemoryEntry]:
        """Every session, each with its epoch."""
        with self._cond:
            logs = list(self._logs.items())
        for sid, log in logs:
            yield _MemoryEntry(self, sid, log.epoch)

    def session_ids(self) -> list[str]:
        """Ids of every session, sorted."""
        with self._cond:
            return sorted(self._logs)

    def resolve(self, ref: str) -> str:
        """A full id, a unique prefix, or ``latest`` -> the session id."""
        if ref != "latest":
            validate_prefix(ref)
            if is_session_id(ref) and ref in self._logs:
                return ref
        ids = self.session_ids()
        if ref == "latest":
            if not ids:
                raise SessionNotFoundError("no sessions in memory:")
            return ids[-1]
        matches = [i for i in ids if i.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise SessionNotFoundError(f"no session matches {ref!r} in memory:")
        raise SessionNotFoundError(
            f"session id {ref!r} is ambiguous: it matches {', '.join(matches[:10])}",
            candidates=matches,
        )

    def exists(self, session_id: str) -> bool:
        """True if the session has a log."""
        with self._cond:
            return validate_session_id(session_id) in self._logs

    def head(self, session_id: str) -> Position:
        """The log's end."""
        with self._cond:
            return self._log(session_id).head

    def holder(self, session_id: str) -> LockHolder | None:
        """This process while a writer is open, else None."""
        with self._cond:
            log = self._logs.get(validate_session_id(session_id))
            if log is None or log.writer is None:
                return None
        return LockHolder(pid=os.getpid(), host=socket.gethostname())

    # -- writing and reading ---------------------------------------------------------------

    def open_writer(
        self,
        session_id: str,
        *,
        first: Event | None = None,
        durability: Durability = "default",
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        batch_interval_ms: float = 50.0,
        batch_max_events: int = 1024,
    ) -> MemoryWriter:
        """Take the session's lease and open its log (created holding `first` if given)."""
        create = first is not None
        if durability not in DURABILITY_MODES:
            raise ValueError(f"durability must be one of {DURABILITY_MODES}, not {durability!r}")
        validate_session_id(session_id)
        path = f"memory:{session_id}"
        with self._cond:
            log = self._logs.get(session_id)
            if create and log is not None:
                raise JournalIOError("session log already exists", path=path)
            if not create and log is None:
                raise JournalIOError("no such session log", path=path)
            if log is not None and log.writer is not None:
                raise SessionLockedError(
                    f"session {session_id} is open for writing by pid {os.getpid()} in this "
                    "process",
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    path=path,
                )
            if first is not None:
                line = encode_event(first)  # refused before the log exists
                if len(line) > max_record_bytes:
                    raise RecordTooLargeError(
                        f"{type(first).__name__} record is {len(line)} bytes; "
                        f"the cap is {max_record_bytes}",
                        path=path,
                    )
                log = self._logs[session_id] = _Log(next(self._epochs))
            assert log is not None
            writer = MemoryWriter(self, log, session_id, durability, max_record_bytes)
            log.writer = writer
            if first is not None:
                writer.append(first)  # under the store's lock: never seen empty
                self._notify("created", session_id)
            return writer

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
    ) -> MemoryCursor:
        """A verifying reader from `position` (which must be at a record boundary)."""
        with self._cond:
            log = self._log(session_id)
            index = 0
            if position is not None:
                if position.epoch != log.epoch:
                    raise StalePositionError(
                        "the position is of an earlier incarnation of the log",
                        path=f"memory:{session_id}",
                    )
                index = bisect.bisect_left(log.starts, position.offset)
                if index >= len(log.starts) or log.starts[index] != position.offset:
                    raise JournalIOError(
                        f"position {position.offset} is not at a record boundary",
                        path=f"memory:{session_id}",
                    )
        return MemoryCursor(
            self,
            session_id,
            log,
            index=index,
            line=line,
            next_seq=next_seq,
            state=state,
            skip_corrupt=skip_corrupt,
            resolve_blobs=resolve_blobs,
        )

    # -- rewriting and removing ------------------------------------------------------------

    def rewrite(
        self, session_id: str, records: Iterable[bytes], *, expected: Position | None = None
    ) -> Position:
        """Replace the log by `records` atomically (a new epoch); see base.py."""
        path = f"memory:{session_id}"
        with self._cond:
            old = self._log(session_id)
            if old.writer is not None:
                raise SessionLockedError(
                    f"session {session_id} is open for writing in this process", path=path
                )
            if expected is not None and old.head != expected:
                raise StalePositionError("the log moved since the rewrite was planned", path=path)
        new_records = []
        for r in records:
            if b"\n" in r:
                raise InvalidEventError("a record may not contain a newline", path=path)
            new_records.append(bytes(r))
        with self._cond:
            if self._logs.get(session_id) is not old or old.writer is not None:
                raise StalePositionError("the log changed during the rewrite", path=path)
            if expected is not None and old.head != expected:
                raise StalePositionError("the log moved during the rewrite", path=path)
            new = self._logs[session_id] = _Log(next(self._epochs), new_records)
            self._notify("created", session_id)
            return new.head

    def remove(self, session_id: str) -> None:
        """Delete the session's log; SessionLockedError while a writer holds it."""
        with self._cond:
            log = self._log(session_id)
            if log.writer is not None:
                raise SessionLockedError(
                    f"session {session_id} is open for writing in this process",
                    path=f"memory:{session_id}",
                )
            del self._logs[session_id]
            self._notify("removed", session_id)

    # -- watching --------------------------------------------------------------------------

    def watch(
        self, session_ids: Sequence[str] | None = None, *, stop: threading.Event | None = None
    ) -> MemoryWatch:
        """A watch registered before this returns."""
        w = MemoryWatch(self._cond, session_ids, stop, self._watches.discard)
        with self._cond:
            self._watches.add(w)
        return w


class _MemoryEntry:
    __slots__ = ("_store", "epoch", "session_id")

    def __init__(self, store: MemoryStore, session_id: str, epoch: int) -> None:
        self._store = store
        self.session_id = session_id
        self.epoch = epoch

    def head(self) -> Position | None:
        with self._store._cond:
            log = self._store._logs.get(self.session_id)
            return log.head if log is not None else None
