"""The batched append's part of the store contract (`StoreWriter.append_many`, writing.py).

Contract: `BatchAppendContract` is a mixin of ``test_*`` methods that
`StoreContract` (contract.py) inherits, so every backend that runs the
contract runs these too. They check that `append_many` stores its records in
order, exactly as `append` would (same bytes, same reading), returns them,
moves the position and ``last_record``, interleaves with `append`, writes
nothing when any record is refused, writes nothing for an empty list,
refuses on a failed or closed writer, spans more records than one NATS
atomic batch takes, and is reported by a watch.
"""

from __future__ import annotations

import time
from typing import Any

from ..codec import encode_event
from ..errors import JournalIOError, P8jError, RecordTooLargeError
from ..events import (
    SCHEMA_VERSION,
    AnyEvent,
    Event,
    MessageRecorded,
    SessionStarted,
    UnknownEvent,
)
from ..ids import new_session_id
from .base import Change, SessionStore, StoreWriter

__all__ = ["BatchAppendContract"]

_TS = "2026-01-01T00:00:00.000000Z"
_WATCH_TIMEOUT_S = 10.0


def _check(ok: object, message: str) -> None:
    if not ok:
        raise AssertionError(message)


def _expect(kind: type[P8jError], call: Any) -> None:
    try:
        call()
    except kind:
        return
    raise AssertionError(f"expected {kind.__name__}, nothing was raised")


def _message(sid: str, seq: int, content: Any = "hi") -> MessageRecorded:
    return MessageRecorded(SCHEMA_VERSION, sid, seq, _TS, role="user", content=content)


class BatchAppendContract:
    """`append_many` checks (mixed into `StoreContract`; `store` is the store under test)."""

    store: SessionStore

    def _open(self) -> tuple[str, StoreWriter]:
        sid = new_session_id()
        return sid, self.store.open_writer(
            sid, first=SessionStarted(SCHEMA_VERSION, sid, 0, _TS, project_name="proj")
        )

    def _events(self, sid: str) -> list[AnyEvent | UnknownEvent]:
        return list(self.store.open_cursor(sid).read())

    def test_append_many_stores_records_in_order_as_append_would(self) -> None:
        sid, w = self._open()
        batch: list[Event] = [_message(sid, s, f"m{s}") for s in range(1, 6)]
        before = w.position
        lines = w.append_many(batch)
        _check(lines == [encode_event(e) for e in batch], "append_many returned other records")
        _check(w.last_record == lines[-1], "last_record is not the batch's last record")
        _check(before < w.position and before.same_log(w.position), "the position did not grow")
        _check(self.store.head(sid) == w.position, "head is not the writer's position")
        w.close()
        got = self._events(sid)
        _check(got[1:] == batch, f"read back {got[1:]!r}, wrote {batch!r}")
        stored = [raw for _, raw in self.store.open_cursor(sid).read_with_lines()]
        _check(stored[1:] == lines, "the stored records differ from the returned ones")

    def test_append_many_interleaves_with_append(self) -> None:
        sid, w = self._open()
        w.append(_message(sid, 1))
        w.append_many([_message(sid, 2), _message(sid, 3)])
        w.append(_message(sid, 4))
        w.append_many([_message(sid, 5)])
        w.close()
        _check([e.seq for e in self._events(sid)] == [0, 1, 2, 3, 4, 5], "seqs out of order")

    def test_append_many_of_nothing_writes_nothing(self) -> None:
        sid, w = self._open()
        before, last = w.position, w.last_record
        _check(w.append_many([]) == [], "an empty batch returned records")
        _check(w.position == before and w.last_record == last, "an empty batch moved the log")
        w.close()
        _check(len(self._events(sid)) == 1, "an empty batch wrote a record")

    def test_append_many_refuses_an_oversized_record_and_writes_nothing(self) -> None:
        sid, w = self._open()
        before = w.position
        batch = [_message(sid, 1), _message(sid, 2, "x" * 1000), _message(sid, 3)]
        _expect(RecordTooLargeError, lambda: w.append_many(batch, limit=300))
        _check(w.position == before == self.store.head(sid), "a refused batch moved the log")
        _check(not w.failed, "a refused batch failed the writer")
        w.append_many([_message(sid, 1), _message(sid, 2)])  # the seqs are still free
        w.close()
        _check([e.seq for e in self._events(sid)] == [0, 1, 2], "the log holds a refused record")

    def test_append_many_refuses_on_a_failed_or_closed_writer(self) -> None:
        sid, w = self._open()
        w.fail("told to")
        _expect(JournalIOError, lambda: w.append_many([_message(sid, 1)]))
        w.close()
        _expect(JournalIOError, lambda: w.append_many([_message(sid, 1)]))
        _check(len(self._events(sid)) == 1, "a failed or closed writer appended")

    def test_append_many_past_one_atomic_batch(self) -> None:
        sid, w = self._open()
        n = 1234  # more than the 1000 messages of one NATS atomic batch
        lines = w.append_many([_message(sid, s, s) for s in range(1, n + 1)])
        _check(len(lines) == n and w.last_record == lines[-1], "not every record was returned")
        w.close()
        got = self._events(sid)
        _check([e.seq for e in got] == list(range(n + 1)), "a long batch was not stored whole")

    def test_watch_reports_a_batch(self) -> None:
        sid, w = self._open()
        watch = self.store.watch([sid])
        try:
            w.append_many([_message(sid, 1), _message(sid, 2)])
            deadline = time.monotonic() + _WATCH_TIMEOUT_S
            seen: list[Change] = []
            while Change("appended", sid) not in seen and time.monotonic() < deadline:
                seen.extend(watch.wait(deadline - time.monotonic()))
            _check(Change("appended", sid) in seen, f"no appended change for a batch: {seen}")
        finally:
            watch.close()
            w.close()
