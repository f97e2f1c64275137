"""rewrite.py's protocol against a model, on an in-memory subject (no server): property tests.

A fake connection keeps one subject's messages as JetStream would (stream
seqs that grow with gaps, expected-last-sequence checks, purges below a
seq) and fails the k-th publish or purge, before or after it took effect.
Hypothesis drives appends (after recovery, as `open_writer` does), rewrites
that die at any step, and recoveries; after each, the log `view` names must
be the model's (old until the commit, new after), and every cursor of the
logs seen so far must read the model's records after its offset or learn its
log is stale, never a mix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from p8j.journal.errors import JournalIOError
from p8j.journal.store.base import Position
from p8j.journal.store.nats import rewrite as rw
from p8j.journal.store.nats.config import NatsConfig
from p8j.journal.store.nats.conn import Conflict, Stored

SID = "00000000-0000-4000-8000-000000000001"


class _Died(JournalIOError):
    """The injected failure."""


class _FakeJS:
    async def publish(self, subject: str, value: bytes) -> None:
        """Summaries: not part of the log."""


class _FakeConn:
    """One subject of a stream, as the protocol sees it through `Conn`."""

    def __init__(self, gaps: list[int]) -> None:
        self.config = NatsConfig.parse("nats://127.0.0.1:4222")
        self.js = _FakeJS()
        self.msgs: list[Stored] = []
        self.seq = 0
        self._gaps = gaps  # other sessions' messages between ours
        self.fail_at: tuple[int, bool] | None = None  # (k-th call, after it took effect)
        self.calls = 0

    def _maybe_fail(self, effect: Any) -> None:
        if self.fail_at is not None and self.calls == self.fail_at[0]:
            after = self.fail_at[1]
            self.fail_at = None
            if after:
                effect()
            raise _Died("injected")
        self.calls += 1
        effect()

    async def publish(
        self,
        subject: str,
        data: bytes,
        msg_id: str,
        expected: int | None,
        extra: Mapping[str, str] | None = None,
    ) -> int:
        last = self.msgs[-1].seq if self.msgs else 0
        if expected is not None and expected != last:
            raise Conflict("wrong last sequence", last)

        def store() -> None:
            self.seq += 1 + (self._gaps.pop() if self._gaps else 0)
            self.msgs.append(Stored(self.seq, data, {"Nats-Msg-Id": msg_id, **(extra or {})}))

        self._maybe_fail(store)
        return self.seq

    async def purge(self, subject: str, keep_from: int | None = None) -> None:
        def purge() -> None:
            self.msgs = [m for m in self.msgs if keep_from is not None and m.seq >= keep_from]

        self._maybe_fail(purge)

    async def first(self, subject: str) -> Stored | None:
        return self.msgs[0] if self.msgs else None

    async def last(self, subject: str) -> Stored | None:
        return self.msgs[-1] if self.msgs else None

    async def read(self, subject: str, start: int) -> list[Stored]:
        return [m for m in self.msgs if m.seq >= start]


class _Store:
    """What `rewrite.recover` asks of a store: its connection."""

    def __init__(self, conn: _FakeConn) -> None:
        self.conn = conn

    async def aconn(self) -> _FakeConn:
        return self.conn


def _view(conn: _FakeConn) -> tuple[Position, list[bytes]]:
    head = rw.view(conn.msgs[0], conn.msgs[-1])
    assert head is not None
    return head, [m.data for m in conn.msgs if head.epoch <= m.seq <= head.offset]


_records = st.lists(st.binary(min_size=1, max_size=4), min_size=1, max_size=5)
_Op = tuple[str, list[bytes], tuple[int, bool] | None]
_op: st.SearchStrategy[_Op] = st.one_of(
    st.tuples(st.just("append"), _records, st.none()),
    st.tuples(
        st.just("rewrite"), _records, st.tuples(st.integers(0, 6), st.booleans()) | st.none()
    ),
    st.tuples(st.just("recover"), st.just([]), st.tuples(st.integers(0, 6), st.booleans())),
)


@settings(max_examples=300, deadline=None)
@given(
    first=_records,
    ops=st.lists(_op, max_size=8),
    gaps=st.lists(st.integers(0, 3), max_size=60),
)
def test_readers_see_the_model_log_through_any_failure(
    first: list[bytes], ops: list[_Op], gaps: list[int]
) -> None:
    conn = _FakeConn(gaps)
    store: Any = _Store(conn)
    for data in first:
        asyncio.run(conn.publish("s", data, "id", conn.seq if conn.msgs else 0))
    model = list(first)
    cursors: list[tuple[Position, int, list[bytes]]] = []  # (head, offset, model log then)
    for kind, records, fail in ops:
        head, log = _view(conn)
        assert log == model
        # A cursor at every record of this log (and before the first).
        cursors += [(head, head.epoch - 1, list(log))]
        cursors += [
            (head, m.seq, list(log)) for m in conn.msgs if head.epoch <= m.seq <= head.offset
        ]
        conn.fail_at, conn.calls = fail, 0
        try:
            if kind == "append":
                asyncio.run(rw.recover(store, SID))  # what open_writer does first
                _, model = _view(conn)
                for data in records:
                    asyncio.run(conn.publish("s", data, "id", conn.msgs[-1].seq))
                model += records
            elif kind == "rewrite":
                last = conn.msgs[-1].seq
                asyncio.run(rw.replace(conn, SID, head, last, records))  # type: ignore[arg-type]
                model = list(records)
            else:
                asyncio.run(rw.recover(store, SID))
        except _Died:
            # Committed iff the rewrite's last record was stored; a recovery never changes it.
            committed = kind == "rewrite" and any(
                rw.COMMIT in m.headers
                and m.headers.get("Nats-Msg-Id", "").endswith(f":{len(records) - 1}")
                and m.seq > head.offset
                for m in conn.msgs
            )
            model = list(records) if committed else model
        assert _view(conn)[1] == model
        _check_cursors(conn, cursors, model)
    asyncio.run(rw.recover(store, SID))
    assert rw.leftover(SID, conn.msgs[0], conn.msgs[-1]) is None
    assert conn.msgs[0].seq == _view(conn)[0].epoch and _view(conn)[1] == model


def _check_cursors(
    conn: _FakeConn, cursors: list[tuple[Position, int, list[bytes]]], model: list[bytes]
) -> None:
    """Each cursor reads the rest of its log, if that is still the log; else it is stale."""
    now, _ = _view(conn)
    for head, offset, log in cursors:
        got = [m for m in conn.msgs if m.seq > offset]
        if not got:
            continue  # nothing new: the store's first-seq check (a server test covers it)
        seen = rw.visible(got, head.epoch, conn.msgs[0].seq)
        if seen is None:
            assert head.epoch != now.epoch
            continue
        assert head.epoch == now.epoch
        before = [m.data for m in conn.msgs if head.epoch <= m.seq <= offset]
        assert before + [m.data for m in seen] == model
        assert log[: len(before)] == before
