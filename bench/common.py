"""Shared bench helpers: building big journals fast, timing calls, running the CLI, results."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from p8j.journal import CommandRecorded, Home, MessageRecorded, SessionEnded, SessionStarted
from p8j.journal.codec import encode_event

SID_BASE = "0190a6e0-0000-7000-8000-"
TS = "2026-11-24T07:06:00.000123Z"
# A typical agent turn: a sentence or two (~150 bytes of content).
CONTENT = "Please refactor the session loader so it streams the log instead of reading it whole. "
CHUNK_EVENTS = 50_000


def message(i: int) -> dict[str, Any]:
    """The i-th message of the bench workload (alternating roles, ~150 bytes)."""
    return {"role": "user" if i % 2 == 0 else "assistant", "content": f"{CONTENT}#{i}"}


def session_id(n: int) -> str:
    """A valid, deterministic session id for bench journals."""
    return f"{SID_BASE}{n:012x}"


def write_log(home: Home, sid: str, n_events: int, *, end: bool = False) -> Path:
    """Write a valid log of `n_events` events (start, messages, a command every 10th) fast.

    Lines are encoded with the journal's own codec and written in large chunks:
    building a 1M event session takes seconds instead of a million appends.
    """
    home.ensure()
    path = home.log_path(sid)
    with open(path, "wb") as f:
        f.write(encode_event(SessionStarted(1, sid, 0, TS, project_name="bench")))
        buf: list[bytes] = []
        for seq in range(1, n_events):
            if seq % 10 == 0:
                buf.append(
                    encode_event(CommandRecorded(1, sid, seq, TS, command=f"pytest -k {seq}"))
                )
            else:
                m = message(seq)
                buf.append(
                    encode_event(
                        MessageRecorded(1, sid, seq, TS, role=m["role"], content=m["content"])
                    )
                )
            if len(buf) >= CHUNK_EVENTS:
                f.write(b"".join(buf))
                buf.clear()
        if end:
            buf.append(encode_event(SessionEnded(1, sid, n_events, TS)))
        f.write(b"".join(buf))
        f.flush()
        # Flushed to disk now, so no later fdatasync (p8j's or a reference's) pays for it.
        os.fsync(f.fileno())
    os.chmod(path, 0o600)
    return path


def percentile(sorted_ns: list[int], q: float) -> float:
    """The q-quantile (0..1) of sorted nanosecond samples, in microseconds."""
    if not sorted_ns:
        return float("nan")
    i = min(len(sorted_ns) - 1, max(0, round(q * (len(sorted_ns) - 1))))
    return sorted_ns[i] / 1000.0


def _sample(fn: Callable[[int], object], n: int, start: int) -> tuple[list[int], int]:
    clock = time.perf_counter_ns
    samples = [0] * n
    t0 = clock()
    for k in range(n):
        a = clock()
        fn(start + k)
        samples[k] = clock() - a
    return samples, clock() - t0


def _stats(samples: list[int], total_ns: int) -> dict[str, float]:
    samples.sort()
    n = len(samples)
    return {
        "p50_us": percentile(samples, 0.50),
        "p99_us": percentile(samples, 0.99),
        "mean_us": total_ns / n / 1000.0,
        "per_s": n / (total_ns / 1e9),
        "n": float(n),
    }


def time_calls(fn: Callable[[int], object], n: int, start: int = 0) -> dict[str, float]:
    """Call fn(i) n times; per-call p50/p99/mean in us and calls per second."""
    samples, total = _sample(fn, n, start)
    return _stats(samples, total)


def time_calls_interleaved(
    fn: Callable[[int], object],
    ref: Callable[[int], object],
    n: int,
    start: int = 0,
    blocks: int = 10,
) -> tuple[dict[str, float], dict[str, float]]:
    """Like `time_calls` for `fn` and `ref`, alternating blocks of n/blocks calls.

    Alternating keeps both under the same machine load, so their ratio holds on a
    busy machine (a sequential ref-then-p8j run is at the mercy of the load's drift).
    """
    per = max(1, n // blocks)
    ours: list[int] = []
    theirs: list[int] = []
    ours_ns = theirs_ns = 0
    for b in range(blocks):
        s, t = _sample(ref, per, start + b * per)
        theirs += s
        theirs_ns += t
        s, t = _sample(fn, per, start + b * per)
        ours += s
        ours_ns += t
    return _stats(ours, ours_ns), _stats(theirs, theirs_ns)


def p8j_argv() -> list[str]:
    """argv prefix that runs the p8j CLI in a fresh interpreter."""
    if importlib.util.find_spec("p8j.cli.__main__") is not None:
        return [sys.executable, "-m", "p8j.cli"]
    return [sys.executable, "-c", "import sys; from p8j.cli.main import main; sys.exit(main())"]


def cli_has(command: str) -> bool:
    """True if this p8j's CLI registers `command` (the CLI grows while the bench is written)."""
    try:
        from p8j.cli.main import COMMANDS
    except ImportError:
        return False
    if command not in COMMANDS:
        return False
    module = COMMANDS[command].split(":", 1)[0]
    return importlib.util.find_spec(module) is not None


def run_timed(argv: list[str], env: dict[str, str], rounds: int) -> list[float]:
    """Wall seconds of `rounds` runs of `argv` (each must exit 0)."""
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        proc = subprocess.run(argv, env=env, capture_output=True, check=False, timeout=120)
        out.append(time.perf_counter() - t)
        if proc.returncode != 0:
            raise AssertionError(
                f"{argv} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-500:]}"
            )
    return out


def env_with_home(home: Path) -> dict[str, str]:
    """The current environment with P8J_HOME set, colour off and bytecode caching on.

    A CLI process is measured as an installed p8j runs: with its modules' bytecode
    cached (pip compiles it on install; Python writes it on first import). Without
    that (PYTHONDONTWRITEBYTECODE is set in some sandboxes) every start would
    compile p8j's sources again, ~15 ms no user pays; the first run (`cli_failure`)
    writes the cache.
    """
    env = dict(os.environ)
    env["P8J_HOME"] = str(home)
    env["NO_COLOR"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def versions() -> dict[str, str]:
    """Versions of Python, p8j and every peer that is installed."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in (
        "p8j",
        "msgspec",
        "pytest-benchmark",
        "openai-agents",
        "langchain-community",
        "langchain-core",
        "eventsourcing",
        "matplotlib",
    ):
        with contextlib.suppress(PackageNotFoundError):
            out[dist] = version(dist)
    return out


def machine() -> str:
    """One line about this machine: CPU model, cores, memory, kernel."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{model}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}"


class Results:
    """Rows of measurements collected over a bench run, written as JSON at the end."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def add(self, group: str, name: str, **values: Any) -> dict[str, Any]:
        """Record one measurement row and return it."""
        row = {"group": group, "name": name, **values}
        self.rows.append(row)
        return row

    def note(self, text: str) -> None:
        """Record a note (e.g. a skipped benchmark and why)."""
        self.notes.append(text)

    def dump(self, path: Path, command: str, load_before: str = "") -> None:
        """Write every row, the notes, machine, versions, date and command to `path`."""
        doc = {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "load": f"load average {load_before or '?'} before, {loadavg()} after the run",
            "versions": versions(),
            "command": command,
            "rows": self.rows,
            "notes": self.notes,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + "\n")


def loadavg() -> str:
    """The 1/5/15-minute load averages (other work on the machine skews absolute figures)."""
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def drain(it: Iterable[object]) -> int:
    """Consume an iterable; return how many items it had."""
    n = 0
    for _ in it:
        n += 1
    return n


def cli_failure(argv: list[str], env: dict[str, str]) -> str | None:
    """None if `argv` runs and exits 0, else the last line of its stderr (the CLI is a WIP)."""
    proc = subprocess.run(argv, env=env, capture_output=True, check=False, timeout=120)
    if proc.returncode == 0:
        return None
    lines = proc.stderr.decode(errors="replace").strip().splitlines() or ["(no stderr)"]
    return f"exit {proc.returncode}: {lines[-1]}"
