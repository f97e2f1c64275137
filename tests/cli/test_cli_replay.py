"""`p8j replay`: header, conversation, commands, executions, time travel, errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.cli.render import cell_width
from p8j.journal import Home, SessionManager
from p8j.replay import load_session

from .cli_helpers import record_simple


def test_human_output(runner: CliRunner, demo_ids: list[str]) -> None:
    web = demo_ids[0]
    result = runner.invoke(cli, ["replay", web[:13]])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"webshop · {web}\n")
    assert "state completed" in out and "8 messages · 2 commands · 2 executions" in out
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
    # The prefix all three share (UUIDv7: their start times'; a fixed [:8] failed when
    # the demo's recording straddled a 65 s boundary of the id's first 8 digits).
    common = demo_ids[0]
    while not all(i.startswith(common) for i in demo_ids):
        common = common[:-1]
    assert len(common) >= 4, "demo sessions start within a few minutes"
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


# -- issue 14: everyday use --------------------------------------------------------------------


def _long_session(home: Home) -> str:
    """A session with a 150-line heredoc tool call, a 4,046-character plan, long commands."""
    heredoc = "cat > app.py <<'EOF'\n" + "\n".join(f"line {i} " + "x" * 60 for i in range(150))
    mgr = SessionManager(home)
    s = mgr.start_session("long")
    mgr.record_message({"role": "user", "content": "word " * 600})  # one 3,000-char paragraph
    mgr.record_message({"role": "assistant", "content": "alpha " * 100})
    mgr.record_message(
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": heredoc}},
                {"type": "tool_use", "id": "t2", "name": "Plan", "input": {"plan": "p" * 4046}},
            ],
        }
    )
    mgr.record_command(heredoc)
    mgr.record_execution(heredoc, 0, "ok", duration_s=0.34)
    mgr.record_execution("sleep 1", None, "", duration_s=None)  # exit code unknown
    mgr.end_session()
    return s.session_id


def test_unknown_exit_code_is_neutral(runner: CliRunner, p8j_home: Home) -> None:
    sid = _long_session(p8j_home)
    out = runner.invoke(cli, ["replay", sid, "--color", "always"]).stdout
    line = next(ln for ln in out.splitlines() if "exit ?" in ln)
    assert "✘" not in line and "\x1b[31m" not in line  # not a red failure
    assert "•" in line
    assert "✔" in next(ln for ln in out.splitlines() if "exit 0" in ln)


def test_lines_are_cut_to_2000_chars_when_piped(runner: CliRunner, p8j_home: Home) -> None:
    sid = _long_session(p8j_home)
    out = runner.invoke(cli, ["replay", sid]).stdout
    longest = max(len(ln) for ln in out.splitlines())
    assert longest <= 2000, longest  # was 10,734 (the heredoc on one line)
    assert "p" * 1900 in out and "p" * 4046 not in out and "…" in out
    full = runner.invoke(cli, ["replay", sid, "--full"]).stdout
    assert "p" * 4046 in full and max(len(ln) for ln in full.splitlines()) > 10_000


def test_lines_fit_the_terminal(
    runner: CliRunner, p8j_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = _long_session(p8j_home)
    monkeypatch.setattr("p8j.cli.replay.is_terminal", lambda *a: True)
    monkeypatch.setenv("COLUMNS", "80")
    out = runner.invoke(cli, ["replay", sid, "--no-pager"]).stdout
    lines = out.splitlines()
    assert max(cell_width(ln) for ln in lines) <= 80
    # Prose is wrapped between words, not cut: the paragraph's words are all there, whole,
    # also on the first line, which shares its row with the role.
    prose = [ln for ln in lines if "word" in ln]
    assert prose[0].startswith("user  word word")
    assert all(set(ln.split()) <= {"user", "word"} for ln in prose), prose
    assert sum(ln.count("word") for ln in prose) == 600
    alpha = [ln for ln in lines if "alph" in ln]
    assert all(set(ln.split()) <= {"assistant", "alpha"} for ln in alpha), alpha
    assert sum(ln.count("alpha") for ln in alpha) == 100
    assert "state completed" in lines[1] and any(ln.startswith("ended ") for ln in lines[:4])
    assert any(ln.startswith("  1  $ cat > app.py") and ln.endswith("…") for ln in lines)


def test_state_is_the_one_ls_shows(runner: CliRunner, demo_ids: list[str]) -> None:
    docs = demo_ids[2]  # left active with no writer: crashed
    out = runner.invoke(cli, ["replay", docs]).stdout
    assert "state crashed" in out and "active" not in out.splitlines()[1]
    md = runner.invoke(cli, ["export", docs]).stdout
    assert "| State | crashed |" in md
    # As of an earlier point the lock says nothing about then: the logged status.
    assert "state active" in runner.invoke(cli, ["replay", docs, "--at", "1"]).stdout


def test_until_before_the_start_says_the_session_did_not_exist(
    runner: CliRunner, p8j_home: Home
) -> None:
    sid = record_simple(p8j_home)
    result = runner.invoke(cli, ["replay", sid, "--until", "2000-01-01T00:00Z"])
    assert result.exit_code == 1
    assert "did not exist yet" in result.stderr and "started at" in result.stderr
    assert result.stdout == ""
    assert runner.invoke(cli, ["replay", sid, "--until", "2000-01-01", "--json"]).exit_code == 1


def test_at_beyond_the_end_is_noted(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home)  # seq 0..4: start, message, command, execution, end
    result = runner.invoke(cli, ["replay", sid, "--at", "999"])
    assert result.exit_code == 0
    assert "as of seq 4 (the last; --at 999 asked for more)" in result.stdout
    assert "the log ends at seq 4" in result.stderr


def test_at_with_until_is_a_usage_error(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home)
    result = runner.invoke(cli, ["replay", sid, "--at", "1", "--until", "1h"])
    assert result.exit_code == 2 and "give one of them" in result.stderr


def test_help_shows_the_id_as_optional(runner: CliRunner) -> None:
    assert "replay [OPTIONS] [ID]\n" in runner.invoke(cli, ["replay", "--help"]).stdout
    assert "export [OPTIONS] [ID]\n" in runner.invoke(cli, ["export", "--help"]).stdout


def test_counts_are_pluralised(runner: CliRunner, p8j_home: Home) -> None:
    mgr = SessionManager(p8j_home)
    s = mgr.start_session("one")
    mgr.record_message({"role": "user", "content": "a\n" * 47})  # 48 lines: 40 shown
    mgr.record_command("ls")
    mgr.record_execution("ls", 0, "1\n2\n3\n4\n5\n6\n7", duration_s=0.3)
    mgr.end_session()
    out = runner.invoke(cli, ["replay", s.session_id]).stdout
    assert "1 message · 1 command · 1 execution · seq" in out
    assert "… 1 more line (--full shows all)" in out  # the execution's 7th line
    assert "… 8 more lines" in out
    assert "✔ exit 0  0.3s" in out  # the same duration tail shows


def test_a_missing_blob_is_named_once(runner: CliRunner, p8j_home: Home) -> None:
    mgr = SessionManager(p8j_home)
    s = mgr.start_session("blobs")
    mgr.record_execution("find /", 0, "f\n" * 200_000)  # 400 kB: stored as a blob
    mgr.end_session()
    (blob,) = p8j_home.blobs_dir.iterdir()
    blob.unlink()
    result = runner.invoke(cli, ["replay", s.session_id])
    assert result.exit_code == 0
    assert "skipped" not in result.stderr  # no line was skipped: a payload is missing
    (warning,) = result.stderr.splitlines()
    assert "1 stored payload missing" in warning and blob.name[:12] in warning
    assert f"[p8j-blob sha256:{blob.name}" in result.stdout
    session = load_session(s.session_id, p8j_home)
    assert session.missing_blobs == [blob.name]
    assert session.to_dict()["missing_blobs"] == [blob.name]
    assert "missing_blobs" not in load_session(record_simple(p8j_home), p8j_home).to_dict()
    mgr = SessionManager(p8j_home)
    s2 = mgr.start_session("blobs-2")
    mgr.record_execution("find /", 0, "g\n" * 200_000)
    mgr.pause_session()
    for path in p8j_home.blobs_dir.iterdir():
        path.unlink()
    resumed = mgr.resume_session(s2.session_id)  # the embedder is told what is missing
    assert len(resumed.missing_blobs) == 1
    mgr.close()
