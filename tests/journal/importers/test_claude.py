"""The Claude Code importer: reading lines (bad input too), discovery and links, resume, native."""

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
    source,
    user,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p8j.journal.codec import decode_line, encode_event
from p8j.journal.errors import P8jError
from p8j.journal.events import MessageRecorded, SessionStarted
from p8j.journal.importers.base import Importer, Mapped, ReadPoint, event_origin, rebuild_record
from p8j.journal.importers.claude import IMPORTER
from p8j.journal.importers.claude_map import ClaudeState

ENVELOPE = {
    "session_id": "019aa8a4-6a1b-7c3e-8f00-123456789abc",
    "ts": "2026-12-03T18:00:00.000000Z",
}

# Text msgspec can encode (no lone surrogates), with the odd characters logs hold.
texts = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "\u0000", "\x00", "<system-reminder>x", "2026-01-23T17:34:42.719Z", "toolu_1", "\r"]
)
values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
blocks = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "thinking", "tool_use", "tool_result", "image", "x"])},
    optional={
        "text": values,
        "id": st.sampled_from(["toolu_1", "toolu_2"]) | values,
        "name": values,
        "input": values,
        "tool_use_id": st.sampled_from(["toolu_1", "toolu_2", "toolu_2"]) | values,
        "content": values
        | st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": texts})),
        "is_error": values,
    },
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "role": st.sampled_from(["user", "assistant"]) | values,
        "content": values | st.lists(blocks, max_size=2),
        "id": values,
        "model": st.sampled_from(["claude-opus-4-6", "<synthetic>"]) | values,
        "usage": st.dictionaries(
            st.sampled_from(["input_tokens", "output_tokens", "cache_read_input_tokens"]), values
        ),
    },
)
envelope = {
    "toolUseResult": values
    | st.fixed_dictionaries(
        {}, optional={"stderr": values, "interrupted": values, "persistedOutputPath": values}
    ),
    "subtype": st.just("compact_boundary") | values,
    "compactMetadata": st.fixed_dictionaries({}, optional={"trigger": values, "preTokens": values}),
    "summary": values,
    "customTitle": values,
    "uuid": values,
    "parentUuid": values,
    "logicalParentUuid": values,
    "timestamp": st.sampled_from(["2026-01-23T17:34:42.719Z"]) | values,
    "cwd": st.sampled_from(["/a", "/b"]) | values,
    "gitBranch": values,
    "isMeta": values,
    "isSidechain": values,
    "isCompactSummary": values,
    "extra": values,
}
kinds = st.sampled_from(["system", "summary", "custom-title", "ai-title", "progress"]) | texts
result_block = st.fixed_dictionaries(
    {"type": st.just("tool_result"), "tool_use_id": st.sampled_from(["toolu_1", "toolu_2"])},
    optional={"content": values | st.lists(blocks, max_size=2), "is_error": values},
)
results = st.fixed_dictionaries(
    {"role": st.just("user"), "content": st.lists(result_block | blocks, min_size=1, max_size=1)}
)
records = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["user", "assistant"]), "message": messages}, optional=envelope
    ),
    st.fixed_dictionaries({"type": st.just("user"), "message": results}, optional=envelope),
    st.fixed_dictionaries({"type": kinds}, optional={"message": values, **envelope}),
)
# Lines as a file may hold them: records, CRLF endings, blanks, garbage.
lines = st.lists(
    st.one_of(
        records.map(lambda r: msgspec.json.encode(r) + b"\n"),
        records.map(lambda r: msgspec.json.encode(r) + b"\r\n"),
        st.sampled_from([b"\n", b"  \n", b"{\n", b"[]\n", b'"x"\n', b'{"type": 1}\n']),
    ),
    max_size=8,
)


