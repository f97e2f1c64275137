"""The line codec: exact round-trips, the CRC member, and naming bad lines."""

from __future__ import annotations

import json
import zlib
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from journal_helpers import crc_line, json_values

from p8j.journal import (
    SCHEMA_VERSION,
    CommandRecorded,
    CorruptLineError,
    ExecutionRecorded,
    InvalidEventError,
    MessageRecorded,
    MetadataUpdated,
    SessionEnded,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    UnknownEvent,
)
from p8j.journal.codec import (
    CRC_SUFFIX_LEN,
    decode_block,
    decode_line,
    decode_written,
    encode_event,
    frame,
    line_checksum_ok,
)

SID = "01a20c6a-1677-71ff-911a-7d8a8490bda4"
TS = "2026-11-24T07:16:48.898912Z"

# JSON values as agents produce them (finite floats, 64-bit ints, any text but lone surrogates).

EVERY_KIND = [
    SessionStarted(SCHEMA_VERSION, SID, 0, TS, project_name="p", metadata={"k": [1, None]}),
    MessageRecorded(SCHEMA_VERSION, SID, 1, TS, role="user", content="hi", extra={"x": 1}),
    MessageRecorded(SCHEMA_VERSION, SID, 2, TS, role="assistant"),
    CommandRecorded(SCHEMA_VERSION, SID, 3, TS, command="ls", cwd="/tmp"),
    ExecutionRecorded(SCHEMA_VERSION, SID, 4, TS, command="ls", exit_code=2, duration_s=0.5),
    MetadataUpdated(SCHEMA_VERSION, SID, 5, TS, changes={"model": "m"}),
    SessionPaused(SCHEMA_VERSION, SID, 6, TS),
    SessionResumed(SCHEMA_VERSION, SID, 7, TS, recovered=True, repaired_bytes=3, pid=1),
    SessionEnded(SCHEMA_VERSION, SID, 8, TS, reason="done"),
]


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: type(e).__name__)
def test_every_event_kind_round_trips(event: Any) -> None:
    line = encode_event(event)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_line(line[:-1]) == event
    assert decode_written(line) == event
    # Plain JSON for jq: the envelope first, then the payload, crc last.
    obj = json.loads(line)
    assert list(obj)[:5] == ["type", "v", "session_id", "seq", "ts"]
    assert list(obj)[-1] == "crc"
    assert obj["type"] == type(event).__name__


def test_crc_is_crc32_of_the_line_without_its_crc_member() -> None:
    line = encode_event(EVERY_KIND[1])
    body = line[:-19] + b"}"  # the contract's wording: the line without ,"crc":"........"
    assert line[-11:-3] == b"%08x" % zlib.crc32(body)
    assert line[-CRC_SUFFIX_LEN - 1 :] == b',"crc":"%08x"}\n' % zlib.crc32(body)
    assert body == msgspec.json.encode(EVERY_KIND[1])


@given(
    role=st.text(),
    content=json_values,
    extra=st.dictionaries(st.text().filter(lambda k: k not in ("role", "content")), json_values),
)
def test_message_payloads_round_trip_exactly(
    role: str, content: Any, extra: dict[str, Any]
) -> None:
    event = MessageRecorded(SCHEMA_VERSION, SID, 1, TS, role=role, content=content, extra=extra)
    line = encode_event(event)
    # Whatever the text holds (NUL, newlines, control characters), a raw newline only ends it.
    assert line.count(b"\n") == 1
    assert decode_line(line[:-1]) == event
    assert decode_block(line * 3) == [event] * 3


def test_control_characters_emoji_and_nul_round_trip() -> None:
    text = "".join(chr(c) for c in range(0x20)) + "\x7f\u2028\u2029\ufeff\U0001f600 \u00e9\\\"'"
    event = MessageRecorded(SCHEMA_VERSION, SID, 1, TS, role="user", content=text)
    line = encode_event(event)
    assert line.count(b"\n") == 1 and b"\x00" not in line
    decoded = decode_line(line[:-1])
    assert isinstance(decoded, MessageRecorded) and decoded.content == text


