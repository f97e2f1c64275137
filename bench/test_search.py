"""Search: the scan without an index against `grep -c`, and the indexed search against start-up.

The journal is built from the real agent messages in ../shared/realdata, recorded
through SessionManager (redaction on, as an agent CLI records them) into sessions
of about 300 kB until the logs reach `SEARCH_MB` (200 MB; `P8J_BENCH_SEARCH_MB`
overrides, smoke: 2 MB). A rare token is planted in three sessions.

- unindexed: `p8j search PATTERN` (a whole process) and `search(...)` in-process
  for a pattern with no match and a rare one, as MB/s of log, against
  `grep -c PATTERN` over the same files in the same run (runs interleaved, so
  both see the same load on a shared machine). The process's start-up is
  measured apart: `p8j search PATTERN` over an empty journal (the same imports
  and set-up, nothing to scan); what is left of the process is its scan. Each
  run's CPU time (user + system) is reported too: steadier than wall time on a
  loaded machine.
- index: building it (seconds, size as a ratio to the logs), and updating it
  after 1 MB was appended to one session, against reading those bytes with the
  verifying reader.
- indexed: `p8j search` for a word, a substring and a word with no match, as the
  time added to `p8j --help` measured in the same run.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from p8j.journal import Home, SessionManager
from p8j.journal.store.fs import LogCursor
from p8j.replay.search import search, update_search_index

from .common import Results, cli_has, env_with_home, p8j_argv
from .conftest import SMOKE, timed_rounds

SEARCH_MB = 2 if SMOKE else int(os.environ.get("P8J_BENCH_SEARCH_MB", "200"))
SESSION_BYTES = 300_000
ROUNDS = 2 if SMOKE else 5
RARE = "Xylophone42"
NONE = "ZebraQuokka"
REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


def _messages() -> list[dict[str, Any]]:
    out = []
    for path in sorted(REALDATA.rglob("*.jsonl")):
        for raw in path.read_bytes().split(b"\n"):
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(obj, dict):
                continue
            msg = obj.get("message") or obj.get("payload") or obj
            if isinstance(msg, dict) and isinstance(msg.get("role"), str):
                out.append({"role": msg["role"], "content": msg.get("content")})
    return out


def _build(home: Home) -> int:
    msgs = _messages()
    mgr = SessionManager(home, max_record_bytes=8 << 20)
    total = 0
    i = 0
    n = 0
    while total < SEARCH_MB * 1_000_000:
        sid = mgr.start_session(f"project-{n % 40}").session_id
        if n in (3, 50, 400):
            mgr.record_message({"role": "user", "content": f"where is the {RARE} config?"})
        while home.log_path(sid).stat().st_size < SESSION_BYTES:
            mgr.record_message(msgs[i % len(msgs)])
            i += 1
        mgr.end_session()
        total += home.log_path(sid).stat().st_size
        n += 1
    return total


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, int]:
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is absent")
    home = Home(tmp_path_factory.mktemp("search") / "home")
    return home, _build(home)


def _run(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run of `argv`, which must exit 0 or 1 (grep's "nothing found")."""
    return _run_cpu(argv, env)[0]


def _run_cpu(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of `argv` (exit 0 or 1)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, check=False, timeout=600)
    took = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert proc.returncode in (0, 1), proc.stderr.decode(errors="replace")[-500:]
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return took, cpu


def _logs(home: Home) -> list[str]:
    return sorted(str(p) for p in home.sessions_dir.iterdir())


