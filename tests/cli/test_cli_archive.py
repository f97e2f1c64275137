"""`p8j archive` / `p8j unarchive`: archived sessions stay readable; bytes saved reported."""

from __future__ import annotations

import json

from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home

from .cli_helpers import record_simple


def _ok(runner: CliRunner, args: list[str]) -> str:
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_archived_session_reads_as_before(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home, messages=("findable needle here", "more words " * 50))
    original = p8j_home.log_path(sid).read_bytes()
    exports = {f: _ok(runner, ["export", sid, "-f", f]) for f in ("md", "json", "jsonl")}
    replayed = _ok(runner, ["replay", sid])
    data = json.loads(_ok(runner, ["archive", sid, "--json"]))
    entry = data["sessions"][0]
    assert entry["session_id"] == sid and entry["bytes_before"] == len(original)
    assert data["bytes_saved"] == data["bytes_before"] - data["bytes_after"] > 0
    assert not p8j_home.log_path(sid).exists()
    assert _ok(runner, ["ls", "-q"]) == ""  # plain ls does not list archived sessions
    assert _ok(runner, ["ls", "--archived", "-q"]) == sid + "\n"
    listed = json.loads(_ok(runner, ["ls", "--archived", "--json"]))
    assert listed[0]["state"] == "completed" and listed[0]["size_bytes"] == len(original)
    for f, before in exports.items():
        assert _ok(runner, ["export", sid[:13], "-f", f]) == before
    assert _ok(runner, ["replay", sid]) == replayed
    assert sid in _ok(runner, ["search", "needle", "--session", sid, "-l"])
    assert "1 ok" in _ok(runner, ["verify", sid])
    assert _ok(runner, ["unarchive", sid[:13]]).startswith(f"unarchived {sid}")
    assert p8j_home.log_path(sid).read_bytes() == original
    assert _ok(runner, ["ls", "-q"]) == sid + "\n"


def test_dry_run_and_filters(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home)
    out = _ok(runner, ["archive", "--status", "completed", "--dry-run"])
    assert out.startswith(sid) and "would archive 1 session(s)" in out
    assert p8j_home.log_path(sid).exists()
    none = json.loads(_ok(runner, ["archive", "--older-than", "90d", "--json"]))
    assert none["sessions"] == [] and none["bytes_saved"] == 0  # it is brand new
    assert p8j_home.log_path(sid).exists()


def test_refusals(runner: CliRunner, p8j_home: Home, demo_ids: list[str]) -> None:
    usage = runner.invoke(cli, ["archive"])
    assert usage.exit_code == 2  # nothing is archived without being asked
    paused = runner.invoke(cli, ["archive", demo_ids[1]])  # api-server: paused
    assert paused.exit_code == 1 and "only completed sessions" in paused.stderr
    assert p8j_home.log_path(demo_ids[1]).exists()
    not_archived = runner.invoke(cli, ["unarchive", demo_ids[0]])
    assert not_archived.exit_code == 1 and "not archived" in not_archived.stderr
