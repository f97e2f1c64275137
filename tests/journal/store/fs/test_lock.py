"""One writer per session, across real processes; locks die with their holder."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
from journal_helpers import expect_lines, kill_and_reap, run_child, spawn_child

from p8j.journal import (
    Home,
    MessageRecorded,
    SessionLockedError,
    SessionManager,
    SessionPaused,
    SessionResumed,
)
from p8j.journal.store.fs import LockHolder, lock_holder, read_events
from p8j.replay import load_session


def test_second_process_gets_session_locked_error_naming_the_holder(home: Home) -> None:
    proc = spawn_child("hold", str(home.path), "new")
    try:
        sid, pid = expect_lines(proc, "held", 1)[0].split()
        assert int(pid) == proc.pid
        assert lock_holder(home.lock_path(sid)) == LockHolder(
            pid=proc.pid, host=socket.gethostname()
        )
        mgr = SessionManager(home)
        with pytest.raises(SessionLockedError) as info:
            mgr.resume_session(sid)
        assert info.value.pid == proc.pid and info.value.host == socket.gethostname()
        assert f"pid {proc.pid}" in str(info.value) and socket.gethostname() in str(info.value)
        assert mgr.current_session is None
        # The holder lets go cleanly: now it can be resumed here.
        assert proc.stdin is not None
        proc.stdin.close()
        assert expect_lines(proc, "released", 1) == [""]
        assert proc.wait(timeout=20) == 0
        assert lock_holder(home.lock_path(sid)) is None
        mgr.resume_session(sid)
        mgr.end_session()
    finally:
        kill_and_reap(proc)


def test_lock_is_released_when_the_holder_is_killed(home: Home) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("killed").session_id
    mgr.record_message({"role": "user", "content": "one"})
    mgr.pause_session()
    proc = spawn_child("hold", str(home.path), sid)
    try:
        expect_lines(proc, "held", 1)
        with pytest.raises(SessionLockedError):
            mgr.resume_session(sid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
    finally:
        kill_and_reap(proc)
    assert lock_holder(home.lock_path(sid)) is None  # no stale lock
    resumed = mgr.resume_session(sid)
    events, _ = read_events(home.log_path(sid))
    last = events[-1]
    # The child resumed it (active) and died without pausing: this is crash recovery.
    assert isinstance(last, SessionResumed) and last.recovered
    assert resumed.status == "active"
    mgr.end_session()


def test_concurrent_writers_never_interleave(home: Home) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("race").session_id
    mgr.pause_session()
    writers, rounds, k = 3, 10, 25
    procs = [spawn_child("race", str(home.path), sid, str(rounds), str(k)) for _ in range(writers)]
    try:
        for proc in procs:
            expect_lines(proc, "done", 1)
            assert proc.wait(timeout=60) == 0
    finally:
        for proc in procs:
            kill_and_reap(proc)
    events, cursor = read_events(home.log_path(sid), session_id=sid)
    assert cursor.issues == [] and cursor.torn is None  # every line whole and verified
    assert [e.seq for e in events] == list(range(2 + writers * rounds * (k + 2)))
    # Each turn is one writer's resume, k messages and pause, never mixed with another's.
    turns = events[2:]
    pids = {p.pid for p in procs}
    for start in range(0, len(turns), k + 2):
        turn = turns[start : start + k + 2]
        assert isinstance(turn[0], SessionResumed) and turn[0].pid in pids
        assert isinstance(turn[-1], SessionPaused)
        body = turn[1:-1]
        assert all(isinstance(e, MessageRecorded) for e in body)
        owners = {str(e.content).split()[0] for e in body if isinstance(e, MessageRecorded)}
        assert owners == {str(turn[0].pid)}
    assert load_session(sid, home).status == "paused"


def test_garbage_in_a_lock_file_does_not_break_locking(home: Home) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("g").session_id
    mgr.pause_session()
    home.lock_path(sid).write_bytes(b"\x00not json")
    assert lock_holder(home.lock_path(sid)) is None
    mgr.resume_session(sid)
    assert lock_holder(home.lock_path(sid)) == LockHolder(os.getpid(), socket.gethostname())
    mgr.end_session()
    result = run_child("resume", str(home.path), sid)
    assert result.returncode == 1 and "SessionStateError" in result.stderr


def test_a_hard_link_planted_at_the_lock_path_is_refused_not_truncated(tmp_path: Path) -> None:
    from p8j.journal import Home, UnsafePathError
    from p8j.journal.ids import new_session_id
    from p8j.journal.store.fs.lock import SessionLock

    home = Home(tmp_path / "home").ensure()
    outside = tmp_path / "precious.txt"
    outside.write_text("do not truncate me\n")
    sid = new_session_id()
    os.link(outside, home.lock_path(sid))
    with pytest.raises(UnsafePathError, match="hard links"):
        SessionLock(home.lock_path(sid))
    assert outside.read_text() == "do not truncate me\n"


def test_a_fifo_planted_at_the_lock_path_does_not_hang(tmp_path: Path) -> None:
    from p8j.journal import Home, UnsafePathError
    from p8j.journal.ids import new_session_id
    from p8j.journal.store.fs.lock import SessionLock

    home = Home(tmp_path / "home").ensure()
    sid = new_session_id()
    os.mkfifo(home.lock_path(sid))
    with pytest.raises(UnsafePathError, match="not a regular file"):
        SessionLock(home.lock_path(sid))