@pytest.mark.parametrize("pattern", [NONE, RARE], ids=["no-match", "rare-match"])
def test_unindexed_scan(
    benchmark: Any,
    results: Results,
    journal: tuple[Home, int],
    tmp_path: Path,
    pattern: str,
) -> None:
    home, size = journal
    assert not (home.cache_dir / "search.sqlite").exists()
    env = env_with_home(home.path)
    empty = Home(tmp_path / "empty")
    SessionManager(empty).close()  # an empty journal: the process's start-up alone
    env_empty = env_with_home(empty.path)
    argv = [*p8j_argv(), "search", pattern]
    grep_argv = ["grep", "-c", "--", pattern, *_logs(home)]
    _run(argv, env)  # warms the catalog and the page cache
    _run(argv, env_empty)
    grep, cli, start = [], [], []
    for _ in range(ROUNDS):  # interleaved: all three see the same machine load
        grep.append(_run_cpu(grep_argv, env))
        cli.append(_run_cpu(argv, env))
        start.append(_run_cpu(argv, env_empty))
    times, found = timed_rounds(benchmark, lambda: search(home, pattern, use_index=False), ROUNDS)
    mb = size / 1e6
    g, c, st = (min(w for w, _ in runs) for runs in (grep, cli, start))
    g_cpu, c_cpu, st_cpu = (min(u for _, u in runs) for runs in (grep, cli, start))
    results.add(
        "search",
        f"unindexed, {'no match' if pattern == NONE else 'rare match'}",
        mb=mb,
        hits=len(found.hits),
        cli_mb_per_s=mb / c,
        library_mb_per_s=mb / min(times),
        grep_mb_per_s=mb / g,
        cli_share_of_grep=g / c,
        library_share_of_grep=g / min(times),
        cli_ms=c * 1000,
        cli_start_up_ms=st * 1000,
        cli_scan_ms=(c - st) * 1000,
        grep_ms=g * 1000,
        cpu_cli_ms=c_cpu * 1000,
        cpu_start_up_ms=st_cpu * 1000,
        cpu_grep_ms=g_cpu * 1000,
        cpu_cli_share_of_grep=g_cpu / c_cpu,
        reference="grep -c PATTERN over the same logs; start-up: p8j search of an empty journal",
    )
    print(json.dumps(results.rows[-1]), file=sys.stderr)  # visible with -s


def test_index_build_and_update(
    benchmark: Any, results: Results, journal: tuple[Home, int]
) -> None:
    home, size = journal
    t = time.perf_counter()
    stats = update_search_index(home)
    build = time.perf_counter() - t
    assert stats is not None and stats.updated_sessions > 0
    results.add(
        "search",
        "index build",
        mb=size / 1e6,
        seconds=build,
        mb_per_s=size / 1e6 / build,
        index_mb=stats.index_bytes / 1e6,
        size_ratio=stats.index_bytes / stats.log_bytes,
        reference="the logs' size (goal: index <= 1.0x)",
    )
    mgr = SessionManager(home)
    path = home.log_path(mgr.start_session("appended").session_id)
    update_search_index(home)
    start = path.stat().st_size
    i = 0
    while path.stat().st_size - start < 1_000_000:
        mgr.record_message({"role": "user", "content": f"appended text {i} " * 40})
        i += 1
    mgr.close()
    appended = path.stat().st_size - start

    def reread() -> None:
        cursor = LogCursor(path, skip_corrupt=True, offset=0)
        for _ in cursor.read():
            pass

    ref = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        reread()
        ref.append(time.perf_counter() - t)
    times, stats2 = timed_rounds(benchmark, lambda: update_search_index(home), 1)
    assert stats2 is not None and stats2.bytes_read == appended
    results.add(
        "search",
        "index update after appending 1 MB",
        appended_mb=appended / 1e6,
        seconds=min(times),
        ref_seconds=min(ref),
        reference="reading that session's whole log with the verifying reader",
    )


@pytest.mark.parametrize("pattern", [RARE, RARE[2:9], NONE], ids=["word", "substring", "no-match"])
def test_indexed_search_over_start_up(
    benchmark: Any, results: Results, journal: tuple[Home, int], pattern: str
) -> None:
    if not cli_has("index"):
        pytest.skip("no `p8j index` in this build")
    home, size = journal
    env = env_with_home(home.path)
    subprocess.run([*p8j_argv(), "index"], env=env, capture_output=True, check=True)
    argv = [*p8j_argv(), "search", pattern]
    _run(argv, env)
    helps = []
    searches = []
    for _ in range(ROUNDS):  # interleaved: both see the same machine load
        helps.append(_run([*p8j_argv(), "--help"], env))
        searches.append(_run(argv, env))
    times, _ = timed_rounds(benchmark, lambda: _run(argv, env), ROUNDS)
    best = min(min(searches), min(times))
    results.add(
        "search",
        f"indexed, {pattern!r}",
        mb=size / 1e6,
        ms=best * 1000,
        help_ms=min(helps) * 1000,
        added_ms=(best - min(helps)) * 1000,
        reference="p8j --help in the same run (goal: added < 50 ms)",
    )
    print(json.dumps(results.rows[-1]), file=sys.stderr)  # visible with -s
