"""Property tests of the Codex importer's reader: any bytes, every whole line once, resumable."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p8j.journal.codec import decode_line, encode_event
from p8j.journal.events import SourceInfo
from p8j.journal.importers.base import Mapped, ReadPoint, SourceFile, rebuild_record
from p8j.journal.importers.codex import IMPORTER

FILE = SourceFile(path="/x/rollout.jsonl", source=SourceInfo(agent="codex", source_id="s"))
KEYS = [
    "type", "payload", "role", "content", "call_id", "name", "arguments", "output", "info",
    "last_token_usage", "total_token_usage", "cached_input_tokens", "input_tokens", "timestamp",
    "cwd", "model", "message", "replacement_history", "thread_name", "summary", "id", "git",
    "branch", "record_type", "action", "command", "metadata", "exit_code", "duration_seconds",
    "text", "input", "success", "forked_from_id", "workdir",
]  # fmt: skip
TYPES = [
    "session_meta", "response_item", "event_msg", "turn_context", "compacted", "message",
    "reasoning", "function_call", "function_call_output", "custom_tool_call",
    "custom_tool_call_output", "local_shell_call", "web_search_call", "token_count",
    "thread_name_updated", "user", "assistant", "developer", "shell", "exec_command",
    "apply_patch", "input_text",
]  # fmt: skip
TEXTS = st.one_of(
    st.sampled_from(TYPES),
    st.text(max_size=12),
    st.sampled_from(
        [
            "2026-05-12T10:00:00.123Z",
            "2026-13-40T99:00:00Z",
            '{"cmd": "ls", "workdir": "/w"}',
            '{"output": "x", "metadata": {"exit_code": 3, "duration_seconds": 0.5}}',
            "Wall time: 1.5 seconds\nProcess exited with code 7\nOutput:\n",
            "<environment_context><cwd>/w</cwd>",
            "# AGENTS.md instructions",
        ]
    ),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXTS,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    ),
    max_leaves=12,
)
RECORDS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6)


def _line(value: Any) -> bytes:
    return msgspec.json.encode(value)


CALL_IDS = st.one_of(st.sampled_from(["c1", "c2"]), VALUES)
USAGE = st.dictionaries(
    st.sampled_from(["input_tokens", "cached_input_tokens", "output_tokens", "total_tokens"]),
    st.one_of(st.integers(min_value=-5, max_value=2**64), SCALARS),
)
ITEMS = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES[5:13])},
    optional={
        "role": st.one_of(st.sampled_from(["user", "assistant", "developer"]), VALUES),
        "content": VALUES,
        "call_id": CALL_IDS,
        "name": st.one_of(st.sampled_from(["shell", "exec_command", "apply_patch"]), VALUES),
        "arguments": st.one_of(TEXTS, VALUES),
        "output": st.one_of(TEXTS, VALUES),
        "input": VALUES,
        "action": VALUES,
        "id": VALUES,
        "success": VALUES,
    },
)
EVENT_MSGS = st.fixed_dictionaries(
    {"type": st.sampled_from(["token_count", "thread_name_updated", "agent_message"])},
    optional={
        "info": st.one_of(
            st.fixed_dictionaries(
                {}, optional={"last_token_usage": USAGE, "total_token_usage": USAGE}
            ),
            VALUES,
        ),
        "thread_name": VALUES,
        "name": VALUES,
    },
)
SHAPED = st.one_of(
    ITEMS,  # a legacy bare item
    st.fixed_dictionaries({"timestamp": TEXTS, "type": st.just("response_item"), "payload": ITEMS}),
    st.fixed_dictionaries(
        {"timestamp": TEXTS, "type": st.just("event_msg"), "payload": EVENT_MSGS}
    ),
)
LINES = st.one_of(
    SHAPED.map(_line),
    SHAPED.map(_line),
    RECORDS.map(_line),
    st.fixed_dictionaries(
        {"timestamp": TEXTS, "type": st.sampled_from(TYPES), "payload": RECORDS}
    ).map(_line),
    VALUES.map(_line),
    st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")),
    st.sampled_from([b"", b"  ", b"{", b"[1]", b'"\\ud800"']),
)
ENDS = st.sampled_from([b"\n", b"\r\n"])
DOCS = st.lists(st.tuples(LINES, ENDS), max_size=12)
TAILS = st.one_of(st.just(b""), LINES.filter(lambda b: b"\n" not in b))
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _data(doc: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(line + end for line, end in doc)


def _read(data: bytes, start: ReadPoint | None = None, state: Any = None) -> list[Mapped]:
    return list(IMPORTER.read(FILE, data, start or ReadPoint(), state))


@PROPS
@given(DOCS, TAILS)
def test_every_whole_line_is_accounted_for_once_and_the_tail_never(
    doc: list[tuple[bytes, bytes]], tail: bytes
) -> None:
    data = _data(doc)
    mapped = _read(data + tail)
    assert mapped == _read(data)  # an unterminated tail changes nothing
    ends = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]
    assert [(m.line, m.end) for m in mapped] == list(enumerate(ends, start=1))
    for m, (line, _) in zip(mapped, doc, strict=True):
        assert (m.event is None) != (m.skipped is None)  # an event, or a reason
        if m.event is None:
            assert (m.skipped == "") == (not line.strip())
            continue
        assert rebuild_record(m.event) == msgspec.json.decode(line)
        full = msgspec.structs.replace(
            m.event,
            session_id="019e0000-0000-7000-8000-000000000001",
            seq=m.line,
            ts="2026-01-01T00:00:00.000000Z",
        )
        assert decode_line(encode_event(full)[:-1]) == full  # well-typed: p8j reads it back


@PROPS
@given(DOCS, st.integers(min_value=0))
def test_reading_from_any_line_with_the_resumed_state_yields_the_suffix(
    doc: list[tuple[bytes, bytes]], cut: int
) -> None:
    data = _data(doc)
    full = _read(data)
    cut = cut % (len(full) + 1)
    before: list[Any] = [m.event for m in full[:cut] if m.event is not None]
    start = ReadPoint(full[cut - 1].end, cut) if cut else ReadPoint()
    assert _read(data, start, IMPORTER.resume_state(before)) == full[cut:]
    assert list(IMPORTER.native(before)) == [
        json.loads(json.dumps(rebuild_record(e))) for e in before
    ]
