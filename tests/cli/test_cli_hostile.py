"""A hostile log through every human-output command: nothing forbidden reaches the terminal.

The log's project, roles, texts, tool calls, commands, outputs, metadata and
reasons carry escape sequences (clear screen, window title, clipboard), C1
controls, bidi overrides, bare CRs that would forge a line, and ~500 kB lines;
two corrupt lines sit in the middle. Every command must show the content
escaped, say what was wrong, and not crash; --json stays exact.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home

from .cli_helpers import BIDI, ESC_PAYLOADS, FORGED, assert_clean, hostile_session

COMMANDS: list[tuple[list[str], int]] = [
    (["ls"], 0),
    (["replay"], 0),
    (["replay", "--full"], 0),
    (["replay", "--at", "3"], 0),
    (["tail", "--no-follow", "-n", "100"], 0),
    (["export"], 0),
    (["search", "pwned|safe|x"], 0),
    (["verify"], 1),
    (["verify", "-v"], 1),
    (["info"], 0),
]


@pytest.fixture
def hostile(p8j_home: Home) -> str:
    return hostile_session(p8j_home)


@pytest.mark.parametrize(("args", "code"), COMMANDS, ids=[" ".join(a) for a, _ in COMMANDS])
@pytest.mark.parametrize("colour", ["never", "always"])
def test_nothing_forbidden_reaches_the_terminal(
    runner: CliRunner, hostile: str, args: list[str], code: int, colour: str
) -> None:
    result = runner.invoke(cli, ["--color", colour, *args])
    assert result.exit_code == code, result.output[-2000:]
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert_clean(result.stdout, colour=colour == "always")
    assert_clean(result.stderr)
    assert "Traceback" not in result.output


def test_the_content_is_shown_escaped_not_dropped(runner: CliRunner, hostile: str) -> None:
    out = runner.invoke(cli, ["replay", hostile]).stdout
    assert "\\x1b[2J\\x1b[H" in out and "\\x1b]0;pwned title\\x07" in out
    assert "safe\\u202eexe.txt" in out
    assert "done\\rFAKE LINE" in out  # the bare CR cannot rewrite the line
    assert "\\x9b31m" in out


def test_commands_say_what_was_wrong(runner: CliRunner, hostile: str) -> None:
    replay = runner.invoke(cli, ["replay", hostile])
    assert "warning: skipped 2 bad lines" in replay.stderr
    verify = runner.invoke(cli, ["verify", hostile])
    assert "BAD" in verify.stdout and "corrupt" in verify.stdout
    tail = runner.invoke(cli, ["tail", "--no-follow"])
    assert "corrupt" in tail.stderr
    assert "[2 problems]" in runner.invoke(cli, ["ls"]).stdout
    search = runner.invoke(cli, ["search", "first"])
    assert "warning: skipped" in search.stderr


def test_huge_lines_are_cut_in_human_output(runner: CliRunner, hostile: str) -> None:
    out = runner.invoke(cli, ["replay", hostile]).stdout
    assert max(len(ln) for ln in out.splitlines()) < 5000
    full = runner.invoke(cli, ["replay", hostile, "--full"]).stdout
    assert max(len(ln) for ln in full.splitlines()) > 500_000


def test_json_stays_exact(runner: CliRunner, hostile: str, p8j_home: Home) -> None:
    snapshot = json.loads(runner.invoke(cli, ["replay", hostile, "--json"]).stdout)
    evil = "".join(ESC_PAYLOADS) + BIDI + FORGED
    assert snapshot["conversation_history"][0]["content"] == "first " + evil
    assert snapshot["project_name"] == "evil\x1b]0;title\x07project\u202e"
    rows = json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)
    assert rows[0]["title"].startswith("first \x1b[2J")
    raw = runner.invoke(cli, ["export", hostile, "-f", "jsonl"]).stdout_bytes
    good = [
        ln
        for ln in p8j_home.log_path(hostile).read_bytes().splitlines(keepends=True)
        if not ln.startswith(b"garbage")
    ]
    assert raw == b"".join(good[:4] + good[5:])  # both bad lines left out, the rest exact


def test_markdown_export_is_clean(runner: CliRunner, hostile: str) -> None:
    md = runner.invoke(cli, ["export", hostile, "-f", "md"]).stdout
    assert_clean(md)
    assert md.count("```") % 2 == 0
