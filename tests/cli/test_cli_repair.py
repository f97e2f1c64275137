"""`p8j repair`: damaged lines moved aside; verify, ls and resume agree before and after."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import CorruptLineError, Home, SessionManager

from .cli_helpers import record_simple


def _damage_last_line(home: Home, sid: str) -> bytes:
    """Flip one bit in the session's last line (its SessionEnded); return the new bytes."""
    log = home.log_path(sid)
    data = bytearray(log.read_bytes())
    data[-5] ^= 0x01
    log.write_bytes(bytes(data))
    return bytes(data)


def test_a_corrupt_sessionended_is_an_error_until_repaired(
    runner: CliRunner, p8j_home: Home
) -> None:
    sid = record_simple(p8j_home)
    bad = _damage_last_line(p8j_home, sid)
    verify = runner.invoke(cli, ["verify", sid])
    assert verify.exit_code == 1, verify.output
    assert "error line 5: corrupt" in verify.stdout
    assert f"p8j repair {sid} moves the bad lines aside" in verify.stdout
    (row,) = json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)
    assert row["state"] == "damaged" and row["problems"] == 1
    assert "damaged" in runner.invoke(cli, ["ls"]).stdout
    replay = runner.invoke(cli, ["replay", sid])  # skips and reports by default
    assert replay.exit_code == 0 and "skipped 1 bad line" in replay.stderr
    strict = runner.invoke(cli, ["replay", sid, "--strict"])
    assert strict.exit_code == 1 and ":5 (byte " in strict.stderr
    with pytest.raises(CorruptLineError, match="p8j repair"):
        SessionManager(p8j_home).resume_session(sid)

    dry = runner.invoke(cli, ["repair", sid, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would move line 5" in dry.stdout and "nothing was changed" in dry.stdout
    assert p8j_home.log_path(sid).read_bytes() == bad

    done = runner.invoke(cli, ["repair", sid])
    assert done.exit_code == 0, done.output
    last_line_start = bad.rstrip(b"\n").rfind(b"\n") + 1
    assert f"moved line 5 (byte {last_line_start}, " in done.stdout
    assert "the session is active" in done.stdout
    after = runner.invoke(cli, ["verify", sid])
    assert after.exit_code == 0 and "warning line 5: repaired" in after.stdout
    (row,) = json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)
    assert row["state"] == "crashed" and row["problems"] == 0
    mgr = SessionManager(p8j_home)
    mgr.resume_session(sid)  # resumable again, like a session whose writer died
    mgr.end_session()
    assert runner.invoke(cli, ["verify", sid]).exit_code == 0
    again = runner.invoke(cli, ["repair", sid])
    assert again.exit_code == 0 and "no damaged lines" in again.stdout


def test_json_report(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home)
    _damage_last_line(p8j_home, sid)
    dry = json.loads(runner.invoke(cli, ["repair", sid[:13], "--dry-run", "--json"]).stdout)
    assert dry["dry_run"] is True and dry["changed"] is False
    result = runner.invoke(cli, ["repair", "latest", "--json"])
    report = json.loads(result.stdout)
    assert set(report) == {
        "session_id",
        "path",
        "dry_run",
        "changed",
        "removed",
        "events_written",
        "bytes_before",
        "bytes_after",
        "status",
    }
    assert report["changed"] and report["status"] == "active" and report["events_written"] == [4]
    (run,) = report["removed"]
    assert (run["line"], run["lines"]) == (5, 1) and run["problem"].startswith("corrupt")
    assert (p8j_home.torn_dir / run["sidecar"]).is_file()
    assert dry["removed"] == report["removed"]


def test_a_live_session_is_refused(runner: CliRunner, p8j_home: Home) -> None:
    mgr = SessionManager(p8j_home)
    sid = mgr.start_session("live").session_id
    try:
        for args in (["repair", sid], ["repair", sid, "--dry-run"]):
            result = runner.invoke(cli, args)
            assert result.exit_code == 1
            assert result.stderr.startswith("p8j: ") and "p8j repair again" in result.stderr
            assert len(result.stderr.strip().splitlines()) == 1
    finally:
        mgr.close()


def test_usage_errors_exit_2(runner: CliRunner, p8j_home: Home) -> None:
    assert runner.invoke(cli, ["repair"]).exit_code == 2
    assert runner.invoke(cli, ["repair", "x", "--nope"]).exit_code == 2
    missing = runner.invoke(cli, ["repair", "0000"])
    assert missing.exit_code == 1 and missing.stderr.startswith("p8j: ")


def test_a_damaged_start_is_refused_and_left_alone(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home)
    log = p8j_home.log_path(sid)
    data = bytearray(log.read_bytes())
    data[3] ^= 0x01
    log.write_bytes(bytes(data))
    result = runner.invoke(cli, ["repair", sid])
    assert result.exit_code == 1 and "line 1" in result.stderr
    assert log.read_bytes() == bytes(data)