def _accounted(data: bytes, mapped: list[Mapped], start: int = 0) -> None:
    """One Mapped per whole line from `start`, numbered and ended right; none for a torn tail."""
    ends = [i + 1 for i, byte in enumerate(data) if byte == 0x0A and i >= start]
    assert [m.end for m in mapped] == ends
    first = data[:start].count(b"\n")
    assert [m.line for m in mapped] == list(range(first + 1, first + 1 + len(ends)))
    for m in mapped:
        assert (m.event is None) != (m.skipped is None)  # an event, or a reason ("" if blank)


def test_the_importer_satisfies_the_protocol() -> None:
    assert isinstance(IMPORTER, Importer)
    assert IMPORTER.agent == "claude"


def test_default_paths_are_the_places_claude_code_keeps_projects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    assert IMPORTER.default_paths() == [tmp_path / ".claude" / "projects"]  # none exists yet
    (tmp_path / ".config" / "claude" / "projects").mkdir(parents=True)
    assert IMPORTER.default_paths() == [tmp_path / ".config" / "claude" / "projects"]
    (tmp_path / ".claude" / "projects").mkdir(parents=True)
    (tmp_path / "custom" / "projects").mkdir(parents=True)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "custom"))
    assert IMPORTER.default_paths() == [
        tmp_path / "custom" / "projects",
        tmp_path / ".claude" / "projects",
        tmp_path / ".config" / "claude" / "projects",
    ]


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
    rec = user(1, [image, {"type": "text", "text": "what is this?"}])
    (event,) = events(jsonl([rec]))
    assert isinstance(event, MessageRecorded) and not event.injected
    assert rebuild_record(event) == rec


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
    # Skipped as a whole, said once (a real one has thousands of lines: one report each).
    assert file.skipped == "Claude Code prompt history (history.jsonl), not a session transcript"
    mapped = list(IMPORTER.read(file, history.read_bytes(), ReadPoint()))
    assert [(m.line, m.event, m.skipped) for m in mapped] == [
        (n, None, "prompt history, not a transcript") for n in (1, 2, 3)
    ]


CODEX_ROLLOUT = (
    FIXTURES.parents[1]
    / "codex"
    / "rollout-2026-01-22T10-15-23-019be37c-2706-70c0-8e0e-51985de49079.jsonl"
)


def test_a_codex_rollout_is_skipped_as_a_whole_not_imported(tmp_path: Path) -> None:
    # `p8j import claude ~/.codex/sessions` (the wrong agent) made one empty session of
    # raw records per rollout; the file is refused once, as the codex importer refuses ours.
    tree = tmp_path / "sessions" / "2026" / "01" / "22"
    tree.mkdir(parents=True)
    shutil.copy(CODEX_ROLLOUT, tree / CODEX_ROLLOUT.name)
    (file,) = IMPORTER.discover(tmp_path / "sessions")
    assert file.skipped == "not a Claude Code transcript (its first record is a Codex one)"
    (one,) = IMPORTER.discover(tree / CODEX_ROLLOUT.name)
    assert one.skipped == file.skipped


def test_a_malformed_line_says_so_once() -> None:
    (m,) = read_all(b"hello, not json\n")
    assert m.skipped is not None and m.skipped.startswith("malformed JSON: invalid character")


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


def test_a_file_of_snapshots_only_starts_at_its_first_snapshot(tmp_path: Path) -> None:
    # Such a file (FORMATS.md: a95fea4a) has no record with a top-level timestamp: its
    # session started "now" (the import's clock) and topped `p8j ls` and `p8j tail`.
    snap = {
        "type": "file-history-snapshot",
        "messageId": "m1",
        "snapshot": {
            "messageId": "m1",
            "trackedFileBackups": {},
            "timestamp": "2026-02-16T18:47:50.736Z",
        },
        "isSnapshotUpdate": False,
    }
    later = json.loads(json.dumps(snap))
    later["snapshot"]["timestamp"] = "2026-02-16T18:49:30.598Z"
    path = tmp_path / "proj" / "a95fea4a-b88a-4e49-ac07-4cc323d8700c.jsonl"
    path.parent.mkdir()
    path.write_bytes(jsonl([snap, later]))
    (file,) = IMPORTER.discover(path)
    mapped = list(IMPORTER.read(file, path.read_bytes(), ReadPoint()))
    start = IMPORTER.start_event(file, mapped[0])
    assert start.origin is not None and start.origin.ts == "2026-02-16T18:47:50.736000Z"
    assert all(event_origin(m.event).ts is None for m in mapped)  # type: ignore[union-attr]


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


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.binary(max_size=40) | st.sampled_from([b"\n", b"\r\n", b"{", b"}"]), max_size=12)
)
def test_any_bytes_never_raise_and_every_whole_line_is_accounted_for_once(
    parts: list[bytes],
) -> None:
    data = b"".join(parts)
    _accounted(data, read_all(data))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines)
