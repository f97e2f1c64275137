"""CLI start-up: `p8j --help` and `p8j ls` on an empty journal, against a bare interpreter."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from .common import Results, cli_failure, cli_has, env_with_home, p8j_argv, run_timed
from .conftest import SMOKE, timed_rounds

ROUNDS = 2 if SMOKE else 10


@pytest.mark.parametrize("args", [["--help"], ["ls"]], ids=["help", "ls-empty"])
def test_cli_startup(benchmark: Any, results: Results, tmp_path: Path, args: list[str]) -> None:
    if args[0] != "--help" and not cli_has(args[0]):
        results.note(f"p8j {args[0]}: skipped, not in this build's CLI")
        pytest.skip(f"the CLI has no `{args[0]}` command yet")
    env = env_with_home(tmp_path / "empty-home")
    broken = cli_failure([*p8j_argv(), *args], env)
    if broken:
        results.note(f"p8j {' '.join(args)}: skipped, the command failed ({broken})")
        pytest.skip(f"p8j {' '.join(args)} fails in this build: {broken}")
    ref = run_timed([sys.executable, "-c", "import click"], env, ROUNDS)
    times, _ = timed_rounds(benchmark, lambda: run_timed([*p8j_argv(), *args], env, 1)[0], ROUNDS)
    best = min(times)
    results.add(
        "startup",
        f"p8j {' '.join(args)}",
        ms=best * 1000,
        median_ms=sorted(times)[len(times) // 2] * 1000,
        ref_ms=min(ref) * 1000,
        ratio=best / min(ref),
        reference="python -c 'import click'",
    )
