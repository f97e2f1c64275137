"""`p8j index`: builds and updates the search index; search gives the same answers with it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home, SessionManager

STATS = {
    "sessions",
    "updated_sessions",
    "dropped_sessions",
    "events",
    "rows",
    "bytes_read",
    "seconds",
    "index_bytes",
    "log_bytes",
    "rebuilt",
}


def test_index_json_and_update(runner: CliRunner, demo_ids: list[str], p8j_home: Home) -> None:
    before = json.loads(runner.invoke(cli, ["search", "coupon", "--json"]).stdout)
    out = runner.invoke(cli, ["index", "--json"])
    assert out.exit_code == 0, out.output
    stats = json.loads(out.stdout)
    assert set(stats) == STATS
    assert stats["sessions"] == stats["updated_sessions"] == 3 and stats["rows"] > 0
    assert stats["bytes_read"] == stats["log_bytes"]
    assert json.loads(runner.invoke(cli, ["search", "coupon", "--json"]).stdout) == before
    again = json.loads(runner.invoke(cli, ["index", "--json"]).stdout)
    assert again["updated_sessions"] == 0 and again["bytes_read"] == 0
    rebuilt = json.loads(runner.invoke(cli, ["index", "--rebuild", "--json"]).stdout)
    assert rebuilt["updated_sessions"] == 3


def test_index_human(runner: CliRunner, demo_ids: list[str]) -> None:
    out = runner.invoke(cli, ["index"])
    assert out.exit_code == 0
    assert out.stdout.startswith("indexed 3 of 3 session(s), read ")
    assert "x the logs'" in out.stdout


def test_index_of_a_missing_home(runner: CliRunner, p8j_home: Home) -> None:
    out = runner.invoke(cli, ["index"])
    assert out.exit_code == 1 and out.stderr.startswith("p8j: no journal at")
    assert not p8j_home.path.exists()


def test_index_in_an_unsafe_cache(runner: CliRunner, p8j_home: Home, tmp_path: Path) -> None:
    mgr = SessionManager(p8j_home)
    mgr.start_session("p")
    mgr.end_session()
    shutil.rmtree(p8j_home.cache_dir, ignore_errors=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    p8j_home.cache_dir.symlink_to(elsewhere)
    out = runner.invoke(cli, ["index"])
    assert out.exit_code == 1 and "cannot write the index" in out.stderr
    assert out.stderr.count("\n") == 1 and list(elsewhere.iterdir()) == []
