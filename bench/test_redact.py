"""Write-time redaction cost: the scan per text kind, side by side with encoding the same text.

The reference is what every record pays anyway for the same text: msgspec JSON
encoding of it. The ratio says how much the redaction scan adds on top; the real
agent-log corpus (../shared/realdata, when present) gives a throughput in MB/s.
The session case is what record_message pays per message in bench/test_record.py:
the stream's value() and take() on that workload's texts, in record order.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from p8j.journal.secrets.engine import Redactor
from p8j.journal.secrets.stream import RedactStream

from .common import Results, message
from .conftest import SMOKE, timed_rounds

REPEAT = 200 if SMOKE else 20_000
PROSE = (
    "Can you help me refactor the session manager so that it writes events incrementally "
    "instead of rewriting the whole file? Also please add tests."
)
CODE = (Path(__file__).resolve().parents[1] / "journal" / "manager.py").read_text()[:2000]
TOOL_OUTPUT = ("src/p8j/journal/log.py:120: appended 1 line (153 bytes) in 2.1 us\n") * 1000
TEXTS = {"prose 143 B": PROSE, "code 2 kB": CODE, "tool output 64 kB": TOOL_OUTPUT[:65536]}


@pytest.mark.parametrize("kind", list(TEXTS))
def test_redaction_scan(benchmark: Any, results: Results, kind: str) -> None:
    text = TEXTS[kind]
    stream = RedactStream(Redactor())
    encode = msgspec.json.Encoder().encode
    n = max(10, REPEAT * 143 // len(text))

    def ours() -> int:
        for _ in range(n):
            stream.text(text)
        return n

    ref_times: list[float] = []

    def reference() -> None:
        t = time.perf_counter()
        for _ in range(n):
            encode(text)
        ref_times.append(time.perf_counter() - t)

    times, _ = timed_rounds(benchmark, ours, 3, setup=reference)
    us = min(times) / n * 1e6
    ref_us = min(ref_times) / n * 1e6
    benchmark.extra_info.update(us_per_text=us, ref_us_per_text=ref_us)
    results.add(
        "redact",
        f"redaction scan, {kind}",
        us_per_text=us,
        ref_us_per_text=ref_us,
        ratio=us / ref_us,
        mb_per_s=len(text) / (us / 1e6) / 1e6,
        reference="msgspec JSON encoding of the same text",
    )


def test_redaction_of_a_session_of_messages(benchmark: Any, results: Results) -> None:
    texts = [message(i)["content"] for i in range(REPEAT)]
    stream = RedactStream(Redactor())
    encode = msgspec.json.Encoder().encode

    def ours() -> int:
        value, take = stream.value, stream.take
        for text in texts:
            value(text)
            take()
        return len(texts)

    ref_times: list[float] = []

    def reference() -> None:
        t = time.perf_counter()
        for text in texts:
            encode(text)
        ref_times.append(time.perf_counter() - t)

    times, _ = timed_rounds(benchmark, ours, 3, setup=reference)
    us = min(times) / len(texts) * 1e6
    ref_us = min(ref_times) / len(texts) * 1e6
    benchmark.extra_info.update(us_per_text=us, ref_us_per_text=ref_us)
    results.add(
        "redact",
        "redaction of a session's messages (value + take)",
        us_per_text=us,
        ref_us_per_text=ref_us,
        ratio=us / ref_us,
        reference="msgspec JSON encoding of the same text",
    )


def test_redaction_throughput_on_real_agent_logs(benchmark: Any, results: Results) -> None:
    root = Path(__file__).resolve().parents[2] / "shared" / "realdata"
    if not root.is_dir():
        pytest.skip("../shared/realdata is absent")
    texts: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            texts.append(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    for path in sorted(root.rglob("*.jsonl")):
        for raw in path.read_bytes().split(b"\n"):
            try:
                walk(json.loads(raw))
            except ValueError:
                continue
    if SMOKE:
        texts = texts[:2000]
    total = sum(len(t.encode()) for t in texts)
    red = Redactor()
    encode = msgspec.json.Encoder().encode

    def ours() -> int:
        changed = 0
        for t in texts:
            changed += red.text(t) is not t
        return changed

    ref_times: list[float] = []

    def reference() -> None:
        t0 = time.perf_counter()
        for t in texts:
            encode(t)
        ref_times.append(time.perf_counter() - t0)

    times, changed = timed_rounds(benchmark, ours, 3, setup=reference)
    mb_s = total / min(times) / 1e6
    ref_mb_s = total / min(ref_times) / 1e6
    benchmark.extra_info.update(mb_per_s=mb_s, ref_mb_per_s=ref_mb_s, texts_changed=changed)
    results.add(
        "redact",
        "redaction of real agent-log text",
        texts=len(texts),
        mb=total / 1e6,
        mb_per_s=mb_s,
        ref_mb_per_s=ref_mb_s,
        ratio=ref_mb_s / mb_s,
        texts_changed=changed,
        reference="msgspec JSON encoding of the same texts",
    )
