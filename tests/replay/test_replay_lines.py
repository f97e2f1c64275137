"""read_with_lines: each verified event with its exact bytes."""

from __future__ import annotations

import os

import pytest

from p8j.journal import Home, JournalIOError, SessionManager
from p8j.journal.store.fs import LogCursor
from p8j.replay.lines import read_with_lines


def _session(home: Home, n: int = 5, big: int = 0) -> str:
    mgr = SessionManager(home)
    s = mgr.start_session("l")
    for i in range(n):
        mgr.record_message({"role": "user", "content": f"m{i}" + "y" * big})
    mgr.end_session()
    return s.session_id


def _cursor(home: Home, sid: str) -> LogCursor:
    return LogCursor(home.log_path(sid), session_id=sid, skip_corrupt=True)


def test_lines_are_the_file(rhome: Home) -> None:
    sid = _session(rhome, 50, big=40_000)  # several MB: more than one read chunk
    pairs = list(read_with_lines(_cursor(rhome, sid)))
    assert b"".join(line for _, line in pairs) == rhome.log_path(sid).read_bytes()
    assert [ev.seq for ev, _ in pairs] == list(range(52))


def test_skipped_lines_are_left_out(rhome: Home) -> None:
    sid = _session(rhome)
    path = rhome.log_path(sid)
    good = path.read_bytes().splitlines(keepends=True)
    dup = good[2]
    path.write_bytes(b"".join([*good[:3], b"junk\n", dup, *good[3:]]))
    cursor = _cursor(rhome, sid)
    lines = [line for _, line in read_with_lines(cursor)]
    assert lines == good
    assert len(cursor.issues) == 2


def test_partial_tail_waits_then_resumes(rhome: Home) -> None:
    sid = _session(rhome, 2)
    path = rhome.log_path(sid)
    data = path.read_bytes()
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[1] + b"\n"
    path.write_bytes(data[: -len(last) // 2])
    cursor = _cursor(rhome, sid)
    first = [line for _, line in read_with_lines(cursor, final=False)]
    assert b"".join(first) == data[: -len(last)]
    with open(path, "ab") as f:
        f.write(data[-len(last) // 2 :])
    second = [line for _, line in read_with_lines(cursor, final=False)]
    assert second == [last]


def test_replaced_file_is_detected(rhome: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = _session(rhome, 3)
    other = _session(rhome, 3)
    from p8j.journal.store.fs.cursor import open_log_readonly

    def open_the_other(path: object) -> int:
        # The raw-bytes descriptor sees another file than the cursor: as if replaced between.
        return open_log_readonly(rhome.log_path(other))

    monkeypatch.setattr("p8j.journal.store.fs.lines.open_log_readonly", open_the_other)
    with pytest.raises(JournalIOError, match="changed while it was being read"):
        list(read_with_lines(_cursor(rhome, sid)))


def test_missing_log(rhome: Home) -> None:
    sid = "01a20c00-0000-7000-8000-000000000000"
    with pytest.raises(JournalIOError, match="no such log"):
        list(read_with_lines(_cursor(rhome, sid)))
    assert not os.path.exists(rhome.log_path(sid))
