"""`p8j tail` as a real process, following real writer processes (killed and resumed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from p8j.journal import Home
from p8j.journal.codec import line_checksum_ok

from .cli_helpers import wait_until

HERE = Path(__file__).resolve().parent
WRITER = HERE / "tail_writer.py"


class Proc:
    """A subprocess whose stdout lines are collected by a thread."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.p = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, bufsize=0
        )
        self.lines: list[bytes] = []
        self.partial = b""
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self) -> None:
        assert self.p.stdout is not None
        buf = b""
        while True:
            data = os.read(self.p.stdout.fileno(), 1 << 20)
            if not data:
                break
            buf += data
            *complete, buf = buf.split(b"\n")
            self.lines.extend(ln + b"\n" for ln in complete)
        self.partial = buf

    def text_lines(self) -> list[str]:
        """Collected lines decoded."""
        return [ln.decode().rstrip("\n") for ln in list(self.lines)]

    def finish(self, sig: int = signal.SIGINT, timeout: float = 20) -> tuple[int, bytes]:
        """Send `sig`, wait, return (exit code, stderr)."""
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            self.p.wait(timeout=timeout)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()
        self._t.join(timeout)
        assert self.p.stderr is not None and self.p.stdout is not None
        err = self.p.stderr.read()
        self.p.stderr.close()
        self.p.stdout.close()
        return self.p.returncode, err


_RUNNING: list[Proc] = []


@pytest.fixture(autouse=True)
def _reap() -> Iterator[None]:
    """Kill whatever a failed test left running."""
    yield
    while _RUNNING:
        proc = _RUNNING.pop()
        if proc.p.stdout is not None and not proc.p.stdout.closed:
            proc.finish(signal.SIGKILL)


@pytest.fixture
def env(p8j_home: Home) -> Iterator[dict[str, str]]:
    p8j_home.ensure()
    yield dict(os.environ, P8J_HOME=str(p8j_home.path), PYTHONUNBUFFERED="1")


def _writer(env: dict[str, str], *args: str) -> Proc:
    proc = Proc([sys.executable, str(WRITER), *args], env)
    _RUNNING.append(proc)
    return proc


def _tail(env: dict[str, str], *args: str) -> Proc:
    proc = Proc([sys.executable, "-m", "p8j.cli", "tail", *args], env)
    _RUNNING.append(proc)
    return proc


def _wait_line(proc: Proc, prefix: str, timeout: float = 30) -> str:
    wait_until(
        lambda: any(ln.startswith(prefix) for ln in proc.text_lines()) or proc.p.poll() is not None,
        timeout,
        f"{prefix!r} from the writer",
    )
    for ln in proc.text_lines():
        if ln.startswith(prefix):
            return ln
    raise AssertionError(f"writer exited: {proc.p.stderr.read() if proc.p.stderr else b''!r}")


def _ended(tail: Proc) -> int:
    return sum(1 for ln in list(tail.lines) if b'"type":"SessionEnded"' in ln)


def _check_exact(tail_lines: list[bytes], home: Home, sids: list[str]) -> None:
    """Tail's output, per session, is exactly that session's log, line for line."""
    for line in tail_lines:
        assert line.endswith(b"\n") and line_checksum_ok(line[:-1]), line[:120]
    for sid in sids:
        mine = [ln for ln in tail_lines if json.loads(ln)["session_id"] == sid]
        log = home.log_path(sid).read_bytes()
        assert b"".join(mine) == log, sid
        seqs = [json.loads(ln)["seq"] for ln in mine]
        assert seqs == list(range(len(seqs)))
    assert {json.loads(ln)["session_id"] for ln in tail_lines} == set(sids)


@pytest.mark.parametrize("poll", [False, True], ids=["inotify", "polling"])
def test_tail_follows_a_killed_and_resumed_writer_and_new_sessions(
    env: dict[str, str], p8j_home: Home, poll: bool
) -> None:
    # A backlog larger than everything: whenever tail starts relative to the writers, every
    # event must be printed exactly once, either from the backlog or while following.
    tail = _tail(env, "--json", "-n", "1000000", *(["--poll"] if poll else []))
    try:
        first = _writer(env, "start", str(p8j_home.path), "alpha", "40")
        sid_a = _wait_line(first, "sid ").split()[1]
        _wait_line(first, "ready")
        first.finish(signal.SIGKILL)  # a crash, leaving half a line at the end of the log
        resumed = _writer(env, "resume", str(p8j_home.path), sid_a, "30")
        _wait_line(resumed, "ready")
        resumed.finish()
        # Once alpha's end is printed tail is surely following: beta is a new session to it.
        wait_until(lambda: _ended(tail) == 1, 30, "alpha's SessionEnded from tail")
        second = _writer(env, "session", str(p8j_home.path), "beta", "25")
        sid_b = _wait_line(second, "sid ").split()[1]
        _wait_line(second, "ready")
        second.finish()
        wait_until(lambda: _ended(tail) == 2, 30, "both SessionEnded lines from tail")
    finally:
        code, err = tail.finish(signal.SIGINT)
    assert code == 0, err
    assert b"Traceback" not in err
    assert tail.partial == b""
    _check_exact(list(tail.lines), p8j_home, [sid_a, sid_b])
    resumed_line = next(ln for ln in tail.lines if b'"type":"SessionResumed"' in ln)
    assert json.loads(resumed_line)["recovered"] is True
    assert json.loads(resumed_line)["repaired_bytes"] > 0
    assert list(p8j_home.torn_dir.iterdir()), "the torn half line was moved aside, not printed"


