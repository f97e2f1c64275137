"""record_message latency and throughput per durability mode, at three session sizes.

Write-time secret redaction is on by default; the default mode is also measured
with it off, to separate the journal's own cost from the redaction scan.

Each case resumes a session of the given size, then records N messages, timing
every call; the reference (encode + one os.write on an O_APPEND fd, plus
fdatasync for the fsync mode) records the same messages in the same test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from p8j.journal import Home, SessionManager
from p8j.journal.store.fs.writer import Durability

from .common import Results, message, session_id, time_calls_interleaved, write_log
from .conftest import BIG, SMOKE, BigSession, timed_rounds
from .reference import FormatFloor, RefAppender

SIZES = (0, 100, BIG) if SMOKE else (0, 10_000, BIG)
RECORDS: dict[str, int] = (
    {"default": 200, "batch": 200, "fsync": 20}
    if SMOKE
    else {"default": 50_000, "batch": 50_000, "fsync": 1_000}
)


def _session(tmp_path: Path, big: BigSession, size: int) -> tuple[Home, str]:
    if size == BIG:
        return big.home, big.sid
    home = Home(tmp_path / "home")
    sid = session_id(size + 1)
    write_log(home, sid, max(size, 1))
    return home, sid


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    ("mode", "redact"),
    [("default", True), ("default", False), ("batch", True), ("fsync", True)],
    ids=["default", "default-noredact", "batch", "fsync"],
)
def test_record_message(
    benchmark: Any,
    results: Results,
    tmp_path: Path,
    big: BigSession,
    mode: Durability,
    redact: bool,
    size: int,
) -> None:
    n = RECORDS[mode]
    home, sid = _session(tmp_path, big, size)
    ref = RefAppender(tmp_path / "ref.jsonl", sync=mode == "fsync")
    try:
        with SessionManager(home, durability=mode, redact=redact) as mgr:
            mgr.resume_session(sid)
            record = mgr.record_message

            def run() -> tuple[dict[str, float], dict[str, float]]:
                return time_calls_interleaved(lambda i: record(message(i)), ref.record, n, size)

            _, (stats, ref_stats) = timed_rounds(benchmark, run, 1)
            assert mgr.current_session is not None
            assert mgr.current_session.last_seq >= size + n
    finally:
        ref.close()
    benchmark.extra_info.update(stats)
    label = mode if redact else f"{mode}, redaction off"
    results.add(
        "record",
        f"record_message {label}",
        mode=label,
        size=size,
        **stats,
        ref_p50_us=ref_stats["p50_us"],
        ref_per_s=ref_stats["per_s"],
        ratio_p50=stats["p50_us"] / ref_stats["p50_us"],
        ratio_per_s=stats["per_s"] / ref_stats["per_s"],
        reference="encode+write+fdatasync" if mode == "fsync" else "encode+write",
    )


def test_record_format_floor(benchmark: Any, results: Results, tmp_path: Path) -> None:
    # Not p8j: the least any writer of p8j's line format does per record (see
    # reference.FormatFloor), against the same reference, to show what the format
    # itself costs on this machine and what is left for p8j's own code.
    n = RECORDS["default"]
    ref = RefAppender(tmp_path / "ref.jsonl")
    floor = FormatFloor(tmp_path / "floor.jsonl")
    try:

        def run() -> tuple[dict[str, float], dict[str, float]]:
            return time_calls_interleaved(floor.record, ref.record, n)

        _, (stats, ref_stats) = timed_rounds(benchmark, run, 1)
        assert len(floor.history) == n
    finally:
        ref.close()
        floor.close()
    benchmark.extra_info.update(stats)
    results.add(
        "record",
        "format floor (not p8j: clock, struct, CRC line, write, history; inline)",
        mode="format floor (not p8j: clock, struct, CRC line, write; inline)",
        size=0,
        **stats,
        ref_p50_us=ref_stats["p50_us"],
        ref_per_s=ref_stats["per_s"],
        ratio_p50=stats["p50_us"] / ref_stats["p50_us"],
        ratio_per_s=stats["per_s"] / ref_stats["per_s"],
        reference="encode+write",
    )
