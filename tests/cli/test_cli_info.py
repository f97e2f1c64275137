"""`p8j info`: where, how many, how big."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from p8j.cli.info import size
from p8j.cli.main import cli
from p8j.journal import Home, SessionManager

INFO_FIELDS = {
    "home",
    "exists",
    "sessions",
    "states",
    "sessions_with_problems",
    "log_bytes",
    "cache_bytes",
    "torn_files",
    "torn_bytes",
    "oldest",
    "newest",
    "index",
}


def test_human(runner: CliRunner, demo_ids: list[str], p8j_home: Home) -> None:
    result = runner.invoke(cli, ["info"])
    assert result.exit_code == 0
    assert f"home      {p8j_home.path}" in result.stdout
    assert "sessions  3 (1 completed, 1 crashed, 1 paused)" in result.stdout
    assert "logs" in result.stdout and "KiB" in result.stdout


def test_json(runner: CliRunner, demo_ids: list[str], p8j_home: Home) -> None:
    facts = json.loads(runner.invoke(cli, ["info", "--json"]).stdout)
    assert set(facts) == INFO_FIELDS
    assert facts["home"] == str(p8j_home.path) and facts["exists"] is True
    assert facts["sessions"] == 3
    assert facts["states"] == {"completed": 1, "crashed": 1, "paused": 1}
    assert facts["log_bytes"] == sum(p8j_home.log_path(s).stat().st_size for s in demo_ids)


def test_index_size_and_freshness(runner: CliRunner, demo_ids: list[str], p8j_home: Home) -> None:
    assert json.loads(runner.invoke(cli, ["info", "--json"]).stdout)["index"] is None
    assert "index     none" in runner.invoke(cli, ["info"]).stdout
    assert runner.invoke(cli, ["index"]).exit_code == 0
    index = json.loads(runner.invoke(cli, ["info", "--json"]).stdout)["index"]
    assert index["indexed_sessions"] == 3 and index["stale_sessions"] == 0
    assert index["behind_bytes"] == 0 and index["index_bytes"] > 0 and index["updated"]
    assert "up to date" in runner.invoke(cli, ["info"]).stdout
    grown = p8j_home.log_path(demo_ids[1])  # the paused one: it can grow
    before = grown.stat().st_size
    mgr = SessionManager(p8j_home)
    mgr.resume_session(demo_ids[1])
    mgr.record_message({"role": "user", "content": "one more"})
    mgr.end_session()
    index = json.loads(runner.invoke(cli, ["info", "--json"]).stdout)["index"]
    assert index["stale_sessions"] == 1
    assert index["behind_bytes"] >= grown.stat().st_size - before > 0
    assert "1 session(s)" in runner.invoke(cli, ["info"]).stdout


def test_missing_home(runner: CliRunner, p8j_home: Home) -> None:
    result = runner.invoke(cli, ["info"])
    assert result.exit_code == 0 and "does not exist yet" in result.stdout
    facts = json.loads(runner.invoke(cli, ["info", "--json"]).stdout)
    assert facts["exists"] is False and facts["sessions"] == 0
    assert not p8j_home.path.exists()


def test_size() -> None:
    assert size(0) == "0 B"
    assert size(1536) == "1.5 KiB"
    assert size(5 * 1024 * 1024) == "5.0 MiB"
    assert size(3 << 40) == "3072.0 GiB"


def test_home_that_is_a_regular_file_is_an_error(
    runner: CliRunner, p8j_home: Home, tmp_path: Path
) -> None:
    path = tmp_path / "a-file"
    path.write_text("not a journal")
    for args in (["info"], ["info", "--json"]):
        result = runner.invoke(cli, args, env={"P8J_HOME": str(path)})
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("p8j: ") and "expected a directory" in result.stderr
        assert "does not exist yet" not in result.output
    # Not there at all is still "nothing recorded yet", exit 0.
    missing = runner.invoke(cli, ["info"], env={"P8J_HOME": str(tmp_path / "nothing")})
    assert missing.exit_code == 0 and "does not exist yet" in missing.stdout
