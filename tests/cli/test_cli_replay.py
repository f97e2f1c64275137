"""`p8j replay`: header, conversation, commands, executions, time travel, errors."""

from __future__ import annotations

import json

from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home, SessionManager
from p8j.replay import load_session

from .cli_helpers import record_simple


def test_human_output(runner: CliRunner, demo_ids: list[str]) -> None:
    web = demo_ids[0]
    result = runner.invoke(cli, ["replay", web[:13]])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"webshop · {web}\n")
    assert "status completed" in out and "8 messages · 2 commands · 2 executions" in out
    assert "── conversation ──" in out and "── commands ──" in out and "── executions ──" in out
    assert "⚙ Bash(pytest tests/test_checkout.py -q)  [toolu_01]" in out
    assert "↳ error [toolu_01]:" in out  # the failing tool result
    assert "thinking: 85.5 is 95 minus 10%" in out
    assert "✘ exit 1" in out and "✔ exit 0" in out
    assert "… 3 more lines (--full shows all)" in out
    assert result.stderr == ""


def test_full_shows_everything(runner: CliRunner, demo_ids: list[str]) -> None:
    out = runner.invoke(cli, ["replay", demo_ids[0], "--full"]).stdout
    assert "more lines" not in out
    assert "1 failed, 3 passed in 0.41s" in out


def test_latest_is_the_default(runner: CliRunner, demo_ids: list[str]) -> None:
    assert runner.invoke(cli, ["replay"]).stdout.startswith(f"docs-site · {demo_ids[2]}")
    assert runner.invoke(cli, ["replay", "latest"]).stdout.startswith("docs-site")


def test_json_is_the_session_snapshot(
    runner: CliRunner, demo_ids: list[str], p8j_home: Home
) -> None:
    for sid in demo_ids:
        result = runner.invoke(cli, ["replay", sid, "--json"])
        assert json.loads(result.stdout) == json.loads(
            json.dumps(load_session(sid, p8j_home).to_dict())
        )


def test_at_seq_and_until(runner: CliRunner, p8j_home: Home) -> None:
    mgr = SessionManager(p8j_home)
    s = mgr.start_session("tt")
    mgr.record_message({"role": "user", "content": "first"})
    mgr.record_message({"role": "user", "content": "second"})
    assert mgr.current_session is not None
    cut = mgr.current_session.last_event_time
    mgr.record_message({"role": "user", "content": "third"})
    mgr.end_session()
    at = runner.invoke(cli, ["replay", s.session_id, "--at", "1", "--json"])
    assert [m["content"] for m in json.loads(at.stdout)["conversation_history"]] == ["first"]
    human = runner.invoke(cli, ["replay", s.session_id, "--at", "1"]).stdout
    assert "as of seq 1" in human and "first" in human and "second" not in human
    assert cut is not None
    until = runner.invoke(cli, ["replay", s.session_id, "--until", cut.isoformat(), "--json"])
    assert until.exit_code == 0, until.output
    assert [m["content"] for m in json.loads(until.stdout)["conversation_history"]] == [
        "first",
        "second",
    ]
    assert runner.invoke(cli, ["replay", s.session_id, "--until", "soon"]).exit_code == 2
    assert runner.invoke(cli, ["replay", s.session_id, "--at", "-3"]).exit_code == 2


def test_unknown_and_ambiguous_ids(runner: CliRunner, demo_ids: list[str]) -> None:
    unknown = runner.invoke(cli, ["replay", "ffff"])
    assert unknown.exit_code == 1 and "no session matches 'ffff'" in unknown.stderr
    common = demo_ids[0][:8]
    assert all(i.startswith(common) for i in demo_ids), "demo sessions start within a minute"
    ambiguous = runner.invoke(cli, ["replay", common])
    assert ambiguous.exit_code == 1
    assert "ambiguous" in ambiguous.stderr
    for sid in demo_ids:
        assert sid in ambiguous.stderr  # the candidates are listed
    assert ambiguous.stderr.count("\n") == 1


def test_corrupt_lines_are_skipped_with_a_warning(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home, "bad", ["one", "two"])
    path = p8j_home.log_path(sid)
    lines = path.read_bytes().split(b"\n")
    lines.insert(2, b"not json at all")
    path.write_bytes(b"\n".join(lines))
    result = runner.invoke(cli, ["replay", sid])
    assert result.exit_code == 0
    assert "one" in result.stdout and "two" in result.stdout
    assert "warning: skipped 1 bad line" in result.stderr and "line 3" in result.stderr
    strict = runner.invoke(cli, ["replay", sid, "--strict"])
    assert strict.exit_code == 1 and ":3" in strict.stderr and strict.stdout == ""


def test_torn_tail_is_noted(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home)
    with open(p8j_home.log_path(sid), "ab") as f:
        f.write(b'{"type":"MessageRec')
    result = runner.invoke(cli, ["replay", sid])
    assert result.exit_code == 0
    assert "incomplete line" in result.stderr


def test_empty_log_is_an_error_not_a_traceback(runner: CliRunner, p8j_home: Home) -> None:
    p8j_home.ensure()
    sid = "01a20c00-0000-7000-8000-000000000000"
    p8j_home.log_path(sid).write_bytes(b"")
    result = runner.invoke(cli, ["replay", sid])
    assert result.exit_code == 1
    assert result.stderr.startswith("p8j: ") and "Traceback" not in result.output


def test_last_shows_the_end_of_each_history(runner: CliRunner, demo_ids: list[str]) -> None:
    web = demo_ids[0]
    result = runner.invoke(cli, ["replay", web, "--last", "1"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    # The header still counts the whole session; each list says what it left out.
    assert "8 messages · 2 commands · 2 executions" in out
    assert "… 7 earlier messages not shown (--last)" in out
    assert "… 1 earlier command not shown (--last)" in out
    assert "… 1 earlier execution not shown (--last)" in out
    assert "  2  $ " in out and "  1  $ " not in out  # commands keep their numbers
    full = load_session(web)
    last = full.conversation_history[-1]["content"]
    assert isinstance(last, str) and last.splitlines()[0] in out
    data = json.loads(runner.invoke(cli, ["replay", web, "--last", "1", "--json"]).stdout)
    assert data["conversation_history"] == full.conversation_history[-1:]
    assert data["conversation_omitted"] == 7
    assert runner.invoke(cli, ["replay", web, "--last", "-1"]).exit_code == 2
    nothing = runner.invoke(cli, ["replay", web, "--last", "0"]).stdout
    assert "… 8 earlier messages" in nothing
    assert "── commands ──" in nothing and "… 2 earlier commands" in nothing
    assert "── executions ──" in nothing and "… 2 earlier executions" in nothing
