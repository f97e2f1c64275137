"""The shared options (--home, --color, --json): declared once, on the group and every command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from p8j.cli.main import COMMANDS, cli
from p8j.cli.options import SHARED_OPTIONS

CLI_DIR = Path(__file__).resolve().parents[2] / "cli"


def test_each_shared_option_is_declared_once_in_the_source() -> None:
    for flag in ("--home", "--color", "--json"):
        where = [
            p.name
            for p in sorted(CLI_DIR.glob("*.py"))
            for _ in re.finditer(rf"""["']{flag}["']""", p.read_text())
        ]
        assert where == ["options.py"], (flag, where)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_carries_every_shared_option_once(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    names = [p.name for p in command.params]
    for option in SHARED_OPTIONS:
        assert names.count(option) == 1, (name, option, names)
    assert {p.name for p in cli.params} >= set(SHARED_OPTIONS)


def test_json_before_or_after_the_command(runner: CliRunner, demo_ids: list[str]) -> None:
    before = runner.invoke(cli, ["--json", "ls"])
    after = runner.invoke(cli, ["ls", "--json"])
    assert before.exit_code == 0 and after.exit_code == 0, before.output
    assert json.loads(before.stdout) == json.loads(after.stdout)
    assert {row["session_id"] for row in json.loads(before.stdout)} == set(demo_ids)
    info = runner.invoke(cli, ["--json", "info"])
    assert json.loads(info.stdout)["sessions"] == 3


def test_color_before_or_after_the_command(runner: CliRunner, demo_ids: list[str]) -> None:
    plain = runner.invoke(cli, ["ls", "--color", "never"], color=True)
    assert plain.exit_code == 0 and "\x1b[" not in plain.stdout and demo_ids[0][:8] in plain.stdout
    coloured = runner.invoke(cli, ["ls", "--color", "always"])
    assert "\x1b[" in coloured.stdout
    assert "\x1b[" in runner.invoke(cli, ["--color", "always", "ls"]).stdout
    # Given in both places, the command's own wins.
    both = runner.invoke(cli, ["--color", "always", "ls", "--color", "never"], color=True)
    assert both.exit_code == 0 and "\x1b[" not in both.stdout
    # Commands whose module declares only --json and --home get --color from the group.
    demo = runner.invoke(cli, ["demo", "--color", "never"], color=True)
    assert demo.exit_code == 0 and "\x1b[" not in demo.stdout
