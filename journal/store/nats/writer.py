"""`NatsWriter`: the single appender of one session's subject, acknowledged by JetStream.

The append protocol:
- Each record is one message on ``<prefix>.s.<session_id>`` with headers
  ``Nats-Msg-Id: <session_id>:<seq>`` (the event's stable id: a retried
  publish is stored once, within the stream's duplicate window) and
  ``Nats-Expected-Last-Subject-Sequence: <the subject's last stream seq>``
  (the server refuses the record if anyone else appended since: a second
  writer gets `SessionLockedError` even without the lease). The first record of
  a log (and of a rewrite) also carries ``P8j-Created: 1`` so watches tell a
  new log from an append without reading it.
- Retries (timeouts, lost connections, leader elections: 503) repeat the same
  headers for up to the store's retry horizon (~15 s); a "wrong last
  sequence" answer then compares the subject's last message with ours (same
  Msg-Id and bytes: it was stored, and is acknowledged now).
- `append` returns only after the server acknowledged the record; on any
  other outcome the caller gets an error and the writer's position does not
  move. A horizon that ran out leaves the outcome unknown: the writer fails
  (refuses appends) until the session is reopened, which reads the truth.
- `append_many` sends its records in atomic batches (batch.py: up to 1000
  records, one round trip each, the same ids and one-writer check, all or
  none per batch); on a stream without ``allow_atomic`` it publishes them one
  at a time as `append` does. Each batch moves the position once acknowledged.
- Durability: what the server's acknowledgement means (see `p8j store check`:
  only ``jetstream { sync_interval: always }`` fsyncs before acknowledging);
  `sync` has nothing to flush.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from ...codec import encode_event
from ...errors import JournalIOError, RecordTooLargeError, SessionLockedError, StalePositionError
from ...events import Event
from ..base import Position
from ..fs.writer import Durability
from .batch import MAX_BATCH, MAX_BATCH_BYTES, AtomicOff, publish_batch
from .conn import Conflict
from .kept import noted
from .lease import Lease

if TYPE_CHECKING:
    from .store import NatsStore

__all__ = ["HEADER_ROOM", "NatsWriter"]

# Room left in the server's max payload for the headers (ids, expected seq).
HEADER_ROOM = 512


class NatsWriter:
    """The single appender of one session's subject (see the module doc)."""

    def __init__(
        self,
        store: NatsStore,
        session_id: str,
        lease: Lease,
        epoch: int,
        last: int,
        durability: Durability,
        cap: int,
    ) -> None:
        self._store = store
        self.session_id = session_id
        self._subject = store.config.subject(session_id)
        self._lease = lease
        self._epoch = epoch
        self._last = last
        self.durability: Durability = durability
        self.max_record_bytes = cap
        self._closed = False
        self._failed: str | None = None
        self.last_record: bytes | None = None
        # Looked up once: each lookup is a hop to the store's loop thread and back, which
        # cost as much as the rest of an append's own work (two hops per append before).
        self._conn = store.call(store.aconn())
        self._room = self._conn.max_payload - HEADER_ROOM
        self._msg_id = f"{session_id}:"

    @property
    def path(self) -> str:
        """Where errors say the log is."""
        return self._store.place(self.session_id)

    @property
    def position(self) -> Position:
        """Position(first seq of the log, stream seq of its last record)."""
        return Position(self._epoch, self._last)

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self._closed

    @property
    def failed(self) -> bool:
        """True once an append's outcome was unknown or `fail` was called."""
        return self._failed is not None

    def _refuse(self) -> None:
        if self._closed:
            raise JournalIOError(f"the writer of session {self.session_id} is closed")
        if self._failed is not None:
            raise JournalIOError(self._failed, path=self.path)

    def check(self) -> None:
        """JournalIOError (and fail) if the log was removed or rewritten under the writer."""
        self._refuse()
        first = self._store.first_seq(self.session_id)
        if first != self._epoch:
            self._failed = f"the log of session {self.session_id} was removed or replaced"
        self._refuse()

    def fail(self, reason: str) -> None:
        """Refuse every later append with `reason`."""
        if self._failed is None:
            self._failed = reason

    def append(self, event: Event, limit: int = 0) -> bytes:
        """Publish `event` as one record; return it (with its newline) once acknowledged."""
        if self._closed or self._failed is not None:
            self._refuse()
        line = encode_event(event)
        if len(line) > (limit or self.max_record_bytes) or len(line) > self._room:
            self._too_large(event, line, limit)
        self._last = self._publish(line[:-1], f"{self._msg_id}{event.seq}", self._last)
        self.last_record = line
        return line

    def append_many(self, events: Sequence[Event], limit: int = 0) -> list[bytes]:
        """Publish `events` in atomic batches; return their records once all are acknowledged."""
        self._refuse()
        lines = [encode_event(event) for event in events]
        cap = min(limit or self.max_record_bytes, self._room)
        for event, line in zip(events, lines, strict=True):
            if len(line) > cap:
                self._too_large(event, line, limit)
        start = 0
        while start < len(lines):
            end, size = start, 0
            while end < len(lines) and end - start < MAX_BATCH and size < MAX_BATCH_BYTES:
                size += len(lines[end])
                end += 1
            self._publish_many(lines[start:end], events[start:end])
            start = end
        return lines

    def _too_large(self, event: Event, line: bytes, limit: int) -> NoReturn:
        cap = min(limit or self.max_record_bytes, self._room)
        raise RecordTooLargeError(
            f"{type(event).__name__} record is {len(line)} bytes; the cap is {cap}",
            path=self.path,
        )

    def _publish_many(self, lines: list[bytes], events: Sequence[Event]) -> None:
        """One atomic batch, or (a stream without them) one publish per record."""
        store, conn = self._store, self._conn
        records = [line[:-1] for line in lines]
        ids = [f"{self._msg_id}{event.seq}" for event in events]
        if conn.atomic:
            subject, expected = self._subject, self._last

            def batch() -> int:
                return store.call(publish_batch(conn, subject, records, ids, expected))

            try:
                self._last = self._guarded(batch, expected)
                self.last_record = lines[-1]
                return
            except AtomicOff:
                conn.atomic = False  # turned off under us: one at a time
        for line, record, msg_id in zip(lines, records, ids, strict=True):
            self._last = self._publish(record, msg_id, self._last)
            self.last_record = line

    def _publish(self, record: bytes, msg_id: str, expected: int) -> int:
        # Straight to the connection's coroutine: one hop to the loop, no wrapper coroutine.
        publish = self._conn.publish(self._subject, record, msg_id, expected)
        return self._guarded(lambda: self._store.call(publish), expected)

    def _guarded(self, publish: Callable[[], int], expected: int) -> int:
        try:
            # Noted for the watch's kept records (kept.py): a read in this process
            # then takes kept records only once they reach this acknowledged append.
            return noted(self._store, self.session_id, publish())
        except Conflict as exc:
            self.fail(f"session {self.session_id} was appended to by another writer")
            raise SessionLockedError(
                f"session {self.session_id} was appended to by another writer "
                f"(stream seq {exc.last_seq or 'unknown'}, expected {expected})",
                path=self.path,
            ) from exc
        except JournalIOError as exc:
            self.fail(f"an append to session {self.session_id} was not acknowledged: {exc}")
            raise

    def sync(self) -> None:
        """Nothing to flush: an append returns once the server acknowledged it."""
        if self._closed:
            raise JournalIOError(f"the writer of session {self.session_id} is closed")

    def repair_tail(self, good_end: Position) -> int:
        """Always 0 (messages are whole); StalePositionError for another epoch."""
        if good_end.epoch != self._epoch:
            raise StalePositionError(
                "the position is of an earlier incarnation of the log", path=self.path
            )
        return 0

    def discard(self) -> None:
        """Purge the log (a creation that failed) and release the lease."""
        if self._closed:
            return
        self.fail("discarded")
        try:
            self._store.purge(self.session_id)
        finally:
            self.close(sync=False)

    def close(self, *, sync: bool = True) -> None:
        """Record the summary and release the lease; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._failed is None:
                self._store.put_summary(self.session_id, self.position)
        finally:
            self._store.release(self._lease)
