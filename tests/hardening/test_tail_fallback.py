"""`p8j tail` over 10k live sessions with inotify exhausted: it polls, says so once, follows."""

from __future__ import annotations

import ctypes
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from p8j.journal import Home, SessionManager
from p8j.journal.codec import encode_event
from p8j.journal.events import SessionStarted
from p8j.journal.ids import new_session_id

SESSIONS = 10_000


@contextmanager
def _inotify_exhausted() -> Iterator[int]:
    """Hold every inotify instance this user may still create; yield how many were taken."""
    libc = ctypes.CDLL(None, use_errno=True)
    fds: list[int] = []
    try:
        while len(fds) < 8192:
            fd = libc.inotify_init1(os.O_CLOEXEC)
            if fd < 0:
                break
            fds.append(fd)
        yield len(fds)
    finally:
        for fd in fds:
            os.close(fd)


def _lines(stream: IO[str], sink: queue.Queue[str]) -> None:
    for line in stream:
        sink.put(line)


def _next(sink: queue.Queue[str], what: str, timeout: float = 60) -> str:
    try:
        return sink.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"timed out waiting for {what}") from None


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_tail_polls_when_inotify_is_exhausted_and_says_so_once(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").ensure()
    ids = [new_session_id() for _ in range(SESSIONS)]
    for sid in ids:  # 10k live sessions, written directly (fast)
        line = encode_event(
            SessionStarted(1, sid, 0, "2026-11-24T08:00:00.000000Z", project_name="many")
        )
        fd = os.open(home.log_path(sid), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, line)
        os.close(fd)
    env = dict(os.environ, P8J_HOME=str(home.path), PYTHONUNBUFFERED="1")
    out: queue.Queue[str] = queue.Queue()
    err: queue.Queue[str] = queue.Queue()
    with _inotify_exhausted() as taken:
        if taken >= 8192:
            pytest.skip("the inotify instance limit is too high to exhaust here")
        tail = subprocess.Popen(
            [sys.executable, "-m", "p8j.cli", "tail", "--json", "-n", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert tail.stdout is not None and tail.stderr is not None
        readers = [
            threading.Thread(target=_lines, args=(tail.stdout, out), daemon=True),
            threading.Thread(target=_lines, args=(tail.stderr, err), daemon=True),
        ]
        for r in readers:
            r.start()
        notice = _next(err, "the polling notice")
    try:
        assert "polling" in notice and "inotify" in notice, notice
        # The one line of backlog marks the end of the initial read: from here on it follows.
        assert json.loads(_next(out, "the backlog"))["type"] == "SessionStarted"
        target = ids[SESSIONS // 2]
        with SessionManager(home) as mgr:
            mgr.resume_session(target)
            mgr.record_message({"role": "user", "content": "seen by polling"})
        got = [json.loads(_next(out, "followed events")) for _ in range(3)]
        assert [e["type"] for e in got] == ["SessionResumed", "MessageRecorded", "SessionPaused"]
        assert {e["session_id"] for e in got} == {target}
        new = SessionManager(home)
        fresh = new.start_session("new one").session_id  # sessions started later are picked up
        new.close()
        got = [json.loads(_next(out, "a new session")) for _ in range(2)]
        assert [(e["type"], e["session_id"]) for e in got] == [
            ("SessionStarted", fresh),
            ("SessionPaused", fresh),
        ]
    finally:
        tail.send_signal(signal.SIGINT)
        code = tail.wait(timeout=30)
        for r in readers:
            r.join(timeout=30)
        tail.stdout.close()
        tail.stderr.close()
    rest = []
    while not err.empty():
        rest.append(err.get())
    assert code == 0, "".join(rest)
    assert not any("polling" in r for r in rest), rest  # said once
    assert not any("Traceback" in r for r in rest), rest


CHILD = Path(__file__).resolve().parent / "tail_interrupt_child.py"


def _interrupted_tail(env: dict[str, str], k: int) -> tuple[int, str]:
    """Run tail --poll with SIGINT at bytecode `k` of its first sleep; (exit code, stderr)."""
    done = subprocess.run(
        [sys.executable, str(CHILD), str(k), "tail", "--json", "-n", "1", "--poll"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    return done.returncode, done.stderr


@pytest.mark.slow
def test_sigint_at_every_bytecode_of_the_sleep_between_polls_exits_0(tmp_path: Path) -> None:
    # The CI flake: SIGINT landing inside threading.Event.wait's Python code (between the
    # Condition releasing its lock and the try that takes it back) made the Event's
    # `with` release an unlocked lock: RuntimeError, a traceback, exit 1. Every bytecode
    # of the window gets its own real SIGINT here; each must end tail with 0 and nothing more.
    home = Home(tmp_path / "home").ensure()
    for _ in range(3):
        sid = new_session_id()
        line = encode_event(
            SessionStarted(1, sid, 0, "2026-11-24T08:00:00.000000Z", project_name="few")
        )
        home.log_path(sid).write_bytes(line)
    count = tmp_path / "count"
    env = dict(os.environ, P8J_HOME=str(home.path), P8J_TEST_COUNT=str(count))
    code, err = _interrupted_tail(env, 0)
    assert (code, err) == (0, ""), err  # SIGINT as the second scan starts
    window = int(count.read_text())
    assert window > 0
    failed = {}
    # Each child is its own process: run a few at once (they only wait on each other's CPU).
    with ThreadPoolExecutor(max(2, min(4, os.cpu_count() or 1))) as pool:
        results = pool.map(lambda k: (k, *_interrupted_tail(env, k)), range(1, window + 1))
        for k, code, err in results:
            if code != 0 or err:
                failed[k] = (code, err.strip().splitlines()[-1:])
    assert not failed, f"SIGINT at these of {window} bytecodes: {failed}"
