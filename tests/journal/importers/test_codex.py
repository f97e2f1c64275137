"""The Codex CLI importer on hand-made rollouts and the two fixtures in tests/fixtures/codex."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from p8j.journal.events import (
    CommandRecorded,
    ExecutionRecorded,
    MessageRecorded,
    RecordImported,
    SessionCompacted,
    SessionStarted,
    SessionTitled,
    Usage,
    UsageRecorded,
)
from p8j.journal.importers.base import Mapped, ReadPoint, SourceFile, rebuild_record
from p8j.journal.importers.codex import HISTORY, IMPORTER, NOT_CODEX, ZSTD_MISSING, read_source
from p8j.journal.importers.codex_map import CodexState
from p8j.journal.importers.codex_tools import command_line, output_facts

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "codex"
ROLLOUT = FIXTURES / "rollout-2026-01-22T10-15-23-019be37c-2706-70c0-8e0e-51985de49079.jsonl"
SPAWN = FIXTURES / "turn-spawn-skill.jsonl"
TS = "2026-05-12T10:00:00.000Z"
META: dict[str, Any] = {
    "timestamp": TS,
    "type": "session_meta",
    "payload": {
        "id": "019e0000-0000-7000-8000-000000000001",
        "timestamp": "2026-05-12T09:59:55.5Z",
        "cwd": "/home/ann/proj",
        "cli_version": "0.129.0",
        "git": {"branch": "main"},
    },
}


def item(payload: dict[str, Any], top: str = "response_item", ts: str = TS) -> dict[str, Any]:
    """A modern rollout record."""
    return {"timestamp": ts, "type": top, "payload": payload}


def jsonl(*records: Any) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def source(path: str = "/nowhere/rollout.jsonl") -> SourceFile:
    from p8j.journal.events import SourceInfo

    return SourceFile(path=path, source=SourceInfo(agent="codex", source_id="s", path=path))


def read_all(data: bytes, state: Any = None, start: ReadPoint | None = None) -> list[Mapped]:
    return list(IMPORTER.read(source(), data, start or ReadPoint(), state))


def events_of(data: bytes) -> list[Any]:
    return [m.event for m in read_all(data) if m.event is not None]


def one(record: dict[str, Any], state: CodexState | None = None) -> Any:
    """The event of one record, checked to rebuild it."""
    (mapped,) = read_all(jsonl(record), state)
    assert mapped.event is not None, mapped
    assert rebuild_record(mapped.event) == record
    return mapped.event


# --- the fixtures: every line accounted for, every record rebuilt ------------------------


@pytest.mark.parametrize("path", [ROLLOUT, SPAWN], ids=lambda p: p.name[:24])
def test_fixture_lines_are_events_and_rebuild_exactly(path: Path) -> None:
    data = path.read_bytes()
    lines = data.split(b"\n")[:-1]
    mapped = read_all(data)
    assert [m.line for m in mapped] == list(range(1, len(lines) + 1))
    assert mapped[-1].end == len(data)
    for m, raw in zip(mapped, lines, strict=True):
        assert m.event is not None and m.skipped is None
        assert rebuild_record(m.event) == json.loads(raw)
    events: list[Any] = [m.event for m in mapped]
    assert list(IMPORTER.native(events)) == [json.loads(x) for x in lines]


def test_fixture_maps_the_conversation() -> None:
    events = events_of(ROLLOUT.read_bytes())
    messages = [e for e in events if isinstance(e, MessageRecorded)]
    human = [m for m in messages if m.role == "user" and not m.injected]
    assert [m.content[0]["text"][:20] for m in human] == ["base on @kb and offi"]
    assert [m.role for m in messages if m.injected] == ["user", "user"]  # AGENTS.md, env context
    (call,) = [e for e in events if isinstance(e, CommandRecorded)]
    assert (call.tool, call.command, call.cwd) == (
        "shell_command",
        "ls",
        "/Users/mock_user/docker/codeserver2/project/antigravity_tmp/log-query-validator",
    )
    (result,) = [e for e in events if isinstance(e, ExecutionRecorded)]
    assert (result.call_id, result.command, result.exit_code, result.duration_s) == (
        call.call_id,
        "ls",
        0,
        0.1,
    )
    assert "AGENTS.md" in result.output


# --- record by record -------------------------------------------------------------------


def test_session_meta_is_kept_verbatim_and_sets_the_first_context() -> None:
    event = one(META)
    assert isinstance(event, RecordImported) and event.kind == "session_meta"
    assert event.origin is not None
    assert event.record == META and event.origin.moved == {"record": []}
    assert (event.origin.cwd, event.origin.git_branch) == ("/home/ann/proj", "main")
    assert event.origin.ts == "2026-05-12T10:00:00.000000Z"
    assert event.origin.line == 1 and event.origin.end == len(jsonl(META))


def test_messages_move_role_and_content_and_flag_injected_text() -> None:
    human = item(
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix it"}]}
    )
    agents = item(
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "# AGENTS.md instructions for /x\n<INSTRUCTIONS>"},
                {"type": "input_text", "text": "<environment_context>\n  <cwd>/srv/app</cwd>\n"},
            ],
        }
    )
    developer = item(
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "x"}]}
    )
    answer = item(
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_1",
            "phase": "final_answer",
            "content": [],
        }
    )
    events = events_of(jsonl(human, agents, developer, answer))
    assert [(e.role, e.injected) for e in events] == [
        ("user", False),
        ("user", True),
        ("developer", True),
        ("assistant", False),
    ]
    assert events[0].content == human["payload"]["content"]
    assert events[0].origin.rest == {
        "timestamp": TS,
        "type": "response_item",
        "payload": {"type": "message"},
    }
    assert events[1].origin.cwd == "/srv/app"  # the environment context states the cwd
    assert (
        events[3].origin.id == "msg_1"
        and events[3].origin.rest["payload"]["phase"] == "final_answer"
    )


def test_reasoning_is_an_assistant_message_holding_the_whole_item() -> None:
    payload = {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "**Planning**"}],
        "content": None,
        "encrypted_content": "gAAAA",
    }
    event = one(item(payload))
    assert isinstance(event, MessageRecorded) and event.origin is not None
    assert (event.role, event.content) == ("assistant", payload)
    assert event.origin.moved == {"content": ["payload"]}


def test_function_calls_parse_arguments_and_show_the_command() -> None:
    args = {"cmd": "pytest -x", "workdir": "/srv/app"}
    call = one(
        item(
            {
                "type": "function_call",
                "name": "exec_command",
                "arguments": json.dumps(args),
                "call_id": "c1",
            }
        )
    )
    assert isinstance(call, CommandRecorded)
    assert (call.call_id, call.tool, call.input, call.command, call.cwd) == (
        "c1",
        "exec_command",
        args,
        "pytest -x",
        "/srv/app",
    )
    assert call.origin is not None and call.origin.moved == {
        "call_id": ["payload", "call_id"],
        "tool": ["payload", "name"],
    }
    raw = one(
        item({"type": "function_call", "name": "odd", "arguments": "not json", "call_id": "c2"})
    )
    assert raw.input == "not json" and raw.origin.moved["input"] == ["payload", "arguments"]


def test_command_lines() -> None:
    assert command_line("shell", {"command": ["bash", "-lc", "ls -la | head"]}) == "ls -la | head"
    assert (
        command_line("shell", {"command": ["git", "commit", "-m", "a b"]}) == "git commit -m 'a b'"
    )
    assert command_line("shell_command", {"command": "ls"}) == "ls"
    patch = "*** Begin Patch\n*** Update File: a.py\n@@\n*** Add File: b.py\n*** End Patch"
    assert command_line("apply_patch", patch) == "apply_patch a.py b.py"
    assert (
        command_line("web_search", {"type": "search", "query": "msgspec"}) == "web_search msgspec"
    )
    assert command_line("write_stdin", {"session_id": 7, "chars": ""}) == "write_stdin 7"
    assert command_line("update_plan", {}) == "update_plan"
    long = command_line("mcp__x__y", {"text": "a\nb " * 200})
    assert "\n" not in long and len(long) == 200 and long.endswith("…")


def test_other_calls_custom_local_shell_and_web_search() -> None:
    patch = "*** Begin Patch\n*** Update File: src/a.ts\n*** End Patch"
    custom = one(
        item(
            {
                "type": "custom_tool_call",
                "status": "completed",
                "call_id": "p1",
                "name": "apply_patch",
                "input": patch,
            }
        )
    )
    assert (custom.tool, custom.input, custom.command) == (
        "apply_patch",
        patch,
        "apply_patch src/a.ts",
    )
    action = {"type": "exec", "command": ["ls", "-l"], "working_directory": "/tmp"}
    shell = one(
        item({"type": "local_shell_call", "call_id": "l1", "status": "completed", "action": action})
    )
    assert (shell.tool, shell.input, shell.command, shell.cwd) == (
        "local_shell",
        action,
        "ls -l",
        "/tmp",
    )
    search = one(
        item(
            {
                "type": "web_search_call",
                "status": "completed",
                "action": {"type": "search", "query": "q"},
            }
        )
    )
    assert (search.tool, search.command, search.call_id) == ("web_search", "web_search q", None)


def test_outputs_pair_with_their_call_and_read_exit_code_and_duration() -> None:
    call = item(
        {
            "type": "function_call",
            "name": "shell",
            "arguments": '{"command":["bash","-lc","make"]}',
            "call_id": "c1",
        }
    )
    meta = json.dumps({"output": "built\n", "metadata": {"exit_code": 2, "duration_seconds": 1.5}})
    out = item({"type": "function_call_output", "call_id": "c1", "output": meta})
    events = events_of(jsonl(call, out))
    result = events[1]
    assert isinstance(result, ExecutionRecorded)
    assert (result.command, result.exit_code, result.duration_s, result.output) == (
        "make",
        2,
        1.5,
        meta,
    )
    assert result.origin is not None
    assert result.origin.moved == {
        "call_id": ["payload", "call_id"],
        "output": ["payload", "output"],
    }
    unpaired = one(item({"type": "function_call_output", "call_id": "zz", "output": "ok"}))
    assert (unpaired.command, unpaired.exit_code, unpaired.status) == ("", None, None)
    blocks = [{"type": "input_text", "text": "hi"}]
    structured = one(item({"type": "custom_tool_call_output", "call_id": "m", "output": blocks}))
    assert (structured.result, structured.output) == (blocks, "")


def test_output_facts() -> None:
    exited = "Chunk ID: a\nWall time: 0.0321 seconds\nProcess exited with code 1\n"
    exited += "Output:\nExit code: 5\n"
    assert output_facts(exited) == {"exit_code": 1, "duration_s": 0.0321}
    running = "Chunk ID: a\nWall time: 1.0 seconds\nProcess running with session ID 9\nOutput:\n"
    assert output_facts(running) == {"status": "running", "duration_s": 1.0}
    assert output_facts("Exit code: 0\nWall time: 0.1 seconds\nOutput:\nx") == {
        "exit_code": 0,
        "duration_s": 0.1,
    }
    assert output_facts('{"output":"x","metadata":{"exit_code":true,"duration_seconds":-1}}') == {}
    assert output_facts("plain text") == {}
    assert output_facts("{not json") == {}


def _token_count(total: int, last: int) -> dict[str, Any]:
    def usage(n: int) -> dict[str, int]:
        return {
            "input_tokens": n,
            "cached_input_tokens": n // 2,
            "output_tokens": 10,
            "reasoning_output_tokens": 4,
            "total_tokens": n + 10,
        }

    info = {
        "total_token_usage": usage(total),
        "last_token_usage": usage(last),
        "model_context_window": 9,
    }
    return item({"type": "token_count", "info": info, "rate_limits": None}, top="event_msg")


def test_token_counts_become_usage_keyed_by_their_cumulative_total() -> None:
    turn = item({"turn_id": "t", "cwd": "/x", "model": "gpt-5.5"}, top="turn_context")
    null = item({"type": "token_count", "info": None, "rate_limits": {}}, top="event_msg")
    events = events_of(
        jsonl(turn, null, _token_count(100, 100), _token_count(100, 100), _token_count(150, 50))
    )
    assert isinstance(events[1], RecordImported) and events[1].kind == "event_msg/token_count"
    usages = events[2:]
    assert all(isinstance(e, UsageRecorded) and e.model == "gpt-5.5" for e in usages)
    assert usages[0].usage == Usage(
        input_tokens=50, output_tokens=10, cache_read_tokens=50, reasoning_tokens=4
    )
    assert usages[0].response_id == usages[1].response_id != usages[2].response_id
    assert usages[0].origin.moved == {} and rebuild_record(usages[0]) == _token_count(100, 100)


def test_titles_compaction_turn_context_and_unknown_records() -> None:
    title = one(
        item(
            {"type": "thread_name_updated", "thread_id": "t", "thread_name": "Fix CI"},
            top="event_msg",
        )
    )
    assert isinstance(title, SessionTitled) and (title.title, title.source_kind) == (
        "Fix CI",
        "thread_name_updated",
    )
    history = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    ]
    compacted = one(
        item({"message": "Summary: did X", "replacement_history": history}, top="compacted")
    )
    assert isinstance(compacted, SessionCompacted)
    assert (compacted.summary, compacted.replacement) == ("Summary: did X", history)
    state = CodexState(cwd="/x", model="gpt-5.4")
    same = one(item({"turn_id": "t", "cwd": "/x", "model": "gpt-5.4"}, top="turn_context"), state)
    assert (same.kind, same.origin.cwd, same.origin.model) == ("turn_context", None, None)
    switched = one(
        item({"turn_id": "t", "cwd": "/y", "model": "gpt-5.5"}, top="turn_context"), state
    )
    assert (switched.origin.cwd, switched.origin.model) == ("/y", "gpt-5.5")
    for record, kind in [
        (
            item({"type": "agent_message", "message": "dup"}, top="event_msg"),
            "event_msg/agent_message",
        ),
        (
            item({"type": "turn_aborted", "reason": "interrupted"}, top="event_msg"),
            "event_msg/turn_aborted",
        ),
        (item({"type": "ghost_snapshot", "ghost_commit": {}}), "response_item/ghost_snapshot"),
        (item({"x": 1}, top="world_state"), "world_state"),
        ({"type": "future", "ordinal": 3}, "future"),
        ({"what": "ever"}, "unknown"),
    ]:
        event = one(record)
        assert isinstance(event, RecordImported) and event.kind == kind and event.record == record


def test_legacy_rollout_bare_items_crlf_and_nul() -> None:
    header = {
        "id": "5973b6c0-94b8-487b-a530-2aeb6098ae0e",
        "timestamp": "2025-08-01T10:00:00.123Z",
        "instructions": "",
        "git": {"branch": "dev"},
    }
    env = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "<environment_context>\n<cwd>/w</cwd>"}],
    }
    prompt = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "a\u0000b"}],
    }
    think = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gA"}
    call = {
        "type": "function_call",
        "name": "shell",
        "arguments": '{"command":["ls"]}',
        "call_id": "c",
    }
    data = b"".join(
        json.dumps(r).encode() + b"\r\n"
        for r in [header, env, {"record_type": "state"}, prompt, think, call]
    )
    mapped = read_all(data)
    assert [m.kind for m in mapped] == [
        "session_meta",
        "message",
        "state",
        "message",
        "reasoning",
        "function_call",
    ]
    events: list[Any] = [m.event for m in mapped]
    assert [rebuild_record(e) for e in events] == [
        header,
        env,
        {"record_type": "state"},
        prompt,
        think,
        call,
    ]
    assert events[0].origin.git_branch == "dev" and events[1].origin.cwd == "/w"
    assert events[3].origin.ts is None and events[3].content[0]["text"] == "a\u0000b"
    assert events[4].content == think and events[4].origin.moved == {"content": []}
    assert events[5].command == "ls"
    start = IMPORTER.start_event(source(), mapped[0])
    assert start.origin is not None and start.origin.ts == "2025-08-01T10:00:00.123000Z"


def test_bad_lines_are_reported_blank_lines_skipped_silently_tail_never_read() -> None:
    deep = "[" * 300 + "]" * 300
    data = (
        jsonl(META)
        + b"\n   \n{oops\n[1, 2]\n"
        + f'{{"type": "x", "v": {deep}}}\n'.encode()
        + b'{"type": "event_msg"'
    )
    mapped = read_all(data)
    assert [m.line for m in mapped] == [1, 2, 3, 4, 5, 6]
    assert [m.skipped for m in mapped[1:3]] == ["", ""]
    assert mapped[3].skipped is not None and mapped[3].skipped.startswith("malformed JSON")
    assert mapped[4].skipped == "not a JSON object: list"
    assert mapped[5].skipped is not None and "nested deeper" in mapped[5].skipped
    assert mapped[-1].end == data.rindex(b"\n") + 1  # the torn last record is left for later
    (text,) = read_all(b"hello, not json\n")  # said once, not "malformed JSON: JSON is malformed"
    assert text.skipped == "malformed JSON: invalid character (byte 0)"


# --- state, resume, native ---------------------------------------------------------------


def test_resume_state_from_events_continues_exactly_like_one_read() -> None:
    data = ROLLOUT.read_bytes() + SPAWN.read_bytes()
    full = read_all(data)
    for cut in range(len(full) + 1):
        before: list[Any] = [m.event for m in full[:cut] if m.event is not None]
        point = ReadPoint(full[cut - 1].end, cut) if cut else ReadPoint()
        rest = read_all(data, IMPORTER.resume_state(before), point)
        assert rest == full[cut:]


def test_read_updates_the_state_it_is_given() -> None:
    state = IMPORTER.resume_state([])
    list(IMPORTER.read(source(), SPAWN.read_bytes(), ReadPoint(), state))
    assert (state.cwd, state.model, state.git_branch) == ("/home/user/project", "gpt-5.4", "main")
    assert set(state.calls) == {"call_spawn1", "call_wait1"}  # calls without an output yet


def test_native_skips_events_that_came_from_no_line() -> None:
    mapped = read_all(SPAWN.read_bytes())
    start = IMPORTER.start_event(source(str(SPAWN)), mapped[0])
    events: list[Any] = [start, *(m.event for m in mapped if m.event)]
    assert list(IMPORTER.native(events)) == [json.loads(x) for x in SPAWN.read_bytes().splitlines()]


# --- start_event ---------------------------------------------------------------------------


def test_start_event_takes_project_cwd_time_and_source_from_session_meta() -> None:
    file = source()
    start = IMPORTER.start_event(file, read_all(jsonl(META))[0])
    assert isinstance(start, SessionStarted)
    assert (start.project_name, start.cwd, start.source) == ("proj", "/home/ann/proj", file.source)
    assert start.origin is not None and start.origin.ts == "2026-05-12T09:59:55.500000Z"


def test_start_event_without_a_cwd_reads_the_environment_context_never_its_own(
    tmp_path: Path,
) -> None:
    meta = item({"id": "s", "timestamp": TS, "cli_version": "0.115.0"}, top="session_meta")
    env = item(
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "<environment_context><cwd>/w/lab</cwd>"}],
        }
    )
    path = tmp_path / "rollout.jsonl"
    path.write_bytes(jsonl(meta, env))
    (file,) = IMPORTER.discover(path)
    first = read_all(path.read_bytes())[0]
    start = IMPORTER.start_event(file, first)
    assert (start.project_name, start.cwd) == ("lab", "/w/lab")
    path.write_bytes(jsonl(meta))  # no cwd anywhere: unknown, not the importer's
    start = IMPORTER.start_event(file, first)
    assert (start.project_name, start.cwd) == ("codex", None)
    assert os.getcwd() != start.cwd
    gone = IMPORTER.start_event(source(str(tmp_path / "missing.jsonl")), None)
    assert (gone.project_name, gone.cwd, gone.origin.ts if gone.origin else 0) == (
        "codex",
        None,
        None,
    )


# --- discover ------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, Path]:
    day = root / "sessions" / "2026" / "05" / "12"
    day.mkdir(parents=True)
    parent_id = "019e0000-0000-7000-8000-00000000000a"
    child_id = "019e0000-0000-7000-8000-00000000000b"
    fork_id = "019e0000-0000-7000-8000-00000000000c"
    spawn = item(
        {"type": "collab_agent_spawn_end", "call_id": "call_9", "new_thread_id": child_id},
        top="event_msg",
    )
    files = {
        # Named so that path order puts the children first: discover must reorder.
        "child": day / f"rollout-2026-05-12T10-00-00-{child_id}.jsonl",
        "fork": day / f"rollout-2026-05-12T10-00-01-{fork_id}.jsonl.zst",
        "parent": day / f"rollout-2026-05-12T10-00-02-{parent_id}.jsonl",
        "archived": root
        / "archived_sessions"
        / "rollout-2026-01-01T00-00-00-019e0000-0000-7000-8000-00000000000d.jsonl",
        "history": root / "history.jsonl",
        "claude": root / "sessions" / "other.jsonl",
        "bare": day / "rollout-2026-05-12T11-00-00-019e0000-0000-7000-8000-00000000000e.jsonl",
    }
    files["archived"].parent.mkdir()
    sub = {"subagent": {"thread_spawn": {"parent_thread_id": parent_id, "depth": 1}}}
    files["child"].write_bytes(jsonl(item({"id": child_id, "source": sub}, top="session_meta")))
    zstandard = pytest.importorskip("zstandard")
    fork = jsonl(
        item(
            {"id": fork_id, "forked_from_id": parent_id, "cli_version": "0.130.0"},
            top="session_meta",
        )
    )
    files["fork"].write_bytes(zstandard.ZstdCompressor().compress(fork))
    files["parent"].write_bytes(jsonl(item({"id": parent_id}, top="session_meta"), spawn))
    files["archived"].write_bytes(jsonl(META))
    files["history"].write_bytes(b'{"session_id": "x", "ts": 1, "text": "hi"}\n')
    files["claude"].write_bytes(b'{"type": "user", "uuid": "u"}\n')
    files["bare"].write_bytes(b"")
    return files


def test_discover_a_codex_home(tmp_path: Path) -> None:
    files = _tree(tmp_path)
    found = list(IMPORTER.discover(tmp_path))
    by_path = {Path(f.path): f for f in found}
    assert set(by_path) == {p.absolute() for p in files.values()}
    assert by_path[files["history"]].skipped == HISTORY
    assert by_path[files["claude"]].skipped == NOT_CODEX
    order = [Path(f.path) for f in found]
    assert order.index(files["parent"]) < order.index(files["child"])
    assert order.index(files["parent"]) < order.index(files["fork"])
    child, fork = by_path[files["child"]], by_path[files["fork"]]
    assert (child.parent_source_id, child.parent_call_id) == (
        by_path[files["parent"]].source.source_id,
        "call_9",
    )
    assert (fork.parent_source_id, fork.parent_call_id, fork.compressed) == (
        child.parent_source_id,
        None,
        "zstd",
    )
    assert fork.source.format == "0.130.0" and fork.source.agent == "codex"
    assert by_path[files["archived"]].source.source_id == META["payload"]["id"]
    assert (
        by_path[files["bare"]].source.source_id == "019e0000-0000-7000-8000-00000000000e"
    )  # from the name
    assert read_source(fork).startswith(b'{"timestamp"')
    first = next(IMPORTER.read(child, read_source(child), ReadPoint()))
    assert IMPORTER.start_event(child, first).parent_call_id == "call_9"


def test_discover_one_file_and_the_default_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (file,) = IMPORTER.discover(SPAWN)
    assert (file.source.source_id, file.path, file.skipped) == ("spawn-test-uuid", str(SPAWN), None)
    monkeypatch.setenv("CODEX_HOME", str(tmp_path))
    assert IMPORTER.default_paths() == [tmp_path / "sessions", tmp_path / "archived_sessions"]
    assert IMPORTER.agent == "codex"


def test_a_zstd_rollout_without_zstandard_is_reported_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rollout-2026-05-12T10-00-00-019e0000-0000-7000-8000-00000000000f.jsonl.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd")
    monkeypatch.setitem(sys.modules, "zstandard", None)  # import zstandard now fails
    (file,) = IMPORTER.discover(path)
    assert file.skipped == ZSTD_MISSING and "install p8j[zstd]" in file.skipped
    assert file.compressed == "zstd" and file.source.source_id.endswith("00000000000f")


def test_an_unreadable_zstd_file_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("zstandard")
    from p8j.journal.errors import JournalIOError

    path = tmp_path / "rollout-x.jsonl.zst"
    path.write_bytes(b"not zstd at all")
    with pytest.raises(JournalIOError, match="cannot decompress") as info:
        list(IMPORTER.discover(path))
    assert info.value.path == str(path.absolute())


def test_events_encode_and_decode_as_journal_events() -> None:
    """Drafts survive the codec: right field types (no bools as exit codes...)."""
    from p8j.journal.codec import decode_line, encode_event

    weird = item(
        {
            "type": "function_call_output",
            "call_id": "c",
            "output": '{"metadata":{"exit_code":true}}',
        }
    )
    for event in [*events_of(ROLLOUT.read_bytes() + SPAWN.read_bytes()), one(weird)]:
        filled = msgspec.structs.replace(
            event,
            session_id="019e0000-0000-7000-8000-000000000001",
            seq=1,
            ts="2026-12-03T18:00:00.000000Z",
        )
        assert decode_line(encode_event(filled)[:-1]) == filled


def test_a_file_that_cannot_be_read_is_reported_in_a_tree_and_an_error_alone(
    tmp_path: Path,
) -> None:
    from p8j.journal.errors import JournalIOError

    good = tmp_path / "rollout-2026-05-12T10-00-00-019e0000-0000-7000-8000-000000000001.jsonl"
    good.write_bytes(jsonl(META))
    dangling = tmp_path / "rollout-2026-05-12T10-00-01-019e0000-0000-7000-8000-000000000002.jsonl"
    dangling.symlink_to(tmp_path / "gone.jsonl")  # listed by the walk, but cannot be opened
    found = {Path(f.path).name: f for f in IMPORTER.discover(tmp_path)}
    assert found[good.name].skipped is None
    skipped = found[dangling.name].skipped
    assert skipped is not None and skipped.startswith("cannot read rollout")
    with pytest.raises(JournalIOError, match="cannot read rollout"):
        list(IMPORTER.discover(dangling))


def test_a_prompt_only_a_user_message_event_holds_is_a_message_an_echo_is_not() -> None:
    said = item(
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix it"}]}
    )
    echo = item({"type": "user_message", "message": "fix it\n", "images": []}, top="event_msg")
    alone = item({"type": "user_message", "message": "run a review", "images": []}, top="event_msg")
    events = events_of(jsonl(said, echo, alone, echo))
    assert [type(e).__name__ for e in events] == [
        "MessageRecorded",
        "RecordImported",
        "MessageRecorded",
        "MessageRecorded",  # "fix it" again, with no history message before it: a prompt
    ]
    assert (events[2].role, events[2].content, events[2].injected) == (
        "user",
        "run a review",
        False,
    )
    assert events[2].origin.moved == {"content": ["payload", "message"]}
    assert rebuild_record(events[2]) == alone


def test_the_importer_satisfies_the_protocol() -> None:
    from p8j.journal.importers.base import Importer

    importer: Importer = IMPORTER  # mypy checks the signatures, isinstance the members
    assert isinstance(importer, Importer)


def test_reading_a_zstd_rollout_without_zstandard_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from p8j.journal.errors import JournalIOError

    path = tmp_path / "rollout-x.jsonl.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd")
    file = SourceFile(path=str(path), source=source().source, compressed="zstd")
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(JournalIOError, match=r"install p8j\[zstd\]"):
        read_source(file)


def test_discover_reads_a_rollout_only_up_to_its_first_record(tmp_path: Path) -> None:
    from p8j.journal.importers import codex

    path = tmp_path / "rollout-big.jsonl"
    path.write_bytes(b"\n\n" + jsonl(META) + jsonl(*[item({"type": "x", "pad": "." * 999})] * 3000))
    read: list[int] = []
    chunks = codex._chunks

    def counting(file: SourceFile) -> Any:
        for chunk in chunks(file):
            read.append(len(chunk))
            yield chunk

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(codex, "_chunks", counting)
        (file,) = IMPORTER.discover(path)
    assert file.source.source_id == META["payload"]["id"]
    assert sum(read) <= 1 << 16 < path.stat().st_size  # one chunk, not the 3 MB
