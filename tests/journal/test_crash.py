"""Crash safety with real processes: kill -9 at random moments, torn tails, a full disk."""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

import pytest
from journal_helpers import expect_lines, kill_and_reap, line_ends, run_child, spawn_child

from p8j.journal import (
    CorruptLineError,
    Home,
    MessageRecorded,
    P8jError,
    SessionManager,
    SessionResumed,
)
from p8j.journal.store.fs import read_events
from p8j.replay import load_session, load_session_with_report

TRIALS = 60


def _drain_acks(rest: str) -> list[int]:
    """Seqs acknowledged in what a killed child had printed (a cut-off last line is not one)."""
    acks = []
    for text in rest.split("\n")[:-1]:
        word, _, value = text.partition(" ")
        assert word == "seq", text
        acks.append(int(value))
    return acks


def _check_recovery(home: Home, sid: str, acked: list[int]) -> None:
    """The log replays to a gap-free prefix holding every acked seq; resume then continues it."""
    path = home.log_path(sid)
    data = path.read_bytes()
    session, report = load_session_with_report(sid, home)
    events, cursor = read_events(path, session_id=sid)
    assert [e.seq for e in events] == list(range(len(events)))
    assert session.last_seq == len(events) - 1
    assert set(acked) <= set(range(len(events))), (acked, session.last_seq)
    assert report.issues == []
    assert report.offset == cursor.offset
    # What is not a complete record is exactly the torn tail.
    assert (report.torn is None) == (report.offset == len(data))
    assert data[: report.offset].endswith(b"\n")
    tail = data[report.offset :]

    mgr = SessionManager(home)
    try:
        resumed = mgr.resume_session(sid)
        after, _ = read_events(path, session_id=sid)
        last = after[-1]
        assert isinstance(last, SessionResumed)
        assert last.seq == session.last_seq + 1
        assert last.recovered is True  # the writer died while active
        assert last.repaired_bytes == len(tail)
        assert after[:-1] == events
        sidecar = home.torn_dir / f"{sid}.{report.offset}.torn"
        if tail:
            assert sidecar.read_bytes() == tail
        else:
            assert not sidecar.exists()
        seq = mgr.record_message({"role": "user", "content": "after the crash"})
        assert seq == session.last_seq + 2
        mgr.end_session()
        assert load_session(sid, home) == mgr.current_session
        assert resumed.status == "completed"
    finally:
        mgr.close()


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(20261124)
    torn_tails = 0
    for trial in range(TRIALS):
        home = Home(tmp_path / f"h{trial}")
        durability = ("default", "fsync", "batch")[trial % 3]
        proc = spawn_child("write", str(home.path), durability, str(trial))
        try:
            sid = expect_lines(proc, "sid", 1)[0]
            acked = [int(s) for s in expect_lines(proc, "seq", rng.randrange(0, 15))]
            proc.kill()
            proc.wait(timeout=20)
            assert proc.stdout is not None
            # Lines the child printed before it died are acknowledgements too.
            acked += _drain_acks(proc.stdout.read())
        finally:
            kill_and_reap(proc)
        assert acked == list(range(1, len(acked) + 1))
        size = home.log_path(sid).stat().st_size
        torn_tails += size != line_ends(home.log_path(sid).read_bytes())[-1]
        if trial % 15 == 0:
            # Resume in a real second process too.
            before = load_session(sid, home)
            done = run_child("resume", str(home.path), sid)
            assert done.returncode == 0, done.stderr
            out = done.stdout.split("\n")
            assert out[0].split()[:3] == ["resumed", str(before.last_seq + 1), "True"]
            assert out[1] == f"seq {before.last_seq + 2}"
            after = load_session(sid, home)
            assert after.status == "completed"
            assert after.last_seq == before.last_seq + 3
        else:
            _check_recovery(home, sid, acked)
    # Reported, not asserted: whether SIGKILL ever cut a multi-page write() is up to the kernel.
    sys.stderr.write(f"{torn_tails} of {TRIALS} kills left a torn tail\n")


