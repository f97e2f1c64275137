"""Import throughput: the real agent logs repeated to 100 MB, against msgspec decoding them.

The corpus is ../shared/realdata (Claude Code and Codex), copied until it holds
100 MB of source (2 MB under P8J_BENCH_SCALE=smoke); every copy gets new source
ids (each UUID and sub-agent id in paths and contents has its last four hex
digits replaced by the copy's number, so sizes stay the same) and imports as
new sessions. Each round imports the whole tree into a fresh home with
redaction on (as `p8j import` does), claude and codex importers both.

The reference, timed in the same run between the rounds: msgspec decoding every
line of the same files (split on newlines, one `Decoder.decode` per line), the
least any importer must do. Reported: MB/s and records/s of both and their
ratio (goal: import >= 10% of the reference), in wall time and per CPU second of
this process (steadier on a shared machine; the import's fsyncs wait in wall
time only).
"""

from __future__ import annotations

import gc
import re
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from p8j.journal.importers.engine import import_path

from .common import Results
from .conftest import SMOKE, timed_rounds

ROOT = Path(__file__).resolve().parents[2] / "shared" / "realdata"
CORPORA = {"claude": "claude-code", "codex": "codex"}
TARGET = (2 if SMOKE else 100) * 1_000_000
ROUNDS = 1 if SMOKE else 2
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_AGENT = re.compile(rb"agent-([0-9a-z]+)")


def _sources() -> list[Path]:
    found = []
    for folder in CORPORA.values():
        found += sorted(p for p in (ROOT / folder).rglob("*.jsonl") if p.is_file())
    return found


def _renamer(k: int) -> Any:
    tail = b"%04x" % k

    def uuid(m: re.Match[bytes]) -> bytes:
        return m.group(0)[:-4] + tail

    def agent(m: re.Match[bytes]) -> bytes:
        name = m.group(1)
        return b"agent-" + (name[:-4] + tail if len(name) > 4 else name + tail)

    def apply(data: bytes) -> bytes:
        return _AGENT.sub(agent, _UUID.sub(uuid, data))

    return apply


def build_corpus(dest: Path) -> tuple[int, list[Path]]:
    """Copies of the corpus under dest/<agent>/copy-K until TARGET bytes; (bytes, files)."""
    files = _sources()
    total, k, written = 0, 0, []
    while total < TARGET:
        rename = _renamer(k)
        for path in files:
            rel = path.relative_to(ROOT)
            agent = next(a for a, f in CORPORA.items() if rel.parts[0] == f)
            inner = Path(*rel.parts[1:])
            out = dest / agent / f"copy-{k}" / rename(str(inner).encode()).decode()
            out.parent.mkdir(parents=True, exist_ok=True)
            data = rename(path.read_bytes())
            out.write_bytes(data)
            written.append(out)
            total += len(data)
        k += 1
    return total, written


def decode_all(files: list[Path]) -> int:
    """The reference: msgspec-decode every line of every file; return the records."""
    dec = msgspec.json.Decoder()
    n = 0
    for path in files:
        for line in path.read_bytes().split(b"\n"):
            if line.strip():
                try:
                    dec.decode(line)
                except msgspec.DecodeError:
                    continue
                n += 1
    return n


def test_import_throughput_against_msgspec_decoding(
    benchmark: Any, results: Results, tmp_path: Path
) -> None:
    if not ROOT.is_dir():
        pytest.skip("../shared/realdata is absent")
    total, files = build_corpus(tmp_path / "src")
    homes = iter(range(1000))
    ref_times: list[float] = []
    ref_records: list[int] = []
    cpu: dict[str, list[float]] = {"import": [], "reference": []}

    def reference() -> None:
        gc.collect()
        t, c = time.perf_counter(), time.process_time()
        ref_records.append(decode_all(files))
        ref_times.append(time.perf_counter() - t)
        cpu["reference"].append(time.process_time() - c)
        gc.collect()

    def run() -> int:
        home = tmp_path / f"home{next(homes)}"
        n = 0
        c = time.process_time()
        for agent in CORPORA:
            n += import_path(agent, tmp_path / "src" / agent, home=home, redact=True).events
        cpu["import"].append(time.process_time() - c)
        return n

    times, events = timed_rounds(benchmark, run, ROUNDS, setup=reference)
    mb_s = total / min(times) / 1e6
    ref_mb_s = total / min(ref_times) / 1e6
    benchmark.extra_info.update(mb_per_s=mb_s, reference_mb_per_s=ref_mb_s)
    results.add(
        "import",
        "importing the realdata corpus repeated, redaction on, vs msgspec decoding it",
        mb=total / 1e6,
        files=len(files),
        records=events,
        mb_per_s=mb_s,
        records_per_s=events / min(times),
        reference_mb_per_s=ref_mb_s,
        reference_records_per_s=ref_records[0] / min(ref_times),
        ratio=mb_s / ref_mb_s,
        # CPU seconds of this process (user + system): what other work on a shared
        # machine does not inflate; fsync waits are in the wall time only.
        mb_per_cpu_s=total / min(cpu["import"]) / 1e6,
        reference_mb_per_cpu_s=total / min(cpu["reference"]) / 1e6,
        ratio_cpu=min(cpu["reference"]) / min(cpu["import"]),
    )
    assert events > 0 and ref_records[0] >= events
