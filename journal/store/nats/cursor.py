"""`NatsCursor`: the verifying reader of one session's subject (a `RecordCursor`).

Contract: positions are ``Position(epoch, offset)`` with ``epoch`` the stream
seq of the log's first record and ``offset`` the stream seq of the last record
consumed (``epoch - 1`` before the first): so a cursor read to the end stands
at `SessionStore.head`. Each read takes the records after ``offset`` that the
store's watch received and kept (kept.py: known complete, no round trip), or
else fetches them with batched direct gets (fetch.py; no consumer is
created), then checks the log is still the same incarnation
(`NatsStore.visible`: rewrite.py's view, which also drops an interrupted
rewrite's records): a rewritten or removed log raises `StalePositionError` /
`JournalIOError`. Records that are all appends need no check: a rewrite
publishes its new records after the old ones, the first with ``P8j-Created``,
so a read from ``offset`` past a rewrite always includes that record.
Verification is `RecordCursor`'s.

`catch_up` is the store's read, `last_seen` its head's last record: records
a watch already saw (their stream seqs go to `NatsStore.saw`) are known to
exist, so a read that returns less (a direct get answered by a replica that
has not applied them yet) asks again, for up to ``_CATCH_UP_S``: a follower
woken by a change gets the record, not nothing followed by its wait timing
out.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ..records import RecordCursor
from .fetch import fetch
from .kept import kept_of

if TYPE_CHECKING:
    from .conn import Conn, Stored
    from .store import NatsStore

__all__ = ["NatsCursor", "catch_up", "last_seen"]

# How long a read keeps asking for records a watch has seen (replicas apply within ms).
_CATCH_UP_S = 0.5
_CATCH_UP_PAUSE_S = 0.001


async def catch_up(conn: Conn, subject: str, offset: int, seen: int) -> list[Stored]:
    """The subject's records after stream seq `offset`, through `seen` if it can."""
    got = await fetch(conn, subject, offset + 1)
    deadline = time.monotonic() + _CATCH_UP_S
    # A replica behind the one that delivered to the watch answers with less: ask again
    # (a round trip each, after a pause) until it has caught up.
    while (got[-1].seq if got else offset) < seen and time.monotonic() < deadline:
        await asyncio.sleep(_CATCH_UP_PAUSE_S)
        got.extend(await fetch(conn, subject, (got[-1].seq if got else offset) + 1))
    return got


async def last_seen(conn: Conn, subject: str, seen: int) -> Stored | None:
    """The subject's last record, at least `seen` if it can (as `catch_up` waits)."""
    last = await conn.last(subject)
    deadline = time.monotonic() + _CATCH_UP_S
    while (last.seq if last else 0) < seen and time.monotonic() < deadline:
        await asyncio.sleep(_CATCH_UP_PAUSE_S)
        last = await conn.last(subject)
    return last


class NatsCursor(RecordCursor):
    """A resumable, verifying reader of one session's subject."""

    def __init__(
        self, store: NatsStore, session_id: str, epoch: int, offset: int, **kw: Any
    ) -> None:
        self._store = store
        self._base: int = kw.get("index", 0)
        self._ends = [offset]  # _ends[i - _base]: the offset before record i
        super().__init__(store.place(session_id), session_id, epoch, store.blobs, **kw)

    def _offset_of(self, index: int) -> int:
        return self._ends[index - self._base]

    def _fetch(self, index: int) -> list[bytes]:
        assert self.session_id is not None
        del self._ends[index - self._base + 1 :]
        after = self._ends[-1]
        kept = kept_of(self._store)  # what a watch received (kept.py): no round trip
        got = kept.take(self.session_id, after) if kept is not None else None
        if got is None:
            got = self._store.read_after(self.session_id, after)
        if got and not any("P8j-Created" in m.headers for m in got):
            # Appends only: a rewrite's (or a new log's) first record after `after`
            # would carry the header, so this is still the epoch's log: no lookup.
            self._ends.extend(m.seq for m in got)
            return [m.data for m in got]
        got = self._store.visible(self.session_id, self.epoch, got)  # rewrite.py: stale, or part
        self._ends.extend(m.seq for m in got)
        return [m.data for m in got]
