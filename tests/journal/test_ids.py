"""Session ids: UUIDv7, time-ordered, unique across processes; everything else rejected."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from journal_helpers import BAD_IDS, BAD_PREFIXES

from p8j.journal import InvalidSessionIdError
from p8j.journal.ids import new_session_id, validate_prefix, validate_session_id


def test_new_ids_are_uuid7_and_strictly_increasing() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_session_id() for _ in range(5000)]
    after = time.time_ns() // 1_000_000
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for sid in ids[::97]:
        assert validate_session_id(sid) == sid
        u = uuid.UUID(sid)
        assert str(u) == sid and u.version == 7 and u.variant == uuid.RFC_4122
        ms = int(sid.replace("-", "")[:12], 16)
        assert before <= ms <= after + 1


def test_ids_stay_ordered_with_a_frozen_or_backward_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [time.time_ns()]
    monkeypatch.setattr(time, "time_ns", lambda: now[0])  # the clock ids.py reads
    ids = [new_session_id() for _ in range(10_000)]  # more than the 12-bit counter holds
    now[0] -= 5_000_000_000  # the clock steps back 5 s
    ids += [new_session_id() for _ in range(100)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 for i in ids)


def test_ids_are_unique_across_processes() -> None:
    code = (
        "from p8j.journal.ids import new_session_id\nfor _ in range(3000): print(new_session_id())"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    every = [i for out in outs for i in out]
    assert len(every) == 9000 and len(set(every)) == 9000
    for out in outs:
        assert out == sorted(out)


@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda b: repr(b)[:30])
def test_bad_ids_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidSessionIdError) as info:
        validate_session_id(bad)
    assert len(str(info.value)) < 200  # a 10 kB id is not echoed whole


@given(st.text(max_size=60))
def test_anything_accepted_is_a_canonical_uuid(text: str) -> None:
    try:
        validate_session_id(text)
    except InvalidSessionIdError:
        return
    assert str(uuid.UUID(text)) == text


@pytest.mark.parametrize("good", ["0", "01a2", "01a20c6a-", "01a20c6a-1677-71ff-911a-7d8a8490bda4"])
def test_prefixes(good: str) -> None:
    assert validate_prefix(good) == good


@pytest.mark.parametrize("bad", [*BAD_PREFIXES, "-01a", "01a20c6a-1677-71ff-911a-7d8a8490bda4-"])
def test_bad_prefixes_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidSessionIdError):
        validate_prefix(bad)


@given(st.text(max_size=40) | st.just("01a20c80-bccb-73e3-9f2a-c9fccdc99c08"))
def test_is_session_id_is_validate_as_a_bool(value: str) -> None:
    from p8j.journal.ids import is_session_id

    try:
        validate_session_id(value)
    except InvalidSessionIdError:
        assert not is_session_id(value)
    else:
        assert is_session_id(value)
    assert is_session_id(new_session_id())
    for bad in BAD_IDS:
        if isinstance(bad, str):
            assert not is_session_id(bad)
