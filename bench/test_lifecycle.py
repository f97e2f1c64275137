"""Session lifecycle (start, 10 messages, end) per second, against a bare create/write/sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from p8j.journal import Home, SessionManager

from .common import Results, message
from .conftest import SMOKE, plain_rounds, timed_rounds
from .reference import ref_lifecycle

N = 20 if SMOKE else 300


def test_session_lifecycle(benchmark: Any, results: Results, tmp_path: Path) -> None:
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    ref_times, _ = plain_rounds(lambda: [ref_lifecycle(ref_dir, i) for i in range(N)], 1)
    home = Home(tmp_path / "home")
    mgr = SessionManager(home)

    def run() -> int:
        for _ in range(N):
            mgr.start_session("bench")
            for i in range(10):
                mgr.record_message(message(i))
            mgr.end_session()
        return N

    times, _ = timed_rounds(benchmark, run, 1)
    mgr.close()
    assert len(home.session_ids()) == N
    per_s = N / times[0]
    ref_per_s = N / ref_times[0]
    benchmark.extra_info.update(lifecycles_per_s=per_s, ref_per_s=ref_per_s)
    results.add(
        "lifecycle",
        "start + 10 messages + end",
        per_s=per_s,
        ref_per_s=ref_per_s,
        ratio_per_s=per_s / ref_per_s,
        reference="create+fsync+fsync dir+12 writes+fdatasync",
    )
