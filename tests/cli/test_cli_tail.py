"""`p8j tail --no-follow` through CliRunner: backlog, filters, formats, errors."""

from __future__ import annotations

import json

from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home, SessionManager

from .cli_helpers import record_simple


def _all_lines(home: Home, ids: list[str]) -> list[bytes]:
    return [ln for sid in ids for ln in home.log_path(sid).read_bytes().splitlines(keepends=True)]


def test_json_backlog_is_the_newest_raw_lines(
    runner: CliRunner, demo_ids: list[str], p8j_home: Home
) -> None:
    result = runner.invoke(cli, ["tail", "--no-follow", "--json", "-n", "5"])
    assert result.exit_code == 0, result.output
    everything = sorted(_all_lines(p8j_home, demo_ids), key=lambda ln: json.loads(ln)["ts"])
    assert result.stdout_bytes.splitlines(keepends=True) == everything[-5:]


def test_default_backlog_is_ten(runner: CliRunner, demo_ids: list[str]) -> None:
    assert len(runner.invoke(cli, ["tail", "--no-follow"]).stdout.splitlines()) == 10


def test_whole_history_in_order(runner: CliRunner, demo_ids: list[str], p8j_home: Home) -> None:
    result = runner.invoke(cli, ["tail", "--no-follow", "--json", "-n", "1000"])
    lines = result.stdout_bytes.splitlines(keepends=True)
    assert sorted(lines) == sorted(_all_lines(p8j_home, demo_ids))
    for sid in demo_ids:  # each session in log order
        mine = [ln for ln in lines if json.loads(ln)["session_id"] == sid]
        assert mine == p8j_home.log_path(sid).read_bytes().splitlines(keepends=True)


def test_session_ids_and_filters(runner: CliRunner, demo_ids: list[str]) -> None:
    web, api, _docs = demo_ids

    def events(*args: str) -> list[dict[str, object]]:
        result = runner.invoke(cli, ["tail", "--no-follow", "--json", "-n", "1000", *args])
        assert result.exit_code == 0, result.output
        return [json.loads(ln) for ln in result.stdout.splitlines()]

    assert {e["session_id"] for e in events(web[:13])} == {web}
    assert {e["session_id"] for e in events(web, api)} == {web, api}
    assert {e["type"] for e in events("--type", "command")} == {"CommandRecorded"}
    assert {e["type"] for e in events("--type", "message", "--type", "execution")} == {
        "MessageRecorded",
        "ExecutionRecorded",
    }
    lifecycle = {e["type"] for e in events("--type", "lifecycle")}
    assert lifecycle == {"SessionStarted", "SessionPaused", "SessionResumed", "SessionEnded"}
    assert {e["session_id"] for e in events("--project", "api-*")} == {api}


def test_human_lines(runner: CliRunner, demo_ids: list[str]) -> None:
    out = runner.invoke(cli, ["tail", "--no-follow", "-n", "100", demo_ids[0]]).stdout
    lines = out.splitlines()
    assert len(lines) == 15
    assert " webshop  started  project webshop" in lines[0]
    assert "  user  The checkout total is wrong" in lines[1]
    assert "⚙ Bash(pytest tests/test_checkout.py -q)" in lines[2]
    assert "  command  $ pytest tests/test_checkout.py -q" in lines[3]
    assert "  exit 1  $ pytest tests/test_checkout.py -q (0.4s)  → ..F." in lines[4]
    assert '  metadata  {"tests":"passing"}' in lines[13]
    assert "  ended  task done" in lines[14]
    assert all(ln.split()[1] == demo_ids[0][:13] for ln in lines)


def test_errors(runner: CliRunner, demo_ids: list[str]) -> None:
    bad_type = runner.invoke(cli, ["tail", "--no-follow", "--type", "telegram"])
    assert bad_type.exit_code == 2 and "unknown event type" in bad_type.stderr
    unknown = runner.invoke(cli, ["tail", "--no-follow", "fffff"])
    assert unknown.exit_code == 1 and "no session matches" in unknown.stderr
    assert runner.invoke(cli, ["tail", "--no-follow", "-n", "-2"]).exit_code == 2


def test_corrupt_lines_are_reported_not_printed(
    runner: CliRunner, demo_ids: list[str], p8j_home: Home
) -> None:
    path = p8j_home.log_path(demo_ids[0])
    lines = path.read_bytes().split(b"\n")
    lines.insert(4, b"\x1b[2J not json")
    path.write_bytes(b"\n".join(lines))
    result = runner.invoke(cli, ["tail", "--no-follow", "--json", "-n", "1000", demo_ids[0]])
    assert result.exit_code == 0
    assert b"not json" not in result.stdout_bytes
    assert len(result.stdout.splitlines()) == 15
    assert (
        ":5 (byte" in result.stderr and "corrupt" in result.stderr and "\x1b" not in result.stderr
    )


def test_since_starts_from_a_time(runner: CliRunner, p8j_home: Home) -> None:
    mgr = SessionManager(p8j_home)
    s = mgr.start_session("since")
    for i in range(30):
        mgr.record_message({"role": "user", "content": f"message {i}"})
    assert mgr.current_session is not None and mgr.current_session.last_event_time is not None
    cut = mgr.current_session.last_event_time
    mgr.record_message({"role": "user", "content": "after the cut"})
    mgr.end_session()
    args = ["tail", "--no-follow", s.session_id[:13], "--since", cut.isoformat()]
    out = runner.invoke(cli, args).stdout.splitlines()
    assert len(out) == 3  # message 29, after the cut, ended: not the default last 10
    assert "message 29" in out[0] and "after the cut" in out[1] and "ended" in out[2]
    everything = runner.invoke(cli, ["tail", "--no-follow", "--since", "1h"]).stdout
    assert len(everything.splitlines()) == 33  # all of it, not the last 10
    assert len(runner.invoke(cli, [*args, "-n", "1"]).stdout.splitlines()) == 1
    assert runner.invoke(cli, [*args[:-1], "someday"]).exit_code == 2


def test_a_completed_session_prints_and_exits(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home)
    result = runner.invoke(cli, ["tail", sid[:13]])  # following: would block if it did not end
    assert result.exit_code == 0, result.output
    assert "ended" in result.stdout.splitlines()[-1]
    assert result.stderr == "p8j: it has ended\n"


def test_no_follow_on_a_home_not_made_yet_prints_nothing_like_ls(
    runner: CliRunner, p8j_home: Home
) -> None:
    # Every other reading command lists a home that does not exist yet as empty (exit 0);
    # `tail --no-follow` failed with "no journal here (no sessions directory)".
    for args in (["tail", "--no-follow"], ["tail", "--no-follow", "--json"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == ""
        assert result.stderr == f"No sessions in {p8j_home.path} yet. Try `p8j demo`.\n"
    assert not p8j_home.path.exists()  # and, not following, it made nothing
