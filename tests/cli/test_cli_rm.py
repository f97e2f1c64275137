"""`p8j rm`: confirmation (a real terminal), --yes, --dry-run, live sessions refused."""

from __future__ import annotations

import json
import os
import sys

import pytest
from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home, SessionManager

from .cli_helpers import record_simple


def test_rm_needs_yes_off_a_terminal(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home)
    result = runner.invoke(cli, ["rm", sid])
    assert result.exit_code == 2
    assert "pass --yes" in result.stderr
    assert p8j_home.log_path(sid).exists()


def test_rm_dry_run_then_yes(runner: CliRunner, p8j_home: Home) -> None:
    keep = record_simple(p8j_home, "keep")
    sid = record_simple(p8j_home, "gone")
    dry = runner.invoke(cli, ["rm", sid[:13], "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    [entry] = json.loads(dry.stdout)
    assert entry["dry_run"] is True and entry["session_id"] == sid
    assert [f["kind"] for f in entry["removed"]] == ["log", "lock"]
    assert entry["bytes_freed"] == sum(f["size"] for f in entry["removed"])
    assert p8j_home.log_path(sid).exists()
    done = runner.invoke(cli, ["rm", sid, "--yes"])
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith(f"removed {sid} (2 files, ")
    assert not p8j_home.log_path(sid).exists()
    assert not p8j_home.lock_path(sid).exists()
    assert runner.invoke(cli, ["ls", "-q"]).stdout.split() == [keep]


def test_rm_refuses_a_live_session_and_removes_the_others(
    runner: CliRunner, p8j_home: Home
) -> None:
    done = record_simple(p8j_home)
    mgr = SessionManager(p8j_home)
    live = mgr.start_session("live").session_id
    try:
        result = runner.invoke(cli, ["rm", live, done, "--yes"])
    finally:
        mgr.close()
    assert result.exit_code == 1
    assert result.stderr.startswith("p8j: ") and "open" in result.stderr
    assert p8j_home.log_path(live).exists()
    assert not p8j_home.log_path(done).exists()


def test_rm_unknown_session_is_an_error_and_nothing_goes(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home)
    result = runner.invoke(cli, ["rm", sid, "ffffffff", "--yes"])
    assert result.exit_code == 1
    assert p8j_home.log_path(sid).exists()


@pytest.mark.parametrize(("answer", "removed"), [("y", True), ("n", False), ("", False)])
def test_rm_asks_on_a_terminal(p8j_home: Home, answer: str, removed: bool) -> None:
    import pexpect  # type: ignore[import-untyped]

    sid = record_simple(p8j_home)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "p8j.cli", "rm", sid[:13]],
        env=dict(os.environ, P8J_HOME=str(p8j_home.path), TERM="xterm"),
        dimensions=(30, 120),
        timeout=30,
    )
    child.expect(r"Remove 1 session\(s\) \(" + sid[:13] + r"\) for good\? \[y/N\]")
    child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == (0 if removed else 1)
    assert p8j_home.log_path(sid).exists() is not removed
