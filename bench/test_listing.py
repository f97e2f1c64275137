"""Listing 1k, 10k and 100k sessions: the library call and `p8j ls` as a whole process.

The reference is what a listing that checks every log for changes must do: scandir
the sessions directory and stat every log. The catalog skips the stat of completed
sessions (they can never grow), so with completed sessions it can beat the
reference; sessions that may still grow (paused, active) are measured separately
at 10k (`test_open_sessions`), where the stat is paid.

`p8j ls` is timed at rest (the sessions directory last changed 2 s ago: the kept
listing, cache/listing.msgpack, is trusted) and, as `just_changed_ms`, within a
second of a session coming or going (the catalog's path).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from p8j.journal import Home
from p8j.journal.cache.catalog import list_summaries
from p8j.journal.cache.listing_file import SETTLED_NS

from .common import (
    Results,
    cli_failure,
    cli_has,
    env_with_home,
    p8j_argv,
    run_timed,
    session_id,
    write_log,
)
from .conftest import SMOKE, plain_rounds, timed_rounds

COUNTS = (10, 100) if SMOKE else (1_000, 10_000, 100_000)
OPEN_COUNT = 100 if SMOKE else 10_000


def _scan_stat(home: Home) -> int:
    n = 0
    with os.scandir(home.sessions_dir) as it:
        for entry in it:
            if entry.name.endswith(".jsonl"):
                entry.stat(follow_symlinks=False)
                n += 1
    return n


@pytest.fixture(scope="module", params=COUNTS, ids=lambda n: f"{n}")
def many(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A home with N small completed sessions (start, 3 events, end)."""
    count: int = request.param
    home = Home(tmp_path_factory.mktemp(f"many{count}") / "home")
    for i in range(count):
        write_log(home, session_id(i + 1), 4, end=True)
    return home


def _rounds(count: int) -> int:
    return 1 if count >= 100_000 else 3


def test_list_summaries(benchmark: Any, results: Results, many: Home) -> None:
    count = len(many.session_ids())
    shutil.rmtree(many.cache_dir, ignore_errors=True)
    cold_times, cold = plain_rounds(lambda: list_summaries(many), 1)
    ref_times, n = plain_rounds(lambda: _scan_stat(many), 3)
    times, rows = timed_rounds(benchmark, lambda: list_summaries(many), _rounds(count))
    assert len(rows) == len(cold) == n == count
    results.add(
        "listing",
        f"list_summaries {count:,} sessions (warm catalog)",
        count=count,
        ms=min(times) * 1000,
        cold_ms=cold_times[0] * 1000,
        ref_ms=min(ref_times) * 1000,
        ratio=min(times) / min(ref_times),
        reference="scandir+stat",
    )


@pytest.mark.parametrize("args", [["ls"], ["ls", "--json"]], ids=["table", "json"])
def test_p8j_ls(benchmark: Any, results: Results, many: Home, args: list[str]) -> None:
    if not cli_has("ls"):
        results.note("p8j ls: skipped, the CLI has no `ls` command in this build")
        pytest.skip("the CLI has no `ls` command yet")
    count = len(many.session_ids())
    env = env_with_home(many.path)
    argv = [*p8j_argv(), *args]
    broken = cli_failure(argv, env)  # also leaves the catalog fresh, as any earlier listing
    if broken:
        results.note(f"p8j {' '.join(args)}: skipped, the command failed ({broken})")
        pytest.skip(f"p8j {' '.join(args)} fails in this build: {broken}")
    # Just changed: the sessions directory changed under a second ago (a session came or
    # went), so the kept listing (cache/listing.msgpack) is not trusted: the catalog's path.
    os.utime(many.sessions_dir)
    changed = run_timed(argv, env, _rounds(count))
    _settle(many)
    cli_failure(argv, env)  # the first listing at rest keeps the listing
    times, _ = timed_rounds(benchmark, lambda: run_timed(argv, env, 1)[0], _rounds(count))
    results.add(
        "listing",
        f"p8j {' '.join(args)} {count:,} sessions (process wall)",
        count=count,
        ms=min(times) * 1000,
        median_ms=sorted(times)[len(times) // 2] * 1000,
        just_changed_ms=min(changed) * 1000,
    )


def _settle(home: Home) -> None:
    """The journal as it is at rest: its sessions directory last changed 2 s ago.

    A kept listing is trusted only once the directory is `SETTLED_NS` old (git's
    "racily clean" rule); setting the time back stands for the wait, without one.
    """
    before = time.time() - 2 * SETTLED_NS / 1e9
    os.utime(home.sessions_dir, (before, before))


@pytest.fixture(scope="module")
def open_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """A home with OPEN_COUNT small sessions left active (their writer gone: `crashed`)."""
    home = Home(tmp_path_factory.mktemp("open") / "home")
    for i in range(OPEN_COUNT):
        write_log(home, session_id(i + 1), 4)
    return home


def test_open_sessions(benchmark: Any, results: Results, open_home: Home) -> None:
    """Sessions that may still grow: a stat each; `p8j ls` probes the locks of those it shows."""
    count = OPEN_COUNT
    list_summaries(open_home)  # the catalog is fresh, as after any earlier listing
    ref_times, n = plain_rounds(lambda: _scan_stat(open_home), 3)
    times, rows = timed_rounds(benchmark, lambda: list_summaries(open_home), 3)
    assert len(rows) == n == count and all(r.status == "active" for r in rows)
    results.add(
        "listing",
        f"list_summaries {count:,} open sessions (warm catalog, one stat each)",
        count=count,
        ms=min(times) * 1000,
        ref_ms=min(ref_times) * 1000,
        ratio=min(times) / min(ref_times),
        reference="scandir+stat",
    )
    if not cli_has("ls"):
        return
    env = env_with_home(open_home.path)
    argv = [*p8j_argv(), "ls"]
    os.utime(open_home.sessions_dir)
    if cli_failure(argv, env) is None:
        changed = run_timed(argv, env, 3)
        _settle(open_home)
        cli_failure(argv, env)
        wall = run_timed(argv, env, 5)
        results.add(
            "listing",
            f"p8j ls {count:,} open sessions (process wall)",
            count=count,
            ms=min(wall) * 1000,
            median_ms=sorted(wall)[len(wall) // 2] * 1000,
            just_changed_ms=min(changed) * 1000,
        )


def test_startup_reference(results: Results, tmp_path: Path) -> None:
    """The floor under any CLI number: a bare interpreter start (recorded for the ratios)."""
    import sys

    times = run_timed([sys.executable, "-c", "pass"], env_with_home(tmp_path), 5)
    results.add("startup", "python -c pass (reference)", ms=min(times) * 1000)
