"""RecordCursor: long runs of plain records are verified in bulk, to the same result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p8j.journal import codec
from p8j.journal.codec import encode_event, frame
from p8j.journal.errors import CorruptLineError
from p8j.journal.events import SCHEMA_VERSION, SessionEnded
from p8j.journal.ids import new_session_id
from p8j.journal.store import MemoryStore, RecordCursor
from p8j.journal.store import records as records_module
from p8j.journal.store.contract import message, start

_TS = "2026-01-01T00:00:00.000000Z"
_SID = new_session_id()


class _ListCursor(RecordCursor):
    """A RecordCursor over a list of records (offset = index)."""

    def __init__(self, records: list[bytes], **kw: Any) -> None:
        self._records = records
        super().__init__(f"memory:{_SID}", _SID, 1, MemoryStore().blobs, **kw)

    def _fetch(self, index: int) -> list[bytes]:
        return self._records[index:]

    def _offset_of(self, index: int) -> int:
        return index


def _log(n: int) -> list[bytes]:
    """A whole session of `n` records: start, messages, end."""
    out = [encode_event(start(_SID))[:-1]]
    out += [encode_event(message(_SID, i, f"m{i}"))[:-1] for i in range(1, n - 1)]
    out.append(encode_event(SessionEnded(SCHEMA_VERSION, _SID, n - 1, _TS))[:-1])
    return out


def _one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn the bulk path off: every record is checked by itself (the reference)."""
    monkeypatch.setattr(RecordCursor, "_plain", lambda self, records: None)


def _outcome(records: list[bytes], skip: bool) -> tuple[list[Any], list[Any], Any]:
    cur = _ListCursor(records, skip_corrupt=skip)
    events: list[Any] = []
    try:
        events.extend(cur.read())
    except CorruptLineError as exc:
        return events, cur.issues, (exc.message, exc.line, exc.offset)
    return events, cur.issues, (cur.position, cur.line, cur.next_seq, cur.state)


def test_long_runs_of_records_are_decoded_in_bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real: Callable[..., Any] = codec.decode_line

    def counting(*args: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(*args, **kw)

    monkeypatch.setattr(records_module, "decode_line", counting)
    log = _log(3000)
    cur = _ListCursor(log)
    events = list(cur.read())
    assert [e.seq for e in events] == list(range(3000))
    assert cur.state == "completed" and cur.next_seq == 3000 and cur.line == 3001
    # The start, then the chunk with the end record, one by one; the rest in bulk.
    assert calls <= 1 + records_module._CHUNK


def test_a_damaged_record_in_a_long_run_is_named_by_its_line() -> None:
    log = _log(3000)
    log[1500] = log[1500].replace(b"m1500", b"m1501")
    with pytest.raises(CorruptLineError) as err:
        list(_ListCursor(log).read())
    assert err.value.line == 1501 and err.value.offset == 1500
    cur = _ListCursor(log, skip_corrupt=True)
    events = list(cur.read())
    issues = [(i.kind, i.line) for i in cur.issues]
    assert len(events) == 2999 and issues == [("corrupt", 1501), ("seq-gap", 1502)]


def test_a_record_with_a_raw_newline_is_still_one_record() -> None:
    # JSON whitespace may be a raw newline: the checksum holds, the record decodes alone.
    log = _log(2000)
    body = encode_event(message(_SID, 700, "m700"))[: -codec.CRC_SUFFIX_LEN - 1] + b"}"
    log[700] = frame(body.replace(b'"seq":700,', b'"seq":700,\n'))[:-1]
    events = list(_ListCursor(log).read())
    assert [e.seq for e in events] == list(range(2000))
    assert events[700] == message(_SID, 700, "m700")


@settings(max_examples=40, deadline=None)
@given(
    at=st.integers(1, 2198),
    damage=st.sampled_from(["flip", "seq", "session", "start", "unknown", "drop"]),
    skip=st.booleans(),
    stop=st.integers(0, 2200),
)
def test_bulk_and_one_by_one_agree(at: int, damage: str, skip: bool, stop: int) -> None:
    log = _log(2200)
    ev = message(_SID, at, f"m{at}")
    if damage == "flip":
        log[at] = log[at].replace(b'"m', b'"n', 1)
    elif damage == "seq":
        log[at] = encode_event(message(_SID, at + 5, "x"))[:-1]
    elif damage == "session":
        log[at] = encode_event(message(new_session_id(), at, "x"))[:-1]
    elif damage == "start":
        log[at] = encode_event(start(_SID))[:-1]
    elif damage == "unknown":
        raw = encode_event(ev)[: -codec.CRC_SUFFIX_LEN - 1] + b"}"
        log[at] = frame(raw.replace(b'"MessageRecorded"', b'"FutureThing"'))[:-1]
    else:
        del log[at]
    got = _outcome(log, skip)
    with pytest.MonkeyPatch.context() as mp:
        _one_by_one(mp)
        want = _outcome(log, skip)
    assert got == want
    # Stopping part-way leaves the cursor where the one-by-one reader leaves it.
    states = []
    for plain in (True, False):
        with pytest.MonkeyPatch.context() as mp:
            if not plain:
                _one_by_one(mp)
            cur = _ListCursor(log, skip_corrupt=True)
            for i, _ in enumerate(cur.read()):
                if i == stop:
                    break
            states.append((cur.position, cur.line, cur.next_seq, cur.state))
    assert states[0] == states[1]


def test_bytes_read_counts_what_was_handed_out_also_when_stopped_part_way() -> None:
    records = _log(3000)  # more than one fast-path chunk
    cursor = _ListCursor(records)
    events = cursor.read()
    for _ in range(1500):
        next(events)
    # Stopped part-way, it resumes at the record handed out last: not counted yet.
    assert cursor.offset == 1499
    assert cursor.bytes_read == sum(len(r) + 1 for r in records[:1499])
    whole = _ListCursor(records)
    assert len(list(whole.read())) == len(records)
    assert whole.bytes_read == sum(len(r) + 1 for r in records)
