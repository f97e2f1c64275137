"""The Claude Code importer: records -> events (moved, rebuilt exactly), files, sub-agent links."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import msgspec
import pytest
from claude_helpers import (
    FIXTURES,
    SESSION,
    assistant,
    events,
    jsonl,
    read_all,
    record,
    source,
    user,
)

from p8j.journal.codec import decode_line, encode_event
from p8j.journal.errors import P8jError
from p8j.journal.events import (
    ExecutionRecorded,
    MessageRecorded,
    RecordImported,
    SessionCompacted,
    SessionStarted,
    SessionTitled,
    Usage,
)
from p8j.journal.importers.base import Importer, ReadPoint, SourceFile, rebuild_record
from p8j.journal.importers.claude import IMPORTER
from p8j.journal.importers.claude_map import ClaudeState

TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}


def _only(data: bytes) -> Any:
    (event,) = events(data)
    return event


def _rebuilds(records: list[dict[str, Any]]) -> list[Any]:
    """The events of `records`, after checking each rebuilds its record exactly."""
    evs = events(jsonl(records))
    assert [rebuild_record(e) for e in evs] == records
    return evs


def test_the_importer_satisfies_the_protocol() -> None:
    assert isinstance(IMPORTER, Importer)
    assert IMPORTER.agent == "claude"
    assert IMPORTER.default_paths() == [Path.home() / ".claude" / "projects"]


def test_an_assistant_line_moves_its_content_and_normalizes_usage() -> None:
    rec = assistant(2, {"type": "thinking", "thinking": "hmm", "signature": "sig"})
    (event,) = _rebuilds([rec])
    assert isinstance(event, MessageRecorded)
    assert event.role == "assistant"
    assert event.content == [{"type": "thinking", "thinking": "hmm", "signature": "sig"}]
    assert event.response_id == "msg_1"
    assert event.model == "claude-opus-4-5-20251101"
    assert event.usage == Usage(
        input_tokens=3, output_tokens=7, cache_read_tokens=4000, cache_write_tokens=120
    )
    assert event.origin is not None
    # Moved, not copied: the content, role, id and model are no longer in the rest.
    assert set(event.origin.rest["message"]) == {
        "type",
        "stop_reason",
        "stop_sequence",
        "usage",
    }
    assert event.origin.ts == "2026-01-23T17:34:02.719000Z"
    assert (event.origin.id, event.origin.parent_id) == ("u2", "u1")
    assert (event.origin.line, event.origin.end) == (1, len(jsonl([rec])))


def test_lines_of_one_response_stay_separate_events_sharing_the_response_id() -> None:
    recs = [
        assistant(1, {"type": "text", "text": "Let me look."}),
        assistant(2, TOOL_USE),
        user(3, [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a\nb"}]),
        assistant(4, {"type": "text", "text": "Done."}, msg_id="msg_2"),
    ]
    evs = _rebuilds(recs)
    assert [getattr(e, "response_id", None) for e in evs] == ["msg_1", "msg_1", None, "msg_2"]


def test_a_lone_tool_result_becomes_an_execution_paired_by_call_id() -> None:
    result = {"stdout": "a\nb", "stderr": "warn", "interrupted": False, "isImage": False}
    block = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a\nb"}
    recs = [assistant(1, TOOL_USE), user(2, [block], toolUseResult=result)]
    _, execution = _rebuilds(recs)
    assert isinstance(execution, ExecutionRecorded)
    assert execution.call_id == "toolu_1"
    assert execution.command == "Bash"  # the tool's name, from the call before
    assert execution.output == "a\nb"
    assert execution.stderr == "warn"
    assert execution.status == "ok"
    assert execution.exit_code is None  # Claude Code records none
    assert execution.result == result
    assert execution.origin is not None
    assert "toolUseResult" not in execution.origin.rest
    assert execution.origin.rest["message"]["content"] == [{"type": "tool_result"}]


@pytest.mark.parametrize(
    ("block_extra", "result", "status"),
    [
        ({"is_error": True}, "Error: File does not exist.", "error"),
        ({}, {"stdout": "", "stderr": "", "interrupted": True}, "interrupted"),
        ({}, None, "ok"),
    ],
)
def test_an_execution_status_comes_from_is_error_and_interrupted(
    block_extra: dict[str, Any], result: Any, status: str
) -> None:
    block = {"type": "tool_result", "tool_use_id": "toolu_9", "content": "x", **block_extra}
    fields = {} if result is None else {"toolUseResult": result}
    (event,) = _rebuilds([user(1, [block], **fields)])
    assert isinstance(event, ExecutionRecorded)
    assert (event.status, event.command) == (status, "")  # no call seen: no tool name


def test_a_tool_result_with_block_content_keeps_the_blocks_and_outputs_their_text() -> None:
    content = [
        {"type": "text", "text": "part one"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
        {"type": "text", "text": "part two"},
    ]
    block = {"type": "tool_result", "tool_use_id": "toolu_1", "content": content}
    (event,) = _rebuilds([user(1, [block])])
    assert isinstance(event, ExecutionRecorded)
    assert event.output == "part one\npart two"


def test_several_tool_results_or_mixed_content_stay_a_message() -> None:
    two = [
        {"type": "tool_result", "tool_use_id": "a", "content": "1"},
        {"type": "tool_result", "tool_use_id": "b", "content": "2"},
    ]
    mixed = [
        {"type": "tool_result", "tool_use_id": "c", "content": "3"},
        {"type": "text", "text": "and"},
    ]
    evs = _rebuilds([user(1, two), user(2, mixed)])
    assert [type(e) for e in evs] == [MessageRecorded, MessageRecorded]
    assert evs[0].content == two


def _spill_tree(tmp_path: Path, recorded: str) -> tuple[SourceFile, dict[str, Any]]:
    project = tmp_path / "-home-me-app"
    (project / "s1" / "tool-results").mkdir(parents=True)
    (project / "s1" / "tool-results" / "bx04.txt").write_text("FULL " * 1000)
    preview = f"<persisted-output>\nOutput too large (5KB). Full output saved to: {recorded}\n\n"
    block = {"type": "tool_result", "tool_use_id": "toolu_1", "content": preview + "FULL FULL"}
    rec = user(2, [block], toolUseResult={"stdout": "FULL", "persistedOutputPath": recorded})
    (project / "s1.jsonl").write_bytes(jsonl([rec]))
    return source(project / "s1.jsonl"), rec


def test_a_spilled_output_is_read_from_tool_results_beside_the_source(tmp_path: Path) -> None:
    # The recorded path is the other machine's; the file is found beside the source.
    file, rec = _spill_tree(tmp_path, "/Users/other/.claude/projects/-x/s1/tool-results/bx04.txt")
    (event,) = events(Path(file.path).read_bytes(), file)
    assert isinstance(event, ExecutionRecorded)
    assert event.output == "FULL " * 1000
    assert rebuild_record(event) == rec  # the preview stays in the record


def test_a_spilled_output_path_never_leaves_the_project(tmp_path: Path) -> None:
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "tool-results").mkdir()
    outside = tmp_path / "secret" / "tool-results" / "other.txt"
    outside.write_text("SECRET")
    # The recorded path exists on this machine, but outside the source's project folder.
    file, rec = _spill_tree(tmp_path, str(outside))
    (event,) = events(Path(file.path).read_bytes(), file)
    assert isinstance(event, ExecutionRecorded)
    assert "SECRET" not in event.output
    assert event.output.startswith("<persisted-output>")  # the preview: the file is missing
    assert rebuild_record(event) == rec


def test_a_compaction_boundary_and_its_summary() -> None:
    boundary = record(
        "system",
        5,
        parentUuid=None,
        logicalParentUuid="u4",
        subtype="compact_boundary",
        content="Conversation compacted",
        isMeta=False,
        level="info",
        compactMetadata={"trigger": "auto", "preTokens": 155123},
    )
    summary = user(6, "This session is being continued...", isCompactSummary=True)
    compacted, message = _rebuilds([boundary, summary])
    assert isinstance(compacted, SessionCompacted)
    assert (compacted.trigger, compacted.tokens_before) == ("auto", 155123)
    assert compacted.origin is not None and compacted.origin.parent_id == "u4"
    assert isinstance(message, MessageRecorded) and message.compaction_summary


@pytest.mark.parametrize(
    ("kind", "key"),
    [("summary", "summary"), ("custom-title", "customTitle"), ("ai-title", "aiTitle")],
)
def test_title_records_become_session_titled(kind: str, key: str) -> None:
    rec = {"type": kind, key: "Fix the parser", "leafUuid": "u9", "sessionId": "s1"}
    (event,) = _rebuilds([rec])
    assert isinstance(event, SessionTitled)
    assert (event.title, event.source_kind) == ("Fix the parser", kind)


@pytest.mark.parametrize(
    "rec",
    [
        record("progress", data={"type": "hook_progress", "hookEvent": "SessionStart"}),
        {
            "type": "file-history-snapshot",
            "messageId": "m",
            "snapshot": {},
            "isSnapshotUpdate": False,
        },
        record("system", subtype="turn_duration", durationMs=1234),
        {
            "type": "queue-operation",
            "operation": "enqueue",
            "timestamp": "2026-01-01T00:00:00.000Z",
        },
        {"type": "summary", "summary": 42},  # a title that is not text is kept, not guessed at
        record("user", message="not an object"),
        {"type": "a-type-from-the-future", "anything": [1, {"x": None}]},
    ],
)
def test_everything_else_is_kept_verbatim(rec: dict[str, Any]) -> None:
    (event,) = _rebuilds([rec])
    assert isinstance(event, RecordImported)
    assert event.kind == rec["type"]
    assert event.record == rec
    assert event.origin is not None and event.origin.moved == {"record": []}


@pytest.mark.parametrize(
    ("content", "fields", "injected"),
    [
        ("Please fix the bug", {}, False),
        ("expanded slash command prompt", {"isMeta": True}, True),
        ("<command-name>/clear</command-name>\n<command-message>clear</command-message>", {}, True),
        ("<local-command-stdout>done</local-command-stdout>", {}, True),
        ("Caveat: The messages below were generated by the user while running", {}, True),
        ([{"type": "text", "text": "<system-reminder>be careful</system-reminder>"}], {}, True),
        ([{"type": "text", "text": "[Request interrupted by user for tool use]"}], {}, True),
        (
            [
                {"type": "text", "text": "<system-reminder>x</system-reminder>"},
                {"type": "text", "text": "hi"},
            ],
            {},
            False,
        ),
        (
            [
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": ""},
                }
            ],
            {},
            False,
        ),
    ],
)
def test_injected_text_is_flagged(content: Any, fields: dict[str, Any], injected: bool) -> None:
    (event,) = _rebuilds([user(1, content, **fields)])
    assert isinstance(event, MessageRecorded)
    assert event.injected is injected


def test_an_assistant_message_is_never_injected() -> None:
    event = _only(jsonl([assistant(1, {"type": "text", "text": "<system-reminder>"}, isMeta=True)]))
    assert isinstance(event, MessageRecorded) and not event.injected


def test_inline_sidechain_records_stay_in_the_file_session_flagged() -> None:
    recs = [user(1, "Task prompt", isSidechain=True), user(2, "main prompt")]
    mapped = read_all(jsonl(recs))
    assert [m.target for m in mapped] == [None, None]
    assert [m.event.sidechain for m in mapped if isinstance(m.event, MessageRecorded)] == [
        True,
        False,
    ]


def test_per_turn_context_is_kept_only_where_it_changes() -> None:
    recs = [
        {"type": "summary", "summary": "t", "leafUuid": "x"},
        user(1, "a"),
        assistant(2, {"type": "text", "text": "b"}),
        user(3, "c", cwd="/home/me/app/sub"),
        assistant(4, {"type": "text", "text": "d"}, cwd="/home/me/app/sub", gitBranch="feature"),
        assistant(5, {"type": "text", "text": "e"}, cwd="/home/me/app/sub", gitBranch="feature"),
    ]
    recs[5]["message"]["model"] = "claude-haiku-4-5-20251001"
    origins = [e.origin for e in _rebuilds(recs)]
    assert [(o.cwd, o.git_branch, o.model) for o in origins if o is not None] == [
        (None, None, None),
        ("/home/me/app", "main", None),
        (None, None, "claude-opus-4-5-20251101"),
        ("/home/me/app/sub", None, None),
        (None, "feature", None),
        (None, None, "claude-haiku-4-5-20251001"),
    ]


def test_a_synthetic_message_does_not_change_the_model() -> None:
    synthetic = assistant(2, {"type": "text", "text": "No response requested."})
    synthetic["message"]["model"] = "<synthetic>"
    _, second, third = _rebuilds(
        [
            assistant(1, {"type": "text", "text": "a"}),
            synthetic,
            assistant(3, {"type": "text", "text": "b"}),
        ]
    )
    assert second.model == "<synthetic>"
    assert second.origin.model is None and third.origin.model is None


@pytest.mark.parametrize(
    ("raw", "ts"),
    [
        ("2026-01-23T17:34:42.719Z", "2026-01-23T17:34:42.719000Z"),
        ("2026-01-23T19:34:42+02:00", "2026-01-23T17:34:42.000000Z"),
        ("yesterday", None),
        (1772788351499, None),
    ],
)
def test_source_times_are_normalized_to_p8j_timestamps(raw: Any, ts: str | None) -> None:
    event = _only(jsonl([user(1, "hi", timestamp=raw)]))
    assert event.origin.ts == ts


def test_bad_lines_are_skipped_with_a_reason_and_the_rest_is_read() -> None:
    good = jsonl([user(1, "hi")])
    data = (
        b"\n"
        + b"{not json\n"
        + b"[1, 2]\n"
        + b'{"no": "type"}\n'
        + good.rstrip(b"\n")
        + b"\r\n"
        + b"[" * 300
        + b"]" * 300
        + b"\n"
        + jsonl([{"type": "x", "deep": json.loads("[" * 300 + "]" * 300)}])
        + jsonl([user(2, "nul \u0000 inside")])
        + b'{"type": "user", "message": {"role": "user", "content": "torn'
    )
    mapped = read_all(data)
    assert [m.line for m in mapped] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert mapped[0].skipped == "" and mapped[0].event is None  # blank: silent
    assert mapped[1].skipped is not None and mapped[1].skipped.startswith("malformed JSON")
    assert mapped[2].skipped == "not a JSON object"
    assert mapped[3].skipped == "not a Claude Code record (no type)"
    assert isinstance(mapped[4].event, MessageRecorded)  # CRLF read as LF
    assert mapped[5].skipped is not None and mapped[6].skipped is not None  # too deep
    assert mapped[6].kind == "x"
    assert isinstance(mapped[7].event, MessageRecorded)
    assert mapped[7].event.content == "nul \u0000 inside"
    assert mapped[-1].end == data.rindex(b"\n") + 1  # the torn tail is not read


def test_a_one_megabyte_line_is_read_whole() -> None:
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "A" * (1 << 20)},
    }
    (event,) = _rebuilds([user(1, [image, {"type": "text", "text": "what is this?"}])])
    assert isinstance(event, MessageRecorded) and not event.injected


def test_every_event_survives_the_journal_codec() -> None:
    path = FIXTURES / "-src-experiments-claude_p" / f"{SESSION}.jsonl"
    for seq, event in enumerate(events(path.read_bytes())):
        event = msgspec.structs.replace(
            event,
            session_id="019aa8a4-6a1b-7c3e-8f00-123456789abc",
            seq=seq,
            ts="2026-12-03T18:00:00.000000Z",
        )
        assert decode_line(encode_event(event).rstrip(b"\n")) == event


def test_history_jsonl_is_reported_as_skipped(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text(
        '{"display": "/plan", "pastedContents": {}, "timestamp": 1772788351499}\n' * 3
    )
    (file,) = IMPORTER.discover(history)
    mapped = list(IMPORTER.read(file, history.read_bytes(), ReadPoint()))
    assert [(m.line, m.event, m.skipped) for m in mapped] == [
        (n, None, "prompt history, not a transcript") for n in (1, 2, 3)
    ]


def _copy_fixtures(tmp_path: Path) -> Path:
    tree = tmp_path / "projects"
    shutil.copytree(FIXTURES, tree)
    return tree


def test_discover_finds_sessions_then_their_linked_sub_agents(tmp_path: Path) -> None:
    tree = _copy_fixtures(tmp_path)
    nested = tree / "-src-experiments-claude_p" / SESSION / "subagents"
    (nested / "agent-a2271d1.meta.json").write_text(
        '{"agentType": "Explore", "description": "Map the code"}'
    )
    found = list(IMPORTER.discover(tree))
    by_id = {f.source.source_id: f for f in found}
    assert [f.source.source_id for f in found] == [
        "4e27c414-a885-46a0-b5c8-d58e1417377d",
        SESSION,
        "4c2ddfdc-b619-4525-8d03-1950fb1b0257",
        "a2271d1",
        "50243ee8",
    ]
    agent = by_id["a2271d1"]
    assert agent.parent_source_id == SESSION
    assert (
        agent.parent_call_id == "toolu_01SXaWzD5YZ73zGwchbcxeWi"
    )  # the parent's Task result names it
    assert agent.title == "Map the code"
    warmup = by_id["50243ee8"]
    assert (warmup.parent_source_id, warmup.parent_call_id) == (
        "4c2ddfdc-b619-4525-8d03-1950fb1b0257",
        None,
    )
    assert by_id[SESSION].source.format == "2.1.17"
    assert all(Path(f.path).is_absolute() and f.path == f.source.path for f in found)
    start = IMPORTER.start_event(agent, None)
    assert start.metadata == {
        "claude_agent": {"agentType": "Explore", "description": "Map the code"}
    }
    assert start.parent_call_id == "toolu_01SXaWzD5YZ73zGwchbcxeWi"


def test_discover_one_file_and_a_missing_path(tmp_path: Path) -> None:
    tree = _copy_fixtures(tmp_path)
    agent = tree / "-src-experiments-claude_p" / SESSION / "subagents" / "agent-a2271d1.jsonl"
    (file,) = IMPORTER.discover(agent)
    assert (file.source.source_id, file.parent_call_id) == (
        "a2271d1",
        "toolu_01SXaWzD5YZ73zGwchbcxeWi",
    )
    with pytest.raises(P8jError, match="no such file"):
        list(IMPORTER.discover(tmp_path / "absent"))


def test_start_event_takes_the_project_from_the_records_cwd(tmp_path: Path) -> None:
    tree = _copy_fixtures(tmp_path)
    path = tree / "-src-experiments-claude_p" / f"{SESSION}.jsonl"
    (file,) = IMPORTER.discover(path)
    mapped = list(IMPORTER.read(file, path.read_bytes(), ReadPoint()))
    start = IMPORTER.start_event(file, mapped[0])
    assert isinstance(start, SessionStarted)
    assert (start.project_name, start.cwd) == ("claude_p", "/src/experiments/claude_p")
    assert start.source == file.source and start.source.agent == "claude"
    # The first record (a queue-operation) has the first time.
    assert start.origin is not None and start.origin.ts == "2026-01-23T17:34:42.719000Z"


def test_a_file_without_cwd_never_takes_the_importers_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _copy_fixtures(tmp_path)
    monkeypatch.chdir(tmp_path)
    folder = tree / "-Users-dain-workspace-claude-code-log-sample"
    (file,) = IMPORTER.discover(folder)
    start = IMPORTER.start_event(file, None)
    assert start.cwd is None
    assert start.project_name == "Users-dain-workspace-claude-code-log-sample"
    assert start.project_name != tmp_path.name
    assert file.source.source_id == "4e27c414-a885-46a0-b5c8-d58e1417377d"


def test_a_project_folder_decodes_against_existing_directories(tmp_path: Path) -> None:
    from p8j.journal.importers.claude_files import project_from_folder

    (tmp_path / "my-app").mkdir()
    encoded = str(tmp_path / "my-app").replace(os.sep, "-")
    assert project_from_folder(encoded) == "my-app"


def test_resume_state_reaches_the_state_the_read_ended_with() -> None:
    path = FIXTURES / "-src-experiments-claude_p" / f"{SESSION}.jsonl"
    state = ClaudeState()
    read_all(path.read_bytes(), state=state)
    resumed = IMPORTER.resume_state(events(path.read_bytes()))
    assert resumed == state
    assert state.cwd == "/src/experiments/claude_p" and state.model is not None


def test_native_rebuilds_the_source_records_without_the_start() -> None:
    path = FIXTURES / "-tmp-private" / "4c2ddfdc-b619-4525-8d03-1950fb1b0257.jsonl"
    data = path.read_bytes()
    evs = events(data)
    file = source(path)
    start = IMPORTER.start_event(file, None)
    assert list(IMPORTER.native([start, *evs])) == [json.loads(ln) for ln in data.splitlines()]
