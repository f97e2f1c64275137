"""Resume of a BIG event session: time until the next record is appended.

Cold: no snapshot cache (a full verified replay). Warm: a fresh snapshot (what
the previous resume left behind), so only the log's tail is read. "whole" builds
the whole history (1M message dicts); "last 100" is ``resume_session(id,
history=100)``, which reads the snapshot's head and last chunks only.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

import pytest

from p8j.journal import SessionManager

from .common import Results, message
from .conftest import BigSession, timed_rounds


@pytest.mark.parametrize(
    ("cache", "history"), [("cold", None), ("warm", None), ("warm", 100)], ids=str
)
def test_resume(
    benchmark: Any, results: Results, big: BigSession, cache: str, history: int | None
) -> None:
    if cache == "warm":
        big.warm()

    elapsed: list[float] = []

    def resume_and_record() -> int:
        if cache == "cold":
            shutil.rmtree(big.home.cache_dir / "snapshots", ignore_errors=True)
        mgr = SessionManager(big.home)
        try:
            t = time.perf_counter()
            resumed = mgr.resume_session(big.sid, history=history)
            seq = mgr.record_message(message(0))
            elapsed.append(time.perf_counter() - t)  # not the pause below
            assert resumed.last_seq >= big.events
            assert (resumed.conversation_omitted > 0) == (history is not None)
            return seq
        finally:
            mgr.close()

    rounds = 1 if cache == "cold" else 3
    _, seq = timed_rounds(benchmark, resume_and_record, rounds)
    assert seq >= big.events
    benchmark.extra_info.update(ms=min(elapsed) * 1000)
    kept = "whole history" if history is None else f"last {history} entries"
    results.add(
        "resume",
        f"resume {big.events:,} events, {cache} snapshot cache, {kept}",
        size=big.events,
        cache=cache,
        history=history,
        ms=min(elapsed) * 1000,
    )
