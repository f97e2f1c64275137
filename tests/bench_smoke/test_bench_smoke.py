"""CI guard for bench/: every bench module imports, and a tiny benchmark really runs."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def _bench_modules() -> list[str]:
    names = [p.stem for p in BENCH.glob("*.py") if p.stem != "__init__"]
    names += [f"peers.{p.stem}" for p in (BENCH / "peers").glob("*.py") if p.stem != "__init__"]
    return sorted(names)


@pytest.mark.skipif(not BENCH.is_dir(), reason="no bench/ beside tests/ (installed package)")
@pytest.mark.parametrize("name", _bench_modules())
def test_bench_module_imports(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if name == "peers.es_model":
        pytest.importorskip("eventsourcing")
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("P8J_BENCH_SCALE", "smoke")
    module = importlib.import_module(f"bench.{name}")
    assert module.__doc__, f"bench/{name} has no module docstring"


@pytest.mark.skipif(not BENCH.is_dir(), reason="no bench/ beside tests/ (installed package)")
def test_tiny_benchmarks_run(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = dict(os.environ, P8J_BENCH_SCALE="smoke")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "bench/test_record.py",
            "bench/test_replay.py",
            "-k",
            "default or replay",
            "--benchmark-disable",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--bench-results={out}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    groups = {row["group"] for row in doc["rows"]}
    assert {"record", "replay"} <= groups
    record = [r for r in doc["rows"] if r["group"] == "record"]
    assert all(r["per_s"] > 0 and r["p50_us"] > 0 and r["ref_p50_us"] > 0 for r in record)
    # The report renders what the run wrote.
    from_report = subprocess.run(
        [sys.executable, "-m", "bench.report", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "record_message" in from_report.stdout
    assert "| default |" in from_report.stdout
