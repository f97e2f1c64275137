"""`p8j verify`: a report per session; exit 1 when anything is wrong."""

from __future__ import annotations

import json

from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home, SessionManager

from .cli_helpers import crc_line, record_simple

REPORT_FIELDS = {
    "session_id",
    "path",
    "ok",
    "status",
    "state",
    "events",
    "last_seq",
    "size_bytes",
    "errors",
    "warnings",
}


def test_all_good(runner: CliRunner, demo_ids: list[str]) -> None:
    result = runner.invoke(cli, ["verify"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "3 session(s) checked: 3 ok, 0 bad"
    verbose = runner.invoke(cli, ["verify", "-v"]).stdout
    assert verbose.count("ok    ") == 3
    one = runner.invoke(cli, ["verify", demo_ids[0][:13]])
    assert one.exit_code == 0 and f"ok    {demo_ids[0]}  15 events" in one.stdout


def test_json_report(runner: CliRunner, demo_ids: list[str]) -> None:
    reports = json.loads(runner.invoke(cli, ["verify", "--json"]).stdout)
    assert [r["session_id"] for r in reports] == demo_ids
    for r in reports:
        assert set(r) == REPORT_FIELDS and r["ok"] is True and r["errors"] == []
    assert [r["state"] for r in reports] == ["completed", "paused", "crashed"]


def test_corruption_exits_1_and_names_the_line(runner: CliRunner, p8j_home: Home) -> None:
    good = record_simple(p8j_home, "good")
    bad = record_simple(p8j_home, "bad", ["one", "two"])
    path = p8j_home.log_path(bad)
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"two", b"TWO")
    path.write_bytes(b"\n".join(lines))
    result = runner.invoke(cli, ["verify"])
    assert result.exit_code == 1
    assert f"BAD   {bad}" in result.stdout and good not in result.stdout
    assert "line 3: corrupt: checksum mismatch" in result.stdout
    assert "1 bad" in result.stdout
    assert runner.invoke(cli, ["verify", good]).exit_code == 0
    reports = json.loads(runner.invoke(cli, ["verify", "--json", bad]).stdout)
    assert reports[0]["ok"] is False
    assert reports[0]["errors"][0]["line"] == 3 and reports[0]["errors"][0]["kind"] == "corrupt"
    assert "TWO" in reports[0]["errors"][0]["data"]


def test_lifecycle_and_seq_problems(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home)
    path = p8j_home.log_path(sid)
    after_end = crc_line(
        {
            "type": "MessageRecorded",
            "v": 1,
            "session_id": sid,
            "seq": 5,
            "ts": "2026-01-01T00:00:00.000000Z",
            "role": "user",
            "content": "late",
        }
    )
    gap = crc_line(
        {
            "type": "CommandRecorded",
            "v": 1,
            "session_id": sid,
            "seq": 9,
            "ts": "2026-01-01T00:00:00.000000Z",
            "command": "x",
        }
    )
    with open(path, "ab") as f:
        f.write(after_end + gap)
    report = json.loads(runner.invoke(cli, ["verify", sid, "--json"]).stdout)[0]
    kinds = [e["kind"] for e in report["errors"]]
    assert "lifecycle" in kinds and "seq-gap" in kinds, report


def test_torn_tail_is_a_warning(runner: CliRunner, p8j_home: Home) -> None:
    mgr = SessionManager(p8j_home)
    s = mgr.start_session("crashy")
    mgr.record_message({"role": "user", "content": "hi"})
    mgr.pause_session()
    with open(p8j_home.log_path(s.session_id), "ab") as f:
        f.write(b'{"type":"Mess')
    result = runner.invoke(cli, ["verify", s.session_id])
    assert result.exit_code == 0
    assert "warning line 4: torn-tail" in result.stdout
    assert "moved aside when the session is resumed" in result.stdout


def test_empty_log_is_an_error(runner: CliRunner, p8j_home: Home) -> None:
    p8j_home.ensure()
    sid = "01a20c00-0000-7000-8000-000000000000"
    p8j_home.log_path(sid).write_bytes(b"")
    result = runner.invoke(cli, ["verify"])
    assert result.exit_code == 1 and "empty" in result.stdout


def test_unknown_id(runner: CliRunner, demo_ids: list[str]) -> None:
    result = runner.invoke(cli, ["verify", "abcdef"])
    assert result.exit_code == 1 and "no session matches" in result.stderr


def test_empty_journal(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["verify"])
    assert result.exit_code == 0 and "0 session(s) checked" in result.stdout
    assert runner.invoke(cli, ["verify", "--json"]).stdout == "[]\n"


def test_progress_bar_on_a_terminal(p8j_home: Home) -> None:
    import os
    import sys

    import pexpect  # type: ignore[import-untyped]

    for i in range(25):
        record_simple(p8j_home, f"p{i}")
    bad = record_simple(p8j_home, "bad")
    path = p8j_home.log_path(bad)
    path.write_bytes(path.read_bytes().replace(b"git status", b"git STATUS", 1))
    child = pexpect.spawn(
        sys.executable,
        ["-m", "p8j.cli", "verify"],
        env=dict(os.environ, P8J_HOME=str(p8j_home.path), TERM="xterm"),
        dimensions=(30, 120),
        timeout=30,
    )
    child.expect("verifying")
    child.expect("26 session")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