def test_tail_backlog_then_follow_one_session(env: dict[str, str], p8j_home: Home) -> None:
    first = _writer(env, "session", str(p8j_home.path), "old", "12")
    sid = _wait_line(first, "sid ").split()[1]
    _wait_line(first, "ready")
    first.finish()
    other = _writer(env, "session", str(p8j_home.path), "other", "3")
    _wait_line(other, "ready")
    other.finish()
    log = p8j_home.log_path(sid).read_bytes().splitlines(keepends=True)
    tail = _tail(env, "--json", "-n", "4", sid[:13])
    # The session has ended: tail prints its backlog and exits by itself, no signal needed.
    code = tail.p.wait(timeout=20)
    assert code == 0, tail.finish()[1]
    tail.finish()
    assert list(tail.lines) == log[-4:]


def test_tail_human_output_is_one_line_per_event(env: dict[str, str], p8j_home: Home) -> None:
    tail = _tail(env, "-n", "100000", "--type", "message,end")
    try:
        w = _writer(env, "session", str(p8j_home.path), "humans", "10")
        sid = _wait_line(w, "sid ").split()[1]
        _wait_line(w, "ready")
        w.finish()
        wait_until(lambda: any(" ended" in ln for ln in tail.text_lines()), 20, "the end line")
    finally:
        code, err = tail.finish()
    assert code == 0, err
    lines = tail.text_lines()
    messages = sum(
        1 for ln in p8j_home.log_path(sid).read_bytes().splitlines() if b'"MessageRecorded"' in ln
    )
    assert len(lines) == messages + 1
    assert all(sid[:13] in ln and " humans " in ln for ln in lines)
    assert all(len(ln) < 4200 for ln in lines)  # 200 kB texts are cut on one line


def test_tail_on_a_fresh_machine_waits_for_the_first_session(tmp_path: Path) -> None:
    home = Home(tmp_path / "fresh")
    env = dict(os.environ, P8J_HOME=str(home.path), PYTHONUNBUFFERED="1")
    tail = _tail(env, "--json")
    try:
        wait_until(home.sessions_dir.is_dir, 20, "tail to create the journal")
        writer = _writer(env, "session", str(home.path), "first", "3")
        _wait_line(writer, "ready")
        writer.finish()
        wait_until(lambda: _ended(tail) == 1, 20, "the first session's end")
    finally:
        code, err = tail.finish()
    assert code == 0
    assert b"yet; waiting for the first" in err
    (sid,) = home.session_ids()
    assert b"".join(tail.lines) == home.log_path(sid).read_bytes()


def test_tail_says_when_a_followed_log_is_removed(env: dict[str, str], p8j_home: Home) -> None:
    from p8j.journal import JournalIOError, SessionManager

    mgr = SessionManager(p8j_home)
    sid = mgr.start_session("doomed").session_id
    mgr.record_message({"role": "user", "content": "hello"})
    tail = _tail(env, "--json", "-n", "1")
    try:
        wait_until(lambda: len(tail.lines) >= 1, 20, "the backlog")
        p8j_home.log_path(sid).unlink()
        # Another session after the removal: once its end is printed, the removal was seen.
        other = SessionManager(p8j_home)
        other.start_session("after")
        other.end_session()
        wait_until(lambda: _ended(tail) == 1, 30, "the other session's end")
    finally:
        code, err = tail.finish()
    with pytest.raises(JournalIOError, match="removed"):
        mgr.close()  # the writer noticed too
    assert code == 0, err
    assert f"p8j: session {sid}: its log {p8j_home.log_path(sid)} was removed".encode() in err
    assert err.count(b"was removed") == 1


def test_tail_by_id_exits_when_its_session_ends(env: dict[str, str], p8j_home: Home) -> None:
    first = _writer(env, "start", str(p8j_home.path), "ends-later", "3")
    sid = _wait_line(first, "sid ").split()[1]
    _wait_line(first, "ready")
    first.finish(signal.SIGKILL)  # left active: tail must keep following it
    tail = _tail(env, "--json", sid[:13])
    wait_until(lambda: len(tail.lines) >= 4, 20, "the backlog")
    assert tail.p.poll() is None
    resumed = _writer(env, "resume", str(p8j_home.path), sid, "5")
    _wait_line(resumed, "ready")
    resumed.finish()
    code = tail.p.wait(timeout=20)  # no signal: it ends by itself with the session
    _, err = tail.finish()
    assert code == 0, err
    assert err == b"p8j: it has ended\n"
    assert list(tail.lines)[-1].startswith(b'{"type":"SessionEnded"')
    _check_exact(list(tail.lines), p8j_home, [sid])  # every line, once, and then the end


def test_ctrl_c_stops_an_idle_tail_at_once(env: dict[str, str], p8j_home: Home) -> None:
    """Idle, tail blocks in the kernel (inotify) with no thread polling: SIGINT still ends it."""
    from p8j.journal import SessionManager

    mgr = SessionManager(p8j_home)
    mgr.start_session("quiet")
    mgr.pause_session()  # paused: followed, and nothing more is written
    tail = _tail(env, "--json", "-n", "1")
    wait_until(lambda: len(tail.lines) >= 1, 20, "the backlog")
    code, err = tail.finish(signal.SIGINT, timeout=5)  # kills and raises if it did not end
    assert code == 0, err
    assert b"Traceback" not in err
    mgr.close()