def _sample_log(home: Home) -> tuple[str, bytes]:
    mgr = SessionManager(home)
    session = mgr.start_session("trunc", {"k": "v"})
    mgr.record_message({"role": "user", "content": "h\u00e9llo \U0001f600 \x00\n"})
    mgr.record_command("ls -la")
    mgr.record_execution("ls", 0, "a\nb", 0.01)
    mgr.update_metadata(model="m-1")
    mgr.pause_session()
    mgr.close()
    sid = session.session_id
    return sid, home.log_path(sid).read_bytes()


def test_truncation_at_every_byte_offset(tmp_path: Path) -> None:
    src = Home(tmp_path / "src")
    sid, data = _sample_log(src)
    ends = line_ends(data)
    assert ends[-1] == len(data) and len(ends) == 6
    full, _ = read_events(src.log_path(sid))
    for cut in range(len(data) + 1):
        home = Home(tmp_path / f"cut{cut}")
        shutil.copytree(src.path, home.path)
        path = home.log_path(sid)
        with open(path, "r+b") as f:
            f.truncate(cut)
        complete = sum(1 for e in ends if e <= cut)
        if complete == 0:
            # No complete SessionStarted: the session never began. A clear error, not a crash.
            with pytest.raises(CorruptLineError) as info:
                load_session(sid, home)
            assert info.value.path == str(path) and info.value.line == 1
            with pytest.raises(CorruptLineError):
                SessionManager(home).resume_session(sid)
            assert path.read_bytes() == data[:cut]  # untouched
            continue
        session, report = load_session_with_report(sid, home)
        assert session.last_seq == complete - 1
        good = ends[complete - 1]
        assert report.offset == good
        assert (report.torn is None) == (cut == good)
        if report.torn is not None:
            assert report.torn.offset == good and report.torn.line == complete + 1
        expected = load_session(sid, src, upto_seq=complete - 1)
        assert session == expected
        # Reopening for append repairs the tail and continues on a clean boundary.
        mgr = SessionManager(home)
        mgr.resume_session(sid)
        mgr.record_command("after")
        mgr.close()
        events, cursor = read_events(path, session_id=sid)
        assert cursor.torn is None and cursor.issues == []
        assert events[:complete] == full[:complete]
        assert [e.seq for e in events] == list(range(complete + 3))
        sidecars = list(home.torn_dir.iterdir())
        if cut == good:
            assert sidecars == []
        else:
            assert sidecars == [home.torn_dir / f"{sid}.{good}.torn"]
            assert sidecars[0].read_bytes() == data[good:cut]


def test_disk_full_mid_record_rolls_back(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    done = run_child("efbig", str(home.path))
    assert done.returncode == 0, done.stderr
    out = [ln.split(" ") for ln in done.stdout.strip().split("\n")]
    sid = out[0][1]
    assert [ln[1] for ln in out[1:4]] == ["1", "2", "3"]
    errors = [ln for ln in out if ln[0] == "error"]
    assert len(errors) == 3
    path = home.log_path(sid)
    for _, kind, names_path, size_after in errors:
        assert kind == "JournalIOError" and names_path == "True"
        # The short write was rolled back: the file ends where record 3 ended.
        assert int(size_after) == line_ends(path.read_bytes())[3]
    assert out[-3] == ["failures", "3"]
    assert out[-2] == ["seq", "4"]  # no gap: the failed records took no seq
    events, cursor = read_events(path, session_id=sid)
    assert [e.seq for e in events] == [0, 1, 2, 3, 4, 5]
    assert cursor.torn is None and cursor.issues == []
    assert isinstance(events[4], MessageRecorded) and events[4].content == "after the limit"
    assert load_session(sid, home).status == "completed"


def test_resume_of_a_log_without_start_is_a_p8j_error(home: Home) -> None:
    sid, _ = _sample_log(home)
    home.log_path(sid).write_bytes(b"")
    with pytest.raises(P8jError) as info:
        SessionManager(home).resume_session(sid)
    assert isinstance(info.value, CorruptLineError)
    assert "SessionStarted" in str(info.value)
