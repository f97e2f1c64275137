"""The writer side of the store seam: `StoreWriter`, the single appender of one session's log.

Contract (every backend; `p8j.journal.store.contract` and `contract_batch` check it):
- `append` puts one event's record in the log: whole when it returns, or not
  there at all.
- `append_many` puts several, in order, in as few writes (file store: one
  ``write()`` of all the lines; memory: one step under the store's lock;
  NATS: atomic batches of up to 1000 messages, one round trip each) as the
  backend allows. Every record is encoded and checked against the cap first:
  if one is refused (RecordTooLargeError, InvalidEventError) nothing is
  written. When it returns, every record is in the log, acknowledged as
  `append` would have (same durability, same one-writer check, same dedup on
  retry). On any other error, the records of the failing write are not in the
  log; on a backend that needs several writes (NATS past one batch) the ones
  before it are, and `position` and `last_record` say so.
- An empty `append_many` writes nothing and returns ``[]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..events import Event

if TYPE_CHECKING:  # annotations only: base imports this module
    from .base import Position
    from .fs.writer import Durability

__all__ = ["StoreWriter"]


@runtime_checkable
class StoreWriter(Protocol):
    """The single appender of one session's log; holds its lease while open."""

    @property
    def session_id(self) -> str:
        """The session written."""
        ...

    @property
    def durability(self) -> Durability:
        """The writer's durability mode (see writer.py)."""
        ...

    @property
    def position(self) -> Position:
        """The end of the log after the last record appended (or repaired)."""
        ...

    @property
    def closed(self) -> bool:
        """True once closed."""
        ...

    @property
    def failed(self) -> bool:
        """True once an I/O failure made the writer refuse appends (reopen to continue)."""
        ...

    @property
    def last_record(self) -> bytes | None:
        """The last record committed by this writer (with its newline), None before any."""
        ...

    def check(self) -> None:
        """Raise (JournalIOError, UnsafePathError) and fail if the log is no longer in place."""
        ...

    def fail(self, reason: str) -> None:
        """Refuse every later append with JournalIOError(`reason`) until the log is reopened."""
        ...

    def append(self, event: Event, limit: int = 0) -> bytes:
        """Append one event as one record; return the record's bytes once it is in the log.

        RecordTooLargeError (over the cap, or `limit`), InvalidEventError,
        JournalIOError (I/O, a failed or closed writer); nothing is written then.
        """
        ...

    def append_many(self, events: Sequence[Event], limit: int = 0) -> list[bytes]:
        """Append `events` in order; return their records once all are in the log.

        Checks every record first (RecordTooLargeError, InvalidEventError: nothing
        is written); JournalIOError and SessionLockedError as `append` (see the
        module doc for what is in the log then).
        """
        ...

    def sync(self) -> None:
        """Make every appended record durable now; JournalIOError on failure."""
        ...

    def repair_tail(self, good_end: Position) -> int:
        """Set aside whatever follows `good_end` (a torn tail); return how much was moved.

        StalePositionError if `good_end` is of another incarnation.
        """
        ...

    def discard(self) -> None:
        """Close without syncing and remove the log (a creation that failed); idempotent."""
        ...

    def close(self, *, sync: bool = True) -> None:
        """Sync (unless told not to), close and release the lease; idempotent."""
        ...
