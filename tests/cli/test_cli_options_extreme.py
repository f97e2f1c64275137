"""Every option and argument of every command, fed extreme values: a usage error, never a traceback.

The commands and their parameters are walked from `p8j.cli.main.cli`, so a new
command or option is covered without touching this file.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from p8j.cli import render
from p8j.cli.main import COMMANDS, cli
from p8j.cli.options import SHARED_OPTIONS, SinceType

from .cli_helpers import assert_clean, run_p8j

NON_UTF8 = os.fsdecode(b"\xff\xfe-not-utf8")  # what Python makes of such bytes in argv
VALUES = [
    "9" * 30,  # beyond any C integer
    str(sys.maxsize),  # the largest count accepted
    "99999999999h",  # a duration beyond any date
    "1000000000d",
    "-1",
    "0",
    "",
    "1e308",
    "nan",
    NON_UTF8,
    "x" * 100_000,
]
# What a command needs besides the parameter under test: its required argument, and
# for tail an end (it would follow forever).
BASE_ARGUMENTS: dict[str, list[str]] = {"search": ["x"], "redact": ["latest"]}
BASE_OPTIONS: dict[str, list[str]] = {"tail": ["--no-follow"]}
MAX_LINE = 1000  # an error line echoes a bad value cut short


def _params(name: str) -> list[click.Parameter]:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    return [
        p
        for p in command.params
        if not (isinstance(p, click.Option) and (p.is_flag or p.name == "help"))
    ]


def _check(result: Result, args: list[str]) -> str | None:
    """Why the run of `args` is wrong, or None."""
    what = f"{[a[:40] for a in args]}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"{what}: raised {result.exception!r}"
    if result.exit_code not in (0, 1, 2):
        return f"{what}: exit {result.exit_code}"
    if "Traceback" in result.output:
        return f"{what}: traceback in the output"
    if result.exit_code == 1 and args[0] == "search" and not result.stderr and not result.output:
        return None  # like grep: nothing matched, nothing said
    if result.exit_code in (1, 2):
        lines = result.stderr.splitlines()
        if len(lines) != 1 or not lines[0].startswith("p8j: "):
            return f"{what}: exit {result.exit_code} with stderr {result.stderr[:300]!r}"
        if len(lines[0]) > MAX_LINE:
            return f"{what}: a {len(lines[0])}-character error line"
        try:
            assert_clean(lines[0])
        except AssertionError as exc:
            return f"{what}: {exc}"
    return None


def _invocations(name: str) -> list[list[str]]:
    arguments, options = BASE_ARGUMENTS.get(name, []), BASE_OPTIONS.get(name, [])
    runs = []
    for param in _params(name):
        for value in VALUES:
            if isinstance(param, click.Option):
                runs.append([name, *arguments, *options, param.opts[0], value])
            else:
                runs.append([name, value, *options])
    return runs


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_with_extreme_values(
    runner: CliRunner,
    demo_ids: list[str],
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative --home such as "0" lands here
    runs = _invocations(name)
    # --json, --utc and --no-pager are flags: they take no value.
    assert len(runs) >= len(VALUES) * (len(SHARED_OPTIONS) - 3)
    problems = [p for args in runs if (p := _check(runner.invoke(cli, args), args))]
    assert not problems, "\n".join(problems)


def test_group_options_with_extreme_values(
    runner: CliRunner, demo_ids: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    params = [p for p in cli.params if isinstance(p, click.Option) and not p.is_flag]
    assert {p.name for p in params} >= {"home", "color"}
    runs = [[p.opts[0], v, "info"] for p in params for v in VALUES]
    problems = [p for args in runs if (p := _check(runner.invoke(cli, args), args))]
    assert not problems, "\n".join(problems)


@pytest.fixture(params=["XST-14", "YST+12"])  # POSIX TZ strings: UTC+14, UTC-12, no tzdata
def far_timezone(request: pytest.FixtureRequest) -> Iterator[str]:
    """The process in a time zone far from UTC, so local times reach past years 1 and 9999."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    render._OFFSETS.clear()  # the UTC offsets cached for rendering belong to the old zone
    try:
        yield request.param
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()
        render._OFFSETS.clear()