def test_any_json_lines_rebuild_exactly_and_survive_the_codec(chunks: list[bytes]) -> None:
    data = b"".join(chunks)
    mapped = read_all(data)
    _accounted(data, mapped)
    for seq, m in enumerate(mapped):
        if m.event is None:
            continue
        raw = data[: m.end].split(b"\n")[-2]
        assert rebuild_record(m.event) == msgspec.json.decode(raw)
        event = msgspec.structs.replace(m.event, seq=seq, **ENVELOPE)
        assert decode_line(encode_event(event).rstrip(b"\n")) == event


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines, st.binary(max_size=30).filter(lambda b: b"\n" not in b))
def test_an_unterminated_tail_is_never_read(chunks: list[bytes], tail: bytes) -> None:
    data = b"".join(chunks)
    assert read_all(data + tail) == read_all(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines, st.data())
def test_reading_from_any_read_point_yields_the_suffix_of_a_full_read(
    chunks: list[bytes], data_: st.DataObject
) -> None:
    data = b"".join(chunks)
    full = read_all(data)
    k = data_.draw(st.integers(min_value=0, max_value=len(full)))
    point = ReadPoint(offset=full[k - 1].end, line=full[k - 1].line) if k else ReadPoint()
    before = [m.event for m in full[:k] if m.event is not None]
    state = IMPORTER.resume_state(before)  # type: ignore[arg-type]
    assert list(IMPORTER.read(source(), data, point, state)) == full[k:]


def test_the_suffix_needs_the_resumed_state_for_tool_names() -> None:
    """The property above is not vacuous: a result after the read point names its tool by state."""
    call = assistant(1, {"type": "tool_use", "id": "toolu_1", "name": "Grep", "input": {}})
    result = user(2, [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "hit"}])
    data = jsonl([call, result])
    full = read_all(data)
    point = ReadPoint(offset=full[0].end, line=1)
    state = IMPORTER.resume_state(events(jsonl([call])))
    assert list(IMPORTER.read(source(), data, point, state)) == full[1:]
    fresh = list(IMPORTER.read(source(), data, point))
    assert getattr(fresh[0].event, "command", None) == ""
    assert getattr(full[1].event, "command", None) == "Grep"


def test_a_sub_agent_named_only_by_agent_progress_is_linked_to_its_call(tmp_path: Path) -> None:
    project = tmp_path / "-home-me-app"
    nested = project / "s1" / "subagents"
    nested.mkdir(parents=True)
    progress = {
        "type": "progress",
        "data": {"type": "agent_progress", "agentId": "a17", "prompt": "look"},
        "toolUseID": "agent_msg_1",
        "parentToolUseID": "toolu_task",
        "sessionId": "s1",
    }
    (project / "s1.jsonl").write_bytes(jsonl([user(1, "go"), progress]))
    (nested / "agent-a17.jsonl").write_bytes(
        jsonl([user(1, "look", isSidechain=True, agentId="a17")])
    )
    parent, agent = IMPORTER.discover(project)
    assert (parent.source.source_id, parent.parent_source_id) == ("s1", None)
    assert (agent.source.source_id, agent.parent_source_id) == ("a17", "s1")
    assert agent.parent_call_id == "toolu_task"
