"""Recording real agent transcripts with write-time redaction on against it off, in one run.

Every message of ../shared/realdata is recorded as an agent would record it
through `SessionManager.record_message`: the ``message`` object of Claude Code's
user/assistant records, and Codex's ``response_item`` payloads (bare items in
legacy rollouts), with the item's ``type`` as the role where it has none. One
session per source file, rounds alternating redaction on and off so both see
the same machine load. Text size is a message's JSON encoding.

Reported: MB/s both ways and their ratio (target: on >= 75% of off), in wall
time and per CPU second of this process (steadier on a shared machine), and the
worst redaction cost of one message per 100 KB of its text (target: <= 1 ms).
That cost is timed on exactly what record_message runs for redaction (the
stream's `message`, in record order); messages under 10 KB are
reported by their worst absolute cost instead, where the fixed cost of a call
outweighs the per-byte cost. Two measures of it: cold (the best of three runs
of the whole corpus in record order, each message after all the others: what an
agent recording one message now and then pays) and warm (each message redacted
five times in a row from the same stream state, the best of them: the work
itself, without a scheduler's hiccup or the caches other messages emptied).

The corpus is frozen out of the garbage collector (`gc.freeze`) while it is
recorded: it is the benchmark's data, ~10^5 objects that made each full
collection in a timed round cost ~40 ms, landing on one side or the other at
random. What recording allocates is collected as usual.
"""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from msgspec import UNSET

from p8j.journal import SessionManager
from p8j.journal.secrets.engine import Redactor
from p8j.journal.secrets.stream import RedactStream

from .common import Results
from .conftest import SMOKE, timed_rounds

ROOT = Path(__file__).resolve().parents[2] / "shared" / "realdata"
ROUNDS = 1 if SMOKE else 3
_CODEX_ITEMS = frozenset({"message", "function_call", "function_call_output", "reasoning"})
_PER_BYTE_FROM = 10_000


def as_message(record: Any) -> dict[str, Any] | None:
    """The message an agent would record for one log line, or None for other lines."""
    if not isinstance(record, dict):
        return None
    kind = record.get("type")
    if kind in ("user", "assistant"):
        msg = record.get("message")
        if isinstance(msg, dict) and isinstance(msg.get("role"), str):
            return msg
        return None
    if kind == "response_item":
        item = record.get("payload")
    elif kind in _CODEX_ITEMS and "payload" not in record:
        item = record  # legacy rollout: bare response items
    else:
        return None
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        return None
    role = item.get("role")
    return item if isinstance(role, str) else {"role": item["type"], **item}


def corpus() -> list[list[dict[str, Any]]]:
    """The messages of each source file of the real corpus, in file order."""
    sessions: list[list[dict[str, Any]]] = []
    for path in sorted(ROOT.rglob("*.jsonl")):
        msgs: list[dict[str, Any]] = []
        for raw in path.read_bytes().split(b"\n"):
            try:
                msg = as_message(json.loads(raw))
            except ValueError:
                continue
            if msg is not None:
                msgs.append(msg)
        if msgs:
            sessions.append(msgs[:50] if SMOKE else msgs)
    return sessions


def record_all(home: Path, sessions: list[list[dict[str, Any]]], *, redact: bool) -> int:
    """Record every session into a fresh journal at `home`; return the messages recorded."""
    n = 0
    with SessionManager(home, redact=redact) as mgr:
        for msgs in sessions:
            mgr.start_session(project_name="realdata")
            for msg in msgs:
                mgr.record_message(msg)
            n += len(msgs)
            mgr.end_session()
    return n


Worst = tuple[float, int, float, int]


def worst_costs(sessions: list[list[dict[str, Any]]], *, repeats: int = 1) -> Worst:
    """(worst ms per 100 KB, its size) over messages >= 10 KB; (worst ms, size) of smaller ones.

    Each message is timed on what record_message runs for redaction, with the
    stream in the state record order leaves it in; the best of three runs of
    the whole corpus counts, so a scheduler hiccup is not taken for a slow message.
    With `repeats`, each message is also redacted that many times in a row from
    the same stream state, and the best counts (warm).
    """
    sizes = [[len(msgspec.json.encode(m)) for m in msgs] for msgs in sessions]
    best: list[list[float]] = [[float("inf")] * len(msgs) for msgs in sessions]
    redactor = Redactor()
    clock = time.perf_counter
    for _ in range(3 if repeats == 1 else 1):
        for msgs, times in zip(sessions, best, strict=True):
            stream = RedactStream(redactor)
            for i, msg in enumerate(msgs):
                carry, quiet = stream.carry, stream.quiet
                for _ in range(repeats):
                    stream.carry, stream.quiet = carry, quiet
                    t = clock()
                    rest = {k: v for k, v in msg.items() if k != "role" and k != "content"}
                    stream.message(msg["role"], msg.get("content", UNSET), rest)
                    times[i] = min(times[i], clock() - t)
    per_100k, big_size, small_ms, small_size = 0.0, 0, 0.0, 0
    for msg_sizes, times in zip(sizes, best, strict=True):
        for size, s in zip(msg_sizes, times, strict=True):
            if size >= _PER_BYTE_FROM:
                if s * 1e3 / (size / 1e5) > per_100k:
                    per_100k, big_size = s * 1e3 / (size / 1e5), size
            elif s * 1e3 > small_ms:
                small_ms, small_size = s * 1e3, size
    return per_100k, big_size, small_ms, small_size


