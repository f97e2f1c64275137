"""Per-record cost against session size: p8j and each peer on the same workload.

Each peer opens a session already holding `size` messages and records more,
timing each call. Peers whose cost grows with the session (they rewrite it
whole) are measured at sizes up to 10k only; their row says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .common import Results, time_calls
from .conftest import BIG, SMOKE, BigSession, timed_rounds
from .peers.adapters import PEERS, PeerMissing, open_adapter

SIZES = (0, 100) if SMOKE else (0, 1_000, 10_000, 100_000)
GROWING = {"original", "langchain-file"}  # O(session) per record


def _records(peer: str, size: int) -> int:
    if SMOKE:
        return 5
    if peer == "p8j":
        return 20_000
    if peer in GROWING:
        return {0: 200, 1_000: 50}.get(size, 10)
    return 300


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("peer", PEERS)
def test_peer_record(
    benchmark: Any, results: Results, tmp_path: Path, peer: str, size: int
) -> None:
    if peer in GROWING and size > 10_000:
        results.note(f"{peer}: not run at {size:,} (rewrites the whole session per record)")
        pytest.skip("rewrites the whole session per record: too slow at this size")
    try:
        adapter = open_adapter(peer, tmp_path, size)
    except PeerMissing as exc:
        results.note(f"{peer}: skipped ({exc})")
        pytest.skip(str(exc))
    n = _records(peer, size)
    try:
        _, stats = timed_rounds(benchmark, lambda: time_calls(adapter.record, n, start=size), 1)
    finally:
        adapter.close()
    benchmark.extra_info.update(stats)
    results.add("peers", peer, peer=peer, size=size, durability=adapter.durability, **stats)


def test_p8j_at_big_size(benchmark: Any, results: Results, big: BigSession) -> None:
    """p8j's point at BIG events for the plot (the peers cannot get there)."""
    from p8j.journal import SessionManager

    from .common import message

    for fsync in (False, True):
        with SessionManager(big.home, durability="fsync" if fsync else "default") as mgr:
            mgr.resume_session(big.sid)
            n = 1_000 if fsync else 20_000
            if SMOKE:
                n = 5
            stats = time_calls(lambda i: mgr.record_message(message(i)), n, start=BIG)
        name = "p8j-fsync" if fsync else "p8j"
        results.add(
            "peers",
            name,
            peer=name,
            size=BIG,
            durability="fsync per record" if fsync else "page cache",
            **stats,
        )
    timed_rounds(benchmark, lambda: None, 1)
