"""The CLI on imported sessions: replay markers and pairing, ls links and usage, p8j usage, tail."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from fidelity_helpers import draft, origin, stamped, start, write_session

from p8j.cli.main import cli
from p8j.cli.replay_view import pair_results
from p8j.journal import Home
from p8j.journal.events import (
    CommandRecorded,
    ExecutionRecorded,
    MessageRecorded,
    RecordImported,
    SessionCompacted,
    SessionStarted,
    Usage,
    UsageRecorded,
)
from p8j.journal.session import fold
from p8j.replay.content import ContentPart, content_parts


def _at(minute: int, second: int = 0, day: int = 1) -> str:
    return f"2026-11-{day:02d}T09:{minute:02d}:{second:02d}.000000Z"


def _msg(role: str, content: Any, ts: str | None, **kw: Any) -> Any:
    return draft(MessageRecorded, role=role, content=content, origin=origin(ts), **kw)


def _parent() -> list[Any]:
    call = {"type": "tool_use", "id": "toolu_1", "name": "Task", "input": {"prompt": "dig"}}
    bash = {"type": "tool_use", "id": "toolu_2", "name": "Bash", "input": {"command": "ls"}}
    return [
        start("shop"),
        _msg("user", "<system-reminder>x</system-reminder>", _at(0, 1), injected=True),
        draft(
            MessageRecorded,
            role="user",
            content="find the bug",
            origin=origin(_at(0, 2), cwd="/src/shop", git_branch="main"),
        ),
        _msg(
            "assistant",
            [call, bash],
            _at(1),
            model="opus-4",
            response_id="msg_1",
            usage=Usage(1000, 50, 200, 10),
        ),
        _msg(
            "user",
            [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sub-agent says hi"}],
            _at(2),
        ),
        draft(
            ExecutionRecorded,
            command="ls",
            exit_code=None,
            output="README.md",
            call_id="toolu_2",
            status="ok",
            origin=origin(_at(2, 30)),
        ),
        draft(RecordImported, kind="progress", record={"note": "halfway"}, origin=origin(None)),
        draft(SessionCompacted, trigger="auto", tokens_before=123_456, origin=origin(_at(3))),
        _msg("user", "Summary of before", _at(3, 1), compaction_summary=True),
        _msg("assistant", "after compaction", _at(4), response_id="msg_2", usage=Usage(7, 3)),
    ]


def _child(parent: str) -> list[Any]:
    return [
        start("shop", ts=_at(1, 10), parent_id=parent, parent_call_id="toolu_1"),
        _msg("user", "dig", _at(1, 11), sidechain=True),
        _msg("assistant", "dug deep", _at(1, 20), sidechain=True),
    ]


def _home(p8j_home: Home) -> tuple[str, str]:
    parent = write_session(p8j_home, _parent())
    child = write_session(p8j_home, _child(parent))
    return parent, child


def test_replay_pairs_calls_marks_context_compaction_and_injected(
    runner: CliRunner, p8j_home: Home
) -> None:
    parent, _ = _home(p8j_home)
    out = runner.invoke(cli, ["replay", parent]).stdout
    assert "user (injected)" in out and "user (compaction summary)" in out
    assert "· cwd /src/shop · branch main" in out and "· model opus-4" in out
    assert "── context compacted (auto, 123,456 tokens before) ──" in out
    # Each call with its result right under it; the result message is not repeated.
    lines = out.splitlines()
    task = next(i for i, ln in enumerate(lines) if "Task(dig)" in ln)
    assert "↳ result [toolu_1]: sub-agent says hi" in lines[task + 1]
    bash = next(i for i, ln in enumerate(lines) if "Bash(ls)" in ln)
    assert "↳ result [toolu_2]: README.md" in lines[bash + 1]
    assert out.count("sub-agent says hi") == 1
    assert "tokens 1,007 in · 53 out · cache 200 read · 10 written · opus-4" in out
    assert "imported from claude session src-1" in out and "spans 4m00s" in out
    assert "── executions ──" not in out  # its only execution is shown with its call
    # Imported records are hidden unless asked for.
    assert "halfway" not in out
    assert '[progress] {"note":"halfway"}' in runner.invoke(cli, ["replay", parent, "--all"]).stdout


def test_replay_children_inline_and_compacted_context(runner: CliRunner, p8j_home: Home) -> None:
    parent, child = _home(p8j_home)
    out = runner.invoke(cli, ["replay", parent, "--children"]).stdout
    lines = out.splitlines()
    head = next(i for i, ln in enumerate(lines) if f"↳ child session {child}" in ln)
    task = next(i for i, ln in enumerate(lines) if "Task(dig)" in ln)
    after = next(i for i, ln in enumerate(lines) if "after compaction" in ln)
    assert task < head < after  # after the message that spawned it
    assert "│ assistant (sub-agent)  dug deep" in out
    assert "dug deep" not in runner.invoke(cli, ["replay", parent]).stdout
    compacted = runner.invoke(cli, ["replay", parent, "--context", "compacted"]).stdout
    assert "find the bug" not in compacted and "after compaction" in compacted
    # They are hidden by the compaction, not by --last (which was not given).
    assert "… 4 earlier messages not shown (before the last compaction; --context all)" in compacted
    both = runner.invoke(cli, ["replay", parent, "--context", "compacted", "--last", "1"]).stdout
    assert "not shown (before the last compaction, and --last)" in both
    last = runner.invoke(cli, ["replay", parent, "--last", "1"]).stdout
    assert "earlier messages not shown (--last)" in last
    child_out = runner.invoke(cli, ["replay", child]).stdout
    assert f"child of {parent} (tool call toolu_1)" in child_out


def test_replay_json_has_usage_totals_and_source_times(runner: CliRunner, p8j_home: Home) -> None:
    parent, _ = _home(p8j_home)
    data = json.loads(runner.invoke(cli, ["replay", parent, "--json"]).stdout)
    assert data["usage_total"]["input_tokens"] == 1007
    assert data["usage_by_model"]["opus-4"]["cache_read_tokens"] == 200
    assert data["start_time"].startswith("2026-11-01T09:00:00")
    assert data["execution_histories"][0]["call_id"] == "toolu_2"
    assert data["compacted_at"] == 4 and data["records_imported"] == 1
    # Time travel uses the source times: by 09:01:30 the first response was there, no result yet.
    early = json.loads(
        runner.invoke(cli, ["replay", parent, "--until", _at(1, 30), "--json"]).stdout
    )
    assert len(early["conversation_history"]) == 3


def test_ls_links_children_and_carries_usage(runner: CliRunner, p8j_home: Home) -> None:
    parent, child = _home(p8j_home)
    rows = {r["session_id"]: r for r in json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)}
    assert rows[child]["parent_id"] == parent and rows[child]["parent_call_id"] == "toolu_1"
    assert rows[parent]["usage"]["output_tokens"] == 53 and rows[parent]["agent"] == "claude"
    assert rows[parent]["title"] == "find the bug"  # not the injected reminder
    assert rows[parent]["start_time"] == "2026-11-01T09:00:00.000000Z"
    assert rows[parent]["duration_s"] == 240.0
    assert rows[parent]["state"] == "imported"  # nobody imports it now: not a crash
    imported = runner.invoke(cli, ["ls", "-q", "--status", "imported"]).stdout.split()
    assert sorted(imported) == sorted([parent, child])
    assert runner.invoke(cli, ["ls", "-q", "--status", "crashed"]).stdout == ""
    assert "state imported" in runner.invoke(cli, ["replay", parent]).stdout
    assert "| State | imported |" in runner.invoke(cli, ["export", parent]).stdout
    table = runner.invoke(cli, ["ls"]).stdout.splitlines()
    at = next(i for i, ln in enumerate(table) if ln.startswith(parent[:13]))
    assert table[at + 1].startswith(child[:13]) and "↳ dig" in table[at + 1]


def test_usage_command_groups_by_model_day_and_project(runner: CliRunner, p8j_home: Home) -> None:
    _home(p8j_home)
    write_session(
        p8j_home,
        [
            start("api", ts=_at(0, day=2)),
            draft(UsageRecorded, usage=Usage(10, 1), response_id="t", origin=origin(_at(1, day=2))),
            draft(UsageRecorded, usage=Usage(20, 2), response_id="t", origin=origin(_at(2, day=2))),
            draft(CommandRecorded, command="x", origin=origin(_at(3, day=2), model="gpt-5")),
            draft(UsageRecorded, usage=Usage(5, 5), origin=origin(_at(4, day=2))),
        ],
    )
    total = json.loads(runner.invoke(cli, ["usage", "--json"]).stdout)
    assert total == [
        {
            "key": "total",
            "sessions": 2,
            "input_tokens": 1032,
            "output_tokens": 60,
            "cache_read_tokens": 200,
            "cache_write_tokens": 10,
            "reasoning_tokens": 0,
        }
    ]
    by_model = json.loads(runner.invoke(cli, ["usage", "--by", "model", "--json"]).stdout)
    assert {r["key"]: r["input_tokens"] for r in by_model} == {"": 20, "gpt-5": 5, "opus-4": 1007}
    by_day = json.loads(runner.invoke(cli, ["usage", "--by", "day", "--json"]).stdout)
    assert {r["key"]: r["input_tokens"] for r in by_day} == {"2026-11-01": 1007, "2026-11-02": 25}
    since = json.loads(
        runner.invoke(
            cli, ["usage", "--by", "project", "--since", "2026-11-02T00:00Z", "--json"]
        ).stdout
    )
    assert [(r["key"], r["input_tokens"]) for r in since] == [("api", 25)]
    table = runner.invoke(cli, ["usage", "--by", "model"]).stdout
    assert "opus-4" in table and "1,007" in table and "(unknown)" in table


def test_tail_shows_source_times_and_the_new_event_types(runner: CliRunner, p8j_home: Home) -> None:
    parent, _ = _home(p8j_home)
    out = runner.invoke(cli, ["--utc", "tail", parent, "--no-follow", "-n", "20"]).stdout
    assert "09:00:02" in out and "10:00:00" not in out  # not the import's clock
    assert "--:--:-- " + parent[:13] + " shop  progress" in out  # a record without a time
    assert "compacted  auto at 123,456 tokens" in out
    assert "user (compaction summary)" in out and "progress" in out


def test_markdown_export_hides_imported_records_unless_all(
    runner: CliRunner, p8j_home: Home
) -> None:
    parent, _ = _home(p8j_home)
    md = runner.invoke(cli, ["export", parent]).stdout
    assert "· user (injected) · 09:00:01" in md and "user (compaction summary)" in md
    assert "context compacted (auto, 123,456 tokens before)" in md
    assert "exit ? · 09:02:30" not in md and "ok · exit ? · `toolu_2` · 09:02:30" in md
    assert "halfway" not in md
    full = runner.invoke(cli, ["export", parent, "--all"]).stdout
    assert "imported record `progress`" in full and '"note": "halfway"' in full
    raw = runner.invoke(cli, ["export", parent, "-f", "jsonl"]).stdout
    assert "halfway" in raw  # always in the raw export


def test_replay_shows_tool_calls_recorded_as_commands_in_order(
    runner: CliRunner, p8j_home: Home
) -> None:
    """Codex's shape: function calls are commands, their outputs executions, paired by id."""
    sid = write_session(
        p8j_home,
        [
            start("cx", source=None),
            draft(
                MessageRecorded,
                role="user",
                content="list files",
                origin=origin(_at(0, 1), git_branch=""),  # Claude's "": no git repository
            ),
            draft(
                CommandRecorded,
                command="ls -la",
                tool="shell",
                input={"command": ["ls", "-la"]},
                call_id="call_A",
                origin=origin(_at(0, 2)),
            ),
            draft(
                ExecutionRecorded,
                command="ls -la",
                output="total 0",
                exit_code=0,
                call_id="call_A",
                origin=origin(_at(0, 3)),
            ),
            _msg("assistant", "the directory is empty", _at(0, 4)),
            draft(
                ExecutionRecorded,
                command="make",
                status="error",
                stderr="no rule",
                exit_code=2,
                call_id="call_orphan",
                origin=origin(_at(0, 5)),
            ),
        ],
    )
    out = runner.invoke(cli, ["replay", sid]).stdout
    lines = out.splitlines()
    assert "· branch (none)" in out
    asked = next(i for i, ln in enumerate(lines) if "list files" in ln)
    assert "⚙ shell(ls -la)  [call_A]" in lines[asked + 1]
    assert "↳ result [call_A]: total 0" in lines[asked + 2]
    assert "the directory is empty" in lines[asked + 3]
    assert "── commands ──" not in out  # shown where they happened
    assert "error  exit 2" in out and "[call_orphan]" in out and "stderr: no rule" in out


def test_pairing_results_splits_only_block_content(monkeypatch: pytest.MonkeyPatch) -> None:
    # A text message holds no call or result: splitting every one made `p8j replay` of a
    # 10k-event session cost +12% instructions over 1fd9770 (issue 13's regression pass).
    split: list[Any] = []

    def counting(content: Any) -> list[ContentPart]:
        split.append(content)
        return content_parts(content)

    monkeypatch.setattr("p8j.cli.replay_view.content_parts", counting)
    call = [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]
    result = [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a b"}]
    session = fold(
        stamped(
            [
                draft(SessionStarted, project_name="p"),
                draft(MessageRecorded, role="user", content="list the files"),
                draft(MessageRecorded, role="assistant", content=call),
                draft(MessageRecorded, role="user", content=result),
                draft(MessageRecorded, role="assistant", content="two files"),
            ]
        )
    )
    results = pair_results(session)
    assert list(results) == ["toolu_1"] and results["toolu_1"].text == "a b"
    assert split == [call, result]
