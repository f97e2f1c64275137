"""``--store URL``: the reading commands on a store named by URL, the others on a home only.

The demo journal is copied to a second home; ``--store file:///that/home`` must
give exactly what ``--home that/home`` gives (and nothing of $P8J_HOME's), for
ls, search, verify, info and tail, placed before or after the command.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home

from .cli_helpers import assert_clean, record_simple


@pytest.fixture
def other(
    tmp_path: Path, p8j_home: Home, _demo_template: tuple[Path, list[str]]
) -> tuple[Path, list[str]]:
    """The demo journal in a home that is not $P8J_HOME (which holds one other session)."""
    src, ids = _demo_template
    path = tmp_path / "elsewhere home"  # a space: the URL quotes it
    shutil.copytree(src, path)
    record_simple(p8j_home, "not-this-one")
    return path, ids


COMMANDS = [
    ["ls", "--json"],
    ["ls"],
    ["search", "--json", "window"],
    ["search", "-c", "the"],
    ["verify", "--json"],
    ["info", "--json"],
    ["tail", "--no-follow", "--json", "-n", "5"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
@pytest.mark.parametrize("where", ["after", "before"])
def test_store_file_url_reads_that_home(
    runner: CliRunner, other: tuple[Path, list[str]], args: list[str], where: str
) -> None:
    path, _ = other
    url = path.absolute().as_uri()
    assert "%20" in url
    by_store = ["--store", url, *args] if where == "before" else [*args, "--store", url]
    got = runner.invoke(cli, by_store)
    want = runner.invoke(cli, [*args, "--home", str(path)])
    assert got.exit_code == want.exit_code == 0, got.output + got.stderr
    assert got.stdout == want.stdout
    assert "not-this-one" not in got.stdout
    default = runner.invoke(cli, args)  # $P8J_HOME: another journal, other answers
    assert default.stdout != got.stdout


def test_store_reaches_every_demo_session(runner: CliRunner, other: tuple[Path, list[str]]) -> None:
    path, ids = other
    url = path.absolute().as_uri()
    rows = json.loads(runner.invoke(cli, ["ls", "--json", "--store", url]).output)
    assert sorted(r["session_id"] for r in rows) == sorted(ids)
    facts = json.loads(runner.invoke(cli, ["info", "--json", "--store", url]).output)
    assert facts["home"] == str(path) and facts["sessions"] == 3
    reports = json.loads(runner.invoke(cli, ["verify", "--json", "--store", url, ids[1]]).output)
    assert [r["session_id"] for r in reports] == [ids[1]] and reports[0]["ok"]
    hits = json.loads(runner.invoke(cli, ["search", "--json", "--store", url, "window"]).output)
    assert hits and {h["session_id"] for h in hits} <= set(ids)


def test_a_plain_path_is_a_home_too(runner: CliRunner, other: tuple[Path, list[str]]) -> None:
    path, ids = other
    result = runner.invoke(cli, ["ls", "-q", "--store", str(path)])
    assert result.exit_code == 0 and sorted(result.output.split()) == sorted(ids)


def test_an_empty_memory_store_lists_nothing(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["ls", "--store", "memory:"])
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == "No sessions in memory: yet. Try `p8j demo`.\n"
    facts = json.loads(runner.invoke(cli, ["info", "--json", "--store", "memory:"]).output)
    assert facts["home"] == "memory:" and facts["sessions"] == 0 and facts["index"] is None
    assert runner.invoke(cli, ["verify", "--json", "--store", "memory:"]).stdout == "[]\n"


@pytest.mark.parametrize(
    "args",
    [
        ["archive", "--store", "memory:", "latest"],
        ["rm", "--store", "memory:", "--yes", "latest"],
        ["index", "--store", "memory:"],
    ],
)
def test_a_files_only_command_refuses_another_store(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("p8j: this command works on a journal home's files, not on the store")
    assert_clean(line)


def test_a_files_only_command_takes_a_file_store(
    runner: CliRunner, other: tuple[Path, list[str]]
) -> None:
    path, ids = other
    url = path.absolute().as_uri()
    result = runner.invoke(cli, ["title", "--store", url, ids[0], "renamed"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(runner.invoke(cli, ["ls", "--json", "--home", str(path)]).output)
    assert {r["session_id"]: r["title"] for r in rows}[ids[0]] == "renamed"


@pytest.mark.parametrize(
    ("value", "code", "says"),
    [
        ("", 2, "the store is empty"),
        # Port 1 on loopback: nothing listens, so this is a NATS store that is not there.
        ("nats://127.0.0.1:1", 1, "cannot connect to NATS"),
        # A value p8j cannot read as a store is a usage error, as a bad session id is.
        ("ftp://x/y", 2, "unknown store 'ftp://x/y': expected a path, file:///path or nats://"),
        ("file://remote/x", 2, "remote host"),
        ("nats://127.0.0.1:4222?replicas=x", 2, "replicas"),
    ],
)
def test_a_bad_store_is_one_line(runner: CliRunner, value: str, code: int, says: str) -> None:
    result = runner.invoke(cli, ["ls", "--store", value])
    assert result.exit_code == code
    [line] = result.stderr.splitlines()
    assert line.startswith("p8j: ") and says in line


def test_a_bad_store_in_the_environment_names_it(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P8J_STORE", "ftp://x/y")
    result = runner.invoke(cli, ["ls"])
    assert result.exit_code == 1  # not an argument of this command: a failure, not usage
    assert result.stderr == (
        "p8j: P8J_STORE: unknown store 'ftp://x/y': expected a path, file:///path or "
        "nats://host:4222 (or memory:, in a program)\n"
    )
