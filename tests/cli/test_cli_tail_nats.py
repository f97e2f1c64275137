"""`p8j tail --store nats://...` in one process while writers in two other processes append.

Every event reaches tail exactly once, in order per session, as stored; the
latency from an event's append (its ``ts``, stamped by the writer) to the line
tail prints is reported (p50/p99), not asserted (timings belong in bench/).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from journal_helpers import expect_lines, kill_and_reap, read_line, spawn_child, wait_until
from sync_helpers import raw_records

from p8j.journal import Home
from p8j.journal.ids import new_session_id
from p8j.journal.store.contract import start

pytestmark = pytest.mark.slow


def _tail_takes_a_store() -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "p8j.cli", "tail", "--help"], capture_output=True, text=True
    )
    return "--store" in out.stdout


class Tail:
    """`p8j tail --json` on a store, each printed line kept with the time it arrived."""

    def __init__(self, url: str, env: dict[str, str]) -> None:
        argv = [sys.executable, "-m", "p8j.cli", "tail", "--json", "-n", "1000000"]
        self.p = subprocess.Popen(
            [*argv, "--store", url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        self.lines: list[tuple[bytes, float]] = []
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.append((line, time.time()))

    def of(self, sid: str) -> list[bytes]:
        """The lines printed for session `sid`, in order."""
        return [ln for ln, _ in list(self.lines) if json.loads(ln)["session_id"] == sid]

    def stop(self) -> tuple[int, bytes]:
        """Ctrl-C it; its exit status and stderr."""
        if self.p.poll() is None:
            self.p.send_signal(2)
        try:
            _, err = self.p.communicate(timeout=20)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()
        self._t.join(5)
        return self.p.returncode, err


@pytest.fixture
def tail_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    if not _tail_takes_a_store():
        pytest.skip("this p8j tail takes no --store (it comes with the store-seam CLI work)")
    yield dict(os.environ, P8J_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1")


def test_tail_on_nats_sees_two_writer_processes_event_for_event(
    tail_env: dict[str, str], nats_url: str, tmp_path: Path
) -> None:
    from p8j.journal.store.nats import NatsStore

    tail = Tail(nats_url, tail_env)
    store = NatsStore(nats_url)
    # Latency is measured once tail follows (a session it printed), not across its start.
    warm = new_session_id()
    store.open_writer(warm, first=start(warm)).close()
    wait_until(lambda: len(tail.of(warm)) == 1, 60, "tail to follow the store")
    writer_env = dict(tail_env, P8J_STORE=nats_url)
    writers = [
        spawn_child("write", str(Home(tmp_path / "w").path), "default", str(seed), env=writer_env)
        for seed in (1, 2)
    ]
    try:
        sids = []
        for w in writers:
            assert w.stdout is not None
            sids.append(read_line(w.stdout).split()[1])
        for w in writers:
            expect_lines(w, "seq", 40)
        for w in writers:
            kill_and_reap(w)
        wait_until(lambda: all(tail.of(sid) == raw_records(store, sid) for sid in sids), 60, "tail")
    finally:
        for w in writers:
            kill_and_reap(w)
        code, err = tail.stop()
        store.close()
    assert code in (0, 130, -2), err
    lags = []
    for sid in sids:
        lines = tail.of(sid)
        assert [json.loads(ln)["seq"] for ln in lines] == list(range(len(lines)))
        for line, at in tail.lines:
            ev = json.loads(line)
            if ev["session_id"] == sid and ev["seq"] > 0:
                ts = datetime.fromisoformat(ev["ts"].replace("Z", "+00:00")).timestamp()
                lags.append(at - ts)
    # Nothing else, nothing twice.
    assert len(tail.lines) == sum(len(tail.of(s)) for s in [warm, *sids])
    lags.sort()
    p50, p99 = lags[len(lags) // 2], lags[int(len(lags) * 0.99)]
    print(f"tail --store nats: {len(lags)} events, p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms")
