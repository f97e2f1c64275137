"""Tail latency: append in this process -> the line printed by `p8j tail --json` in another.

Also the follower's idle CPU (share of one core while nothing is written) and its idle
wake-ups per second (context switches of all its threads, from /proc). The
reference is the IPC floor: a child that echoes stdin lines to stdout.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from p8j.journal import Home, SessionManager

from .common import Results, cli_failure, cli_has, env_with_home, message, p8j_argv, percentile
from .conftest import SMOKE, timed_rounds

SAMPLES = 20 if SMOKE else 300
IDLE_S = 0.5 if SMOKE else 3.0
_ECHO = "import sys\nfor line in sys.stdin:\n    sys.stdout.write(line)\n    sys.stdout.flush()\n"


class _Lines:
    """Lines from a pipe with a timeout (raw reads: a buffered reader would hide lines
    from the selector)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""
        self.sel = selectors.DefaultSelector()
        self.sel.register(fd, selectors.EVENT_READ)

    def readline(self, timeout: float) -> bytes:
        """The next line, or AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sel.select(left):
                raise AssertionError(f"no line within {timeout}s")
            data = os.read(self.fd, 1 << 16)
            if not data:
                raise AssertionError("the follower closed its output")
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def close(self) -> None:
        """Stop selecting."""
        self.sel.close()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wakeups(pid: int) -> int:
    """Context switches of every thread of `pid` so far: each is a wake-up (or a preemption)."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue  # a thread that ended meanwhile
        for row in text.splitlines():
            if "ctxt_switches:" in row:
                total += int(row.split()[1])
    return total


def _pause() -> None:
    # Pacing the writer (a load pattern, not synchronisation): one append at a time,
    # so each sample is a cold wake-up of the follower, as in real use.
    time.sleep(0.003)


def test_echo_reference(results: Results) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", _ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stdout is not None
    lines = _Lines(proc.stdout.fileno())
    lat = []
    try:
        for i in range(SAMPLES):
            t = time.perf_counter_ns()
            proc.stdin.write(b"x%d\n" % i)
            proc.stdin.flush()
            lines.readline(10)
            lat.append(time.perf_counter_ns() - t)
            _pause()
    finally:
        lines.close()
        proc.stdin.close()
        proc.wait(10)
        proc.stdout.close()
    lat.sort()
    results.add(
        "tail",
        "pipe echo (reference)",
        p50_ms=percentile(lat, 0.5) / 1000,
        p99_ms=percentile(lat, 0.99) / 1000,
    )


def test_tail_latency(benchmark: Any, results: Results, tmp_path: Path) -> None:
    if not cli_has("tail"):
        results.note("p8j tail: skipped, the CLI has no `tail` command in this build")
        pytest.skip("the CLI has no `tail` command yet")
    home = Home(tmp_path / "home")
    mgr = SessionManager(home)
    sid = mgr.start_session("bench").session_id
    mgr.record_message(message(0))
    broken = cli_failure(
        [*p8j_argv(), "tail", "--json", "--no-follow", sid], env_with_home(home.path)
    )
    if broken:
        mgr.close()
        results.note(f"p8j tail: skipped, the command failed ({broken})")
        pytest.skip(f"p8j tail fails in this build: {broken}")
    proc = subprocess.Popen(
        [*p8j_argv(), "tail", "--json", sid],
        env=env_with_home(home.path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines = _Lines(proc.stdout.fileno())
    try:
        # Wait until the follower shows what is already there (start + one message).
        seen = 0
        while seen < 2:
            if b'"seq"' in lines.readline(30):
                seen += 1

        def run() -> list[int]:
            lat = []
            for i in range(SAMPLES):
                t = time.perf_counter_ns()
                seq = mgr.record_message(message(i))
                line = lines.readline(10)
                lat.append(time.perf_counter_ns() - t)
                assert b'"seq":%d' % seq in line.replace(b" ", b""), line[:200]
                _pause()
            return lat

        _, lat = timed_rounds(benchmark, run, 1)
        cpu0, wake0, t0 = _cpu_seconds(proc.pid), _wakeups(proc.pid), time.monotonic()
        time.sleep(IDLE_S)  # measuring idle CPU: nothing is written for IDLE_S seconds
        spent = time.monotonic() - t0
        idle = (_cpu_seconds(proc.pid) - cpu0) / spent
        wakeups = (_wakeups(proc.pid) - wake0) / spent
    finally:
        lines.close()
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        err = proc.stderr.read()
        proc.stderr.close()
        mgr.close()
    if b"polling" in err:
        # inotify unavailable (e.g. its instances exhausted by another process): not comparable
        results.note(f"p8j tail fell back to polling: {err.decode(errors='replace').strip()}")
    lat.sort()
    row = results.add(
        "tail",
        "p8j tail --json (append -> printed)",
        p50_ms=percentile(lat, 0.5) / 1000,
        p99_ms=percentile(lat, 0.99) / 1000,
        idle_cpu_pct=idle * 100,
        idle_wakeups_per_s=wakeups,
        samples=len(lat),
    )
    benchmark.extra_info.update(row)
