"""Bench fixtures: scale, the shared 1M event session, result collection.

Run (see bench/README.md)::

    python -m pytest bench --benchmark-enable -p no:randomly --bench-results bench/results.json

``P8J_BENCH_SCALE=smoke`` shrinks every size (1M events -> 2k) so the suite runs
in seconds; tests/bench_smoke uses it to catch a broken bench in CI.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from p8j.journal import Home, SessionManager

from .common import Results, loadavg, session_id, write_log

T = TypeVar("T")

SMOKE = os.environ.get("P8J_BENCH_SCALE") == "smoke"
BIG = 2_000 if SMOKE else 1_000_000
MID = 1_000 if SMOKE else 100_000

_RESULTS = Results()
_LOAD_BEFORE = loadavg()


def pytest_addoption(parser: pytest.Parser) -> None:
    """--bench-results PATH: write every measurement as JSON (for bench/report.py)."""
    parser.addoption("--bench-results", default=None, help="write the measurements as JSON here")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Dump the collected rows when --bench-results was given."""
    target = session.config.getoption("--bench-results")
    if target and _RESULTS.rows:
        command = "python -m pytest " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        _RESULTS.dump(Path(target), command, _LOAD_BEFORE)


@pytest.fixture(scope="session")
def results() -> Results:
    """The run's result collector."""
    return _RESULTS


def timed_rounds(
    benchmark: Any, fn: Callable[[], T], rounds: int, setup: Callable[[], None] | None = None
) -> tuple[list[float], T]:
    """Run `fn` `rounds` times under pytest-benchmark; return our own wall times and a result.

    pytest-benchmark reports the rounds as usual; our copy of the times feeds the
    ratios and works with --benchmark-disable too (one round then). `setup` runs,
    untimed by pytest-benchmark, before each round.
    """
    times: list[float] = []
    out: list[T] = []

    def run() -> T:
        t = time.perf_counter()
        r = fn()
        times.append(time.perf_counter() - t)
        out.append(r)
        return r

    if setup is None:
        benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=0)
    else:

        def before() -> None:
            setup()

        benchmark.pedantic(run, setup=before, rounds=rounds, iterations=1, warmup_rounds=0)
    return times, out[-1]


class BigSession:
    """A journal home with one long session (BIG events), built once per run."""

    def __init__(self, root: Path) -> None:
        self.home = Home(root / "big")
        self.sid = session_id(0xB16)
        self.path = write_log(self.home, self.sid, BIG)
        self.events = BIG

    def warm(self) -> None:
        """Resume and pause once so a fresh snapshot exists (what a resume leaves behind)."""
        with SessionManager(self.home) as mgr:
            mgr.resume_session(self.sid)


@pytest.fixture(scope="session")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigSession]:
    """The shared BIG event session."""
    yield BigSession(tmp_path_factory.mktemp("bigsession"))


def plain_rounds(fn: Callable[[], T], rounds: int) -> tuple[list[float], T]:
    """Time `fn` `rounds` times without pytest-benchmark (for references in the same test)."""
    times: list[float] = []
    r: T | None = None
    for _ in range(rounds):
        t = time.perf_counter()
        r = fn()
        times.append(time.perf_counter() - t)
    assert r is not None
    return times, r