def test_recording_real_agent_logs_with_and_without_redaction(
    benchmark: Any, results: Results, tmp_path: Path
) -> None:
    if not ROOT.is_dir():
        pytest.skip("../shared/realdata is absent")
    sessions = corpus()
    unfrozen = _unfrozen_ratios(tmp_path / "unfrozen", sessions)
    gc.collect()
    gc.freeze()  # see the module doc
    try:
        _measure(benchmark, results, tmp_path, sessions, unfrozen)
    finally:
        gc.unfreeze()


def _unfrozen_ratios(home: Path, sessions: list[list[dict[str, Any]]]) -> tuple[float, float]:
    """(on / off in wall time, per CPU second) measured as before the corpus was frozen."""
    wall: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, list[float]] = {True: [], False: []}
    for i in range(ROUNDS):
        for redact in (False, True):
            gc.collect()
            t, c = time.perf_counter(), time.process_time()
            record_all(home / f"{redact}{i}", sessions, redact=redact)
            wall[redact].append(time.perf_counter() - t)
            cpu[redact].append(time.process_time() - c)
    return min(wall[False]) / min(wall[True]), min(cpu[False]) / min(cpu[True])


def _measure(
    benchmark: Any,
    results: Results,
    tmp_path: Path,
    sessions: list[list[dict[str, Any]]],
    unfrozen: tuple[float, float],
) -> None:
    total = sum(len(msgspec.json.encode(m)) for msgs in sessions for m in msgs)
    homes = iter(range(10_000))
    off_times: list[float] = []
    cpu: dict[bool, list[float]] = {True: [], False: []}

    def run(redact: bool) -> int:
        t = time.process_time()
        n = record_all(tmp_path / f"{redact}{next(homes)}", sessions, redact=redact)
        cpu[redact].append(time.process_time() - t)
        return n

    def reference() -> None:
        gc.collect()
        t = time.perf_counter()
        run(False)
        off_times.append(time.perf_counter() - t)
        gc.collect()

    times, n = timed_rounds(benchmark, lambda: run(True), ROUNDS, setup=reference)
    on_mb_s = total / min(times) / 1e6
    off_mb_s = total / min(off_times) / 1e6
    # CPU time of this process (user + system, so the writes count): what other work on
    # a shared machine does not inflate the way it inflates wall time.
    on_cpu, off_cpu = total / min(cpu[True]) / 1e6, total / min(cpu[False]) / 1e6
    per_100k, big_size, small_ms, small_size = worst_costs(sessions)
    warm_100k, warm_size, warm_ms, warm_small = worst_costs(sessions, repeats=5)
    benchmark.extra_info.update(on_mb_per_s=on_mb_s, off_mb_per_s=off_mb_s)
    results.add(
        "redact",
        "recording real agent logs, redaction on vs off",
        messages=n,
        mb=total / 1e6,
        on_mb_per_s=on_mb_s,
        off_mb_per_s=off_mb_s,
        on_over_off=on_mb_s / off_mb_s,
        on_mb_per_cpu_s=on_cpu,
        off_mb_per_cpu_s=off_cpu,
        on_over_off_cpu=on_cpu / off_cpu,
        on_over_off_unfrozen=unfrozen[0],
        on_over_off_cpu_unfrozen=unfrozen[1],
        worst_ms_per_100kb=per_100k,
        worst_ms_per_100kb_size=big_size,
        worst_ms_under_10kb=small_ms,
        worst_ms_under_10kb_size=small_size,
        warm_worst_ms_per_100kb=warm_100k,
        warm_worst_ms_per_100kb_size=warm_size,
        warm_worst_ms_under_10kb=warm_ms,
        warm_worst_ms_under_10kb_size=warm_small,
        reference="the same recording with redact=False",
    )
    print(
        f"\n{n} messages, {total / 1e6:.1f} MB: redaction on {on_mb_s:.1f} MB/s, "
        f"off {off_mb_s:.1f} MB/s ({on_mb_s / off_mb_s:.0%}); per CPU second {on_cpu:.1f} "
        f"against {off_cpu:.1f} MB ({on_cpu / off_cpu:.0%}); corpus not frozen: "
        f"{unfrozen[0]:.0%} wall, {unfrozen[1]:.0%} CPU; worst "
        f"{per_100k:.3f} ms per 100 KB ({big_size:,} B message), "
        f"worst under 10 KB {small_ms:.3f} ms ({small_size:,} B); warm: worst "
        f"{warm_100k:.3f} ms per 100 KB ({warm_size:,} B), under 10 KB {warm_ms:.3f} ms "
        f"({warm_small:,} B)"
    )
