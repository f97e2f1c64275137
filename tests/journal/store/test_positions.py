"""Positions, property-tested on both backends side by side: a cursor from any position
a writer reported reads exactly the events after it, and the backends agree."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from p8j.journal.ids import new_session_id
from p8j.journal.store import FileStore, MemoryStore, Position, SessionStore
from p8j.journal.store.contract import message, start

_contents = st.lists(
    st.one_of(st.text(max_size=40), st.lists(st.integers(), max_size=3)), max_size=12
)


def _write(store: SessionStore, sid: str, contents: list[object]) -> list[Position]:
    w = store.open_writer(sid, first=start(sid))
    positions = [w.position]
    for seq, content in enumerate(contents, start=1):
        w.append(message(sid, seq, content))
        positions.append(w.position)
    w.close()
    return positions


@settings(max_examples=40, deadline=None)
@given(contents=_contents, data=st.data())
def test_a_cursor_from_any_position_reads_the_rest(
    contents: list[object], data: st.DataObject
) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="p8j-pos-"))
    try:
        stores: list[SessionStore] = [FileStore(tmp / "home"), MemoryStore()]
        sid = new_session_id()
        reads = []
        for store in stores:
            positions = _write(store, sid, contents)
            assert positions == sorted(positions) and len(set(positions)) == len(positions)
            assert all(p.same_log(positions[0]) for p in positions)
            i = data.draw(st.integers(0, len(positions) - 1), label="from event")
            cursor = store.open_cursor(sid, position=positions[i], next_seq=i + 1, state="active")
            got = list(cursor.read())
            assert [e.seq for e in got] == list(range(i + 1, len(contents) + 1))
            assert [getattr(e, "content", None) for e in got] == contents[i:]
            assert cursor.position == positions[-1] == store.head(sid)
            reads.append([p.offset for p in positions])
        # Both count bytes of records plus their newlines: the same offsets everywhere.
        assert reads[0] == reads[1]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@given(st.integers(0, 2**63), st.integers(0, 2**63), st.integers(0, 2**63), st.integers(0, 2**63))
def test_positions_order_as_tuples_and_round_trip(a: int, b: int, c: int, d: int) -> None:
    p, q = Position(a, b), Position(c, d)
    assert (p < q) == ((a, b) < (c, d)) and (p == q) == ((a, b) == (c, d))
    assert Position.decode(p.encode()) == p
    assert p.same_log(q) == (a == c)
