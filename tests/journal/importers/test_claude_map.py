"""Claude Code records -> events: moved (not copied), rebuilt exactly, flagged; spilled outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from claude_helpers import (
    assistant,
    events,
    jsonl,
    read_all,
    record,
    source,
    user,
)

from p8j.journal.events import (
    ExecutionRecorded,
    MessageRecorded,
    RecordImported,
    SessionCompacted,
    SessionTitled,
    Usage,
)
from p8j.journal.importers.base import SourceFile, rebuild_record

TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}


def _only(data: bytes) -> Any:
    (event,) = events(data)
    return event


def _rebuilds(records: list[dict[str, Any]]) -> list[Any]:
    """The events of `records`, after checking each rebuilds its record exactly."""
    evs = events(jsonl(records))
    assert [rebuild_record(e) for e in evs] == records
    return evs


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


@pytest.mark.parametrize(
    "recorded",
    [
        "/Users/other/.claude/projects/-x/s1/tool-results/bx04.txt",
        "C:\\Users\\other\\.claude\\projects\\-x\\s1\\tool-results\\bx04.txt",
    ],
)
def test_a_spilled_output_is_read_from_tool_results_beside_the_source(
    tmp_path: Path, recorded: str
) -> None:
    # The recorded path is the other machine's; the file is found beside the source.
    file, rec = _spill_tree(tmp_path, recorded)
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
    assert message.injected  # the agent wrote it, not the human


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
        ("This session is being continued from a previous conversation that ran out", {}, True),
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
