"""Replay throughput (events/s, MB/s) at MID and BIG events, and peak memory of loading BIG.

p8j's full replay (verify every line's CRC, seq, session and lifecycle, then
fold), through the library's own path (``fold_log`` without the snapshot cache,
what `load_session` does when there is none), is compared with the reference
(read + decode_lines + a minimal fold). Both run with the cycle collector
paused, as p8j's loader pauses it: with it running, full collections over the
bench process's heap (1M-entry Sessions from other tests) would dominate both
and hide what reading costs. Loading through the snapshot cache is reported
beside it.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from p8j.journal import Home
from p8j.journal.cache.snapshots import fold_log
from p8j.replay import load_session

from .common import Results, session_id, write_log
from .conftest import BIG, MID, BigSession, timed_rounds
from .reference import ref_replay


@pytest.mark.parametrize("size", [MID, BIG])
def test_replay(
    benchmark: Any, results: Results, tmp_path: Path, big: BigSession, size: int
) -> None:
    if size == BIG:
        path, home, sid = big.path, big.home, big.sid
    else:
        home = Home(tmp_path / "home")
        sid = session_id(7)
        path = write_log(home, sid, size)
    nbytes = path.stat().st_size
    rounds = 3 if size < BIG else 2
    ref_times: list[float] = []
    ref_events = 0

    def reference() -> None:
        # pytest-benchmark's untimed setup: the reference runs right before each
        # round of ours, under the same machine load.
        nonlocal ref_events
        gc.disable()
        try:
            t = time.perf_counter()
            ref_events = ref_replay(path)[0]
            ref_times.append(time.perf_counter() - t)
        finally:
            gc.enable()

    def replay() -> int:
        _, _, events = fold_log(home, sid, use_cache=False, save=False)
        return events

    times, events = timed_rounds(benchmark, replay, rounds, setup=reference)
    assert events >= size and ref_events >= size
    best, ref_best = min(times), min(ref_times)
    row = results.add(
        "replay",
        f"full replay {size:,} events",
        size=size,
        events_per_s=events / best,
        mb_per_s=nbytes / best / 1e6,
        ref_events_per_s=ref_events / ref_best,
        ratio=ref_best / best * events / ref_events,
        seconds=best,
        reference="read+decode_lines+minimal fold",
    )
    benchmark.extra_info.update(row)


def test_load_with_snapshot(benchmark: Any, results: Results, big: BigSession) -> None:
    big.warm()
    times, session = timed_rounds(benchmark, lambda: load_session(big.sid, big.home), 2)
    assert session.last_seq + 1 >= big.events
    results.add(
        "replay",
        f"load_session {big.events:,} events, fresh snapshot",
        size=big.events,
        seconds=min(times),
        events_per_s=big.events / min(times),
    )


_MEMORY_PROBE = textwrap.dedent(
    """
    import gc, json, sys, tracemalloc
    from p8j.journal.session import fold
    from p8j.journal.store.fs import LogCursor
    from p8j.replay import load_session
    path, sid, home = sys.argv[1], sys.argv[2], sys.argv[3]
    tracemalloc.start()
    if home == "-":  # a full verified replay of the log
        session = fold(LogCursor(path, session_id=sid).read())
    else:  # through the snapshot cache, fresh
        session = load_session(sid, home)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({
        "retained_mb": current / 1e6, "peak_mb": peak / 1e6,
        "transient_mb": (peak - current) / 1e6,
        "events": session.last_seq + 1,
    }))
    """
)


@pytest.mark.parametrize("source", ["log", "snapshot"])
def test_peak_memory_of_loading(
    benchmark: Any, results: Results, big: BigSession, source: str
) -> None:
    """Peak memory over what the loaded Session itself holds (tracemalloc, in a fresh process)."""
    home = "-"
    if source == "snapshot":
        big.warm()
        home = str(big.home.path)

    def probe() -> dict[str, float]:
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_PROBE, str(big.path), big.sid, home],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        doc: dict[str, float] = json.loads(out.stdout)
        return doc

    _, doc = timed_rounds(benchmark, probe, 1)
    assert doc["events"] >= big.events
    benchmark.extra_info.update(doc)
    results.add(
        "memory",
        f"load {big.events:,} events"
        + (" from a fresh snapshot" if source == "snapshot" else " (full replay)"),
        size=big.events,
        log_mb=big.path.stat().st_size / 1e6,
        **doc,
    )
