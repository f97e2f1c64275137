"""Session lifecycle (start, 10 messages, end) per second, against a bare create/write/sync."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from p8j.journal import Home, SessionManager

from .common import Results, message
from .conftest import SMOKE, timed_rounds
from .reference import ref_lifecycle

N = 20 if SMOKE else 100
ROUNDS = 1 if SMOKE else 3


def test_session_lifecycle(benchmark: Any, results: Results, tmp_path: Path) -> None:
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    ref_times: list[float] = []

    def reference() -> None:
        # Untimed setup of each round: the reference runs under the same load as ours.
        base = len(ref_times) * N
        t = time.perf_counter()
        for i in range(N):
            ref_lifecycle(ref_dir, base + i)
        ref_times.append(time.perf_counter() - t)

    home = Home(tmp_path / "home")
    mgr = SessionManager(home)

    def run() -> int:
        for _ in range(N):
            mgr.start_session("bench")
            for i in range(10):
                mgr.record_message(message(i))
            mgr.end_session()
        return N

    times, _ = timed_rounds(benchmark, run, ROUNDS, setup=reference)
    mgr.close()
    assert len(home.session_ids()) == N * len(times)
    per_s = N / min(times)
    ref_per_s = N / min(ref_times)
    benchmark.extra_info.update(lifecycles_per_s=per_s, ref_per_s=ref_per_s)
    results.add(
        "lifecycle",
        "start + 10 messages + end",
        per_s=per_s,
        ref_per_s=ref_per_s,
        ratio_per_s=per_s / ref_per_s,
        reference="create+fsync+fsync dir+12 writes+fdatasync",
    )
