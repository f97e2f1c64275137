"""kept.py: a watch's records are handed to readers only while known complete."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p8j.journal.store.nats import kept as kept_module
from p8j.journal.store.nats.conn import Stored
from p8j.journal.store.nats.kept import Kept, forget, keep, kept_of, noted, unkeep


def _seqs(got: list[Stored] | None) -> list[int] | None:
    return None if got is None else [m.seq for m in got]


def _delivered(kept: Kept, *messages: tuple[str, int]) -> None:
    for dseq, (sid, seq) in enumerate(messages, 1):
        kept.deliver(sid, Stored(seq, b"r%d" % seq), dseq)


def test_records_delivered_since_the_start_are_taken() -> None:
    kept = Kept()
    kept.start(10)
    _delivered(kept, ("a", 12), ("b", 13), ("a", 14))
    assert _seqs(kept.take("a", 10)) == [12, 14]
    assert _seqs(kept.take("a", 12)) == [14]
    assert kept.take("a", 14) is None  # nothing new kept: the caller asks the server
    assert kept.take("b", 5) is None  # from before keeping began: b's 6..10 are not kept
    assert _seqs(kept.take("b", 10)) == [13]
    assert kept.take("a", 10) is None  # a reader at 12 took: what was before it went


def test_a_gap_in_the_deliveries_forgets_what_was_kept() -> None:
    kept = Kept()
    kept.start(0)
    kept.deliver("a", Stored(1, b"1"), 1)
    kept.deliver("a", Stored(3, b"3"), 3)  # delivery 2 was lost on the way (or a reset)
    assert kept.take("a", 0) is None  # seq 2 may be a's: not known complete
    assert _seqs(kept.take("a", 2)) == [3]
    kept.deliver("a", Stored(4, b"4"), 1)  # an ordered consumer's reset starts at 1 again
    assert kept.take("a", 2) is None and _seqs(kept.take("a", 3)) == [4]


def test_an_append_acknowledged_here_but_not_delivered_yet_goes_to_the_server() -> None:
    kept = Kept()
    kept.start(0)
    _delivered(kept, ("a", 1))
    kept.wrote("a", 2)
    assert kept.take("a", 0) is None
    kept.deliver("a", Stored(2, b"2"), 2)
    assert _seqs(kept.take("a", 0)) == [1, 2]


def test_a_repeated_delivery_is_kept_once_and_a_removed_session_is_forgotten() -> None:
    kept = Kept()
    kept.start(0)
    _delivered(kept, ("a", 1), ("a", 1), ("a", 2))
    assert _seqs(kept.take("a", 0)) == [1, 2]
    kept.forget("a")
    assert kept.take("a", 0) is None


def test_past_the_bounds_the_oldest_go_and_reads_from_before_them_go_to_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kept_module, "_KEEP_BYTES", 10)
    kept = Kept()
    kept.start(0)
    _delivered(kept, *(("a", seq) for seq in range(1, 7)))  # 2 bytes each
    assert kept.take("a", 0) is None
    got = _seqs(kept.take("a", 5))
    assert got == [6]
    monkeypatch.setattr(kept_module, "_KEEP_ALL_BYTES", 3)
    kept.deliver("b", Stored(7, b"1234"), 7)
    assert kept.take("b", 0) is None and kept.take("a", 5) is None


def test_one_keep_per_store_held_for_it() -> None:
    class Store:
        pass

    store = Store()
    first = keep(store)
    assert first is not None and keep(store) is None and kept_of(store) is first
    first.start(0)
    assert noted(store, "a", 5) == 5
    _delivered(first, ("a", 4))
    assert first.take("a", 0) is None  # 5 was acknowledged here and not delivered yet
    forget(store, "a")
    unkeep(store, first)
    assert kept_of(store) is None and noted(store, "a", 6) == 6
    assert keep(store) is not None


@given(
    st.lists(st.tuples(st.sampled_from("ab"), st.booleans()), max_size=40),
    st.integers(0, 45),
    st.sampled_from("ab"),
)
def test_what_is_taken_is_every_record_after_the_offset(
    stream: list[tuple[str, bool]], offset: int, sid: str
) -> None:
    # Stream seqs 6.. after a start at 5; a False message is lost on the way (never delivered).
    kept = Kept()
    kept.start(5)
    for seq, (owner, arrives) in enumerate(stream, 6):
        if arrives:  # the delivery seq counts the lost ones too: seq 6 is delivery 1
            kept.deliver(owner, Stored(seq, b"x"), seq - 5)
    delivered = [seq for seq, (_, arrives) in enumerate(stream, 6) if arrives]
    last = delivered[-1] if delivered else 5
    truth = [seq for seq, (owner, _) in enumerate(stream, 6) if owner == sid and offset < seq]
    got = _seqs(kept.take(sid, offset))
    # None (ask the server) or exactly the session's records after offset, up to the last
    # delivery: never one missing, never a lost one skipped.
    assert got is None or got == [s for s in truth if s <= last]
