"""`p8j demo` and `p8j demo --live`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home
from p8j.replay import list_sessions, load_session


def test_demo_records_three_sessions_and_says_what_next(runner: CliRunner, p8j_home: Home) -> None:
    result = runner.invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    rows = list_sessions(p8j_home)
    assert [(r.project_name, r.state) for r in rows] == [
        ("docs-site", "crashed"),
        ("api-server", "paused"),
        ("webshop", "completed"),
    ]
    out = result.stdout
    assert f"Recorded 3 demo sessions in {p8j_home.path}" in out
    for cmd in (
        "p8j ls",
        "p8j replay",
        "p8j search",
        "p8j export",
        "p8j verify",
        "p8j pick",
        "p8j tail",
        "p8j info",
    ):
        assert cmd in out
    web = load_session(rows[2].session_id, p8j_home)
    blocks = [
        b for m in web.conversation_history if isinstance(m["content"], list) for b in m["content"]
    ]
    assert {b["type"] for b in blocks} == {"text", "tool_use", "tool_result", "thinking"}
    assert web.command_history and web.execution_histories
    api = load_session(rows[1].session_id, p8j_home)
    assert api.status == "paused" and api.last_seq > 5
    assert runner.invoke(cli, ["verify"]).exit_code == 0


def test_demo_json_and_home_option(runner: CliRunner, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    result = runner.invoke(cli, ["demo", "--json", "--home", str(other)])
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert [m["project_name"] for m in made] == ["webshop", "api-server", "docs-site"]
    assert [m["state"] for m in made] == ["completed", "paused", "crashed"]
    assert sorted(Home(other).session_ids()) == sorted(m["session_id"] for m in made)


def test_demo_mentions_a_non_default_home(runner: CliRunner, tmp_path: Path) -> None:
    out = runner.invoke(cli, ["--home", str(tmp_path / "x"), "demo"]).stdout
    assert f"--home {tmp_path / 'x'}" in out


def test_live_demo_appends_then_ends(runner: CliRunner, p8j_home: Home) -> None:
    result = runner.invoke(cli, ["demo", "--live", "--duration", "0.3", "--interval", "0.02"])
    assert result.exit_code == 0, result.output
    assert "p8j tail" in result.stdout and "Ended session" in result.stdout
    (row,) = list_sessions(p8j_home)
    assert row.project_name == "pairing" and row.state == "completed"
    assert row.last_seq >= 5
    done = runner.invoke(
        cli, ["demo", "--live", "--duration", "0.05", "--interval", "0.01", "--json"]
    )
    facts = json.loads(done.stdout)
    assert facts["events"] >= 1 and facts["session_id"] in p8j_home.session_ids()


def test_bad_options(runner: CliRunner) -> None:
    assert runner.invoke(cli, ["demo", "--live", "--interval", "-1"]).exit_code == 2


def test_live_bounds_are_finite(runner: CliRunner) -> None:
    for option in ("--interval", "--duration"):
        for value in ("nan", "inf", "-inf", "1e308", "NaN"):
            result = runner.invoke(cli, ["demo", "--live", option, value])
            assert result.exit_code == 2, (option, value, result.output)
            assert result.stderr.startswith("p8j: ") and len(result.stderr.splitlines()) == 1


def test_the_cli_writes_its_home_whatever_p8j_store_says(
    runner: CliRunner, p8j_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    # P8J_STORE selects an embedder's store; a CLI run is a new process each time,
    # so it keeps to the journal files at --home / P8J_HOME.
    monkeypatch.setenv("P8J_STORE", "memory:")
    result = runner.invoke(cli, ["demo"])
    assert result.exit_code == 0, result.output
    live = runner.invoke(cli, ["demo", "--live", "--duration", "0.05", "--interval", "0.01"])
    assert live.exit_code == 0, live.output
    assert len(list_sessions(p8j_home)) == 4