@pytest.mark.parametrize(
    "content",
    ["lone \ud800 surrogate", {"k": object()}, [float, 1]],
    ids=["surrogate", "object", "type"],
)
def test_unencodable_payload_is_invalid_event_error(content: Any) -> None:
    event = MessageRecorded(SCHEMA_VERSION, SID, 1, TS, role="user", content=content)
    with pytest.raises(InvalidEventError, match="MessageRecorded"):
        encode_event(event)


def test_big_integers_round_trip() -> None:
    for value in (2**64 + 1, -(2**70), 10**30):
        event = MessageRecorded(SCHEMA_VERSION, SID, 1, TS, role="user", content=value)
        assert decode_line(encode_event(event)[:-1]) == event


def test_every_flipped_bit_of_a_line_is_detected() -> None:
    line = encode_event(EVERY_KIND[1])[:-1]
    for pos in range(len(line)):
        for bit in range(8):
            bad = bytearray(line)
            bad[pos] ^= 1 << bit
            assert not line_checksum_ok(bytes(bad)), (pos, bit)
            with pytest.raises(CorruptLineError) as info:
                decode_line(bytes(bad), path="/x.jsonl", lineno=7, offset=99)
            assert (info.value.path, info.value.line, info.value.offset) == ("/x.jsonl", 7, 99)


@pytest.mark.parametrize(
    "line",
    [b"", b"{}", b"not json", b'{"crc":"00000000"}', b"\xff" * 40, b'"}' * 20],
)
def test_garbage_is_corrupt_not_a_crash(line: bytes) -> None:
    with pytest.raises(CorruptLineError) as info:
        decode_line(line, path="p", lineno=1, offset=0)
    assert info.value.data == line[:200]


def test_valid_crc_but_not_an_event_is_corrupt() -> None:
    for obj in (
        {"type": "MessageRecorded", "v": 1, "session_id": SID, "seq": "1", "ts": TS, "role": "u"},
        {"type": "MessageRecorded", "v": 1, "session_id": SID, "seq": 1, "ts": TS},
        {"type": "Novel", "v": 1, "session_id": SID, "seq": -0.5, "ts": TS},
        {"type": 3, "v": 1, "session_id": SID, "seq": 1, "ts": TS},
        {"no": "type"},
    ):
        with pytest.raises(CorruptLineError, match="not a valid event"):
            decode_line(crc_line(obj)[:-1])


def test_unknown_event_type_is_kept_raw() -> None:
    obj = {"type": "SessionForked", "v": 2, "session_id": SID, "seq": 4, "ts": TS, "into": "x"}
    event = decode_line(crc_line(obj)[:-1])
    assert event == UnknownEvent(type="SessionForked", session_id=SID, seq=4, ts=TS, raw=obj)


def test_unknown_field_of_a_known_event_is_ignored() -> None:
    obj = {"type": "CommandRecorded", "v": 2, "session_id": SID, "seq": 3, "ts": TS}
    obj.update(command="ls", added_in_v2={"a": 1})
    event = decode_line(crc_line(obj)[:-1])
    assert event == CommandRecorded(2, SID, 3, TS, command="ls")


def test_decode_block_rejects_any_bad_line() -> None:
    good = encode_event(EVERY_KIND[3])
    with pytest.raises(msgspec.DecodeError):
        decode_block(good + b"{}\n" + good)


def test_encoding_a_value_deeper_than_the_stack_is_an_invalid_event() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    event = MessageRecorded(
        1, "01a20c6a-1677-71ff-911a-7d8a8490bda4", 1, "t", role="u", content=deep
    )
    with pytest.raises(InvalidEventError, match="cannot encode"):
        encode_event(event)


def test_frame_gives_the_line_encode_event_gives() -> None:
    event = CommandRecorded(1, SID, 3, TS, command="ls", redactions=["x"])
    body = msgspec.json.encode(event)
    assert frame(body) == encode_event(event)
    obj = {"type": "SessionForked", "v": 2, "session_id": SID, "seq": 4, "ts": TS}
    assert frame(msgspec.json.encode(obj)) == crc_line(obj)
    for bad in (b"[1]", b'"x"', b"", b"{}"):
        with pytest.raises(InvalidEventError, match="JSON object"):
            frame(bad)
