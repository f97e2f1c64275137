"""rebuild_record and split_record: the source record comes back exactly, the event untouched."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from p8j.journal.events import ExecutionRecorded, MessageRecorded, Origin
from p8j.journal.importers.base import rebuild_record, split_record

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


def test_a_move_nested_in_a_moved_value_does_not_write_into_the_event() -> None:
    record = {"type": "user", "toolUseResult": {"stdout": "out", "stderr": "err"}}
    moves: dict[str, list[str | int]] = {
        "result": ["toolUseResult"],
        "stderr": ["toolUseResult", "stderr"],
    }
    rest, values = split_record(record, moves)
    event = ExecutionRecorded(
        1,
        "s",
        1,
        "t",
        command="Bash",
        result=values["result"],
        stderr=values["stderr"],
        origin=Origin(rest=rest, moved=moves),
    )
    assert rebuild_record(event) == record
    assert event.result == {"stdout": "out"}  # the event's own value is unchanged
    assert rebuild_record(event) == record  # and rebuilding twice gives the same


@given(body=st.dictionaries(st.text(max_size=4), _json, max_size=4), content=_json)
def test_split_then_rebuild_is_the_identity(body: dict[str, Any], content: Any) -> None:
    record = {**body, "message": {"role": "user", "content": content}}
    moves: dict[str, list[str | int]] = {
        "content": ["message", "content"],
        "role": ["message", "role"],
    }
    rest, values = split_record(record, moves)
    event = MessageRecorded(
        1,
        "s",
        1,
        "t",
        role=values["role"],
        content=values["content"],
        origin=Origin(rest=rest, moved=moves),
    )
    decoded = msgspec.json.decode(msgspec.json.encode(event), type=MessageRecorded)
    assert rebuild_record(decoded) == record
