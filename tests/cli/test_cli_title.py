"""`p8j title` and `p8j fork`: names and forks shown by ls, replay and export."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home, SessionManager

from .cli_helpers import record_simple


def test_title_shows_in_ls_replay_and_export(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home, messages=["the first message"])
    result = runner.invoke(cli, ["title", sid[:13], "Checkout fix"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"titled {sid}: Checkout fix\n"
    [row] = json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)
    assert row["title"] == "Checkout fix"
    assert "Checkout fix" in runner.invoke(cli, ["ls"]).stdout
    snapshot = json.loads(runner.invoke(cli, ["replay", sid, "--json"]).stdout)
    assert snapshot["title"] == "Checkout fix"
    markdown = runner.invoke(cli, ["export", sid]).stdout
    assert "| Title | Checkout fix |" in markdown
    again = json.loads(runner.invoke(cli, ["title", sid, "Second", "--json"]).stdout)
    assert again == {"session_id": sid, "seq": snapshot["last_seq"] + 1, "title": "Second"}


def test_title_errors(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home)
    blank = runner.invoke(cli, ["title", sid, "  "])
    assert blank.exit_code == 1 and blank.stderr.startswith("p8j: ")
    assert runner.invoke(cli, ["title", sid]).exit_code == 2
    mgr = SessionManager(p8j_home)
    live = mgr.start_session("live").session_id
    try:
        locked = runner.invoke(cli, ["title", live, "x"])
    finally:
        mgr.close()
    assert locked.exit_code == 1 and "open" in locked.stderr


def test_fork_is_linked_and_resumable(runner: CliRunner, p8j_home: Home) -> None:
    parent = record_simple(p8j_home, messages=["one", "two"])
    result = runner.invoke(cli, ["fork", parent, "--at", "1", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    child = out["session_id"]
    assert out["forked_from"] == parent
    rows = {r["session_id"]: r for r in json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)}
    assert rows[child]["forked_from"] == parent and rows[child]["state"] == "paused"
    snapshot = json.loads(runner.invoke(cli, ["replay", child, "--json"]).stdout)
    assert snapshot["forked_from"] == parent and snapshot["forked_at_seq"] == 1
    assert snapshot["conversation_history"] == [{"role": "user", "content": "one"}]
    assert f"forked from {parent}" in runner.invoke(cli, ["replay", child]).stdout
    plain = runner.invoke(cli, ["fork", parent])
    assert plain.exit_code == 0 and len(plain.stdout.strip()) == 36
    mgr = SessionManager(p8j_home)
    mgr.resume_session(child)
    mgr.end_session()


def test_fork_errors(runner: CliRunner, p8j_home: Home) -> None:
    parent = record_simple(p8j_home)
    both = runner.invoke(cli, ["fork", parent, "--at", "1", "--until", "2h"])
    assert both.exit_code == 2
    assert runner.invoke(cli, ["fork", parent, "--at", "999"]).exit_code == 1
    assert runner.invoke(cli, ["fork", parent, "--until", "1w"]).exit_code == 1


def test_a_title_is_not_activity(runner: CliRunner, p8j_home: Home) -> None:
    # Naming an imported session (or a finished one) long after it happened must
    # not stretch its duration to now nor make it the most recent in `ls`.
    fixture = Path(__file__).parents[1] / "fixtures" / "codex"
    result = runner.invoke(cli, ["import", "codex", str(fixture)])
    assert result.exit_code == 0, result.output
    before = {r["session_id"]: r for r in json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)}
    sid = next(iter(before))
    result = runner.invoke(cli, ["title", sid, "Named much later"])
    assert result.exit_code == 0, result.output
    after = {r["session_id"]: r for r in json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)}
    assert after[sid]["title"] == "Named much later"
    for key in ("last_activity", "duration_s", "start_time", "end_time", "status"):
        assert after[sid].get(key) == before[sid].get(key), key
    snapshot = json.loads(runner.invoke(cli, ["replay", sid, "--json"]).stdout)
    assert snapshot["title"] == "Named much later"