def test_times_at_the_ends_of_the_calendar_in_far_time_zones(
    runner: CliRunner, demo_ids: list[str], far_timezone: str
) -> None:
    edges = ["9999-12-31T23:59Z", "0001-01-01T00:00Z", "0001-01-01", "9999-12-31T23:59"]
    runs = [
        [name, *BASE_ARGUMENTS.get(name, []), *BASE_OPTIONS.get(name, []), p.opts[0], edge]
        for name in sorted(COMMANDS)
        for p in _params(name)
        if isinstance(p, click.Option) and isinstance(p.type, SinceType)
        for edge in edges
    ]
    assert len(runs) >= 3 * len(edges)  # ls --since, replay --until, search --since at least
    problems = [p for args in runs if (p := _check(runner.invoke(cli, args), args))]
    assert not problems, "\n".join(problems)
    if far_timezone == "XST-14":  # local midnight of year 1 is in year 0 in UTC
        result = runner.invoke(cli, ["ls", "--since", "0001-01-01"])
        assert result.exit_code == 2 and "too far back or ahead" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["ls", "--since", "1000000000d"],
        ["replay", "latest", "--until", "99999999999h"],
        ["tail", "-n", "99999999999999999999", "--no-follow"],
        ["search", "x", "--since", "99999999999h"],
        ["ls", "--since", "9999-12-31T23:59:59-23:00"],
        ["replay", "latest", "--at", "9" * 30],
        ["ls", "--home", ""],
    ],
)
def test_the_reported_overflows_are_usage_errors(
    runner: CliRunner, demo_ids: list[str], args: list[str]
) -> None:
    result = runner.invoke(cli, args, prog_name="p8j")
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("p8j: Invalid value for "), line
    assert f"(see 'p8j {args[0]} -h')" in line


def test_usage_errors_are_one_line_and_echo_values_cut_short(
    runner: CliRunner, demo_ids: list[str]
) -> None:
    result = runner.invoke(cli, ["export", "-f", "y" * 100_000], prog_name="p8j")
    assert result.exit_code == 2
    line = result.stderr.rstrip("\n")
    assert "\n" not in line and len(line) < MAX_LINE and "…" in line
    assert line.startswith("p8j: Invalid value for '-f' / '--format'")
    assert line.endswith("(see 'p8j export -h')")


def test_json_that_cannot_hold_a_non_utf8_path_is_one_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    home = str(tmp_path / NON_UTF8)
    plain = runner.invoke(cli, ["--home", home, "info"])
    assert plain.exit_code == 0 and "\\udcff" in plain.stdout  # shown escaped, not a crash
    result = runner.invoke(cli, ["--json", "--home", home, "info"])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("p8j: cannot write JSON") and result.stderr.count("\n") == 1


def test_bare_p8j_still_shows_the_help(runner: CliRunner) -> None:
    result = runner.invoke(cli, [])
    assert "Commands:" in result.output


def test_non_utf8_argv_in_a_real_process(tmp_path: Path, demo_ids: list[str]) -> None:
    home = Path(os.environ["P8J_HOME"])
    bad = b"\xff\xfe"
    cases: list[tuple[list[str | bytes], int]] = [
        (["ls", "--project", bad], 0),
        (["ls", "--since", bad], 2),
        (["search", bad], 2),  # a pattern that is not UTF-8 text
        (["replay", bad], 2),
        (["export", "-f", bad], 2),
        (["--home", bytes(tmp_path) + b"/" + bad, "info"], 0),
        (["--home", bytes(tmp_path) + b"/" + bad, "ls"], 0),
        (["tail", "--no-follow", "--type", bad], 2),
    ]
    for args, code in cases:
        done = run_p8j(*(os.fsdecode(a) for a in args), home=home, cwd=tmp_path)
        assert done.returncode == code, (args, done.stderr)
        assert b"Traceback" not in done.stderr, (args, done.stderr)
        if code:
            lines = done.stderr.decode("utf-8").splitlines()
            assert len(lines) == 1 and lines[0].startswith("p8j: "), (args, lines)
            assert_clean(lines[0])
