"""Search over imported events: what replay shows is searched; index and scan agree."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from fidelity_helpers import draft, origin, start, write_session

from p8j.journal import Home
from p8j.journal.events import (
    CommandRecorded,
    ExecutionRecorded,
    MessageRecorded,
    RecordImported,
    SessionCompacted,
)
from p8j.replay.search import SearchResult, search, update_search_index


def _events() -> list[Any]:
    return [
        start(),
        draft(
            MessageRecorded,
            role="assistant",
            content=[{"type": "thinking", "thinking": "ponder zebra"}],
            origin=origin("2026-11-01T09:01:00.000000Z"),
        ),
        draft(
            CommandRecorded,
            command="apply_patch",
            tool="apply_patch",
            input={"patch": "add giraffe.py"},
            call_id="c1",
            origin=origin("2026-11-01T09:02:00.000000Z"),
        ),
        draft(
            ExecutionRecorded,
            command="apply_patch",
            call_id="c1",
            stderr="warning: okapi",
            result={"files": ["giraffe.py"], "note": "lemur"},
            origin=origin("2026-11-01T09:03:00.000000Z"),
        ),
        draft(
            SessionCompacted,
            summary="we talked about a narwhal",
            replacement=[{"role": "user", "content": "remember the walrus"}],
            origin=origin("2026-11-01T09:04:00.000000Z"),
        ),
        draft(
            RecordImported, kind="progress", record={"msg": "hidden quokka"}, origin=origin(None)
        ),
    ]


def _key(result: SearchResult) -> list[tuple[Any, ...]]:
    return [(h.session_id, h.seq, h.ts, h.kind, h.field, h.snippet) for h in result.hits]


@pytest.mark.parametrize(
    ("pattern", "kinds", "expected"),
    [
        ("zebra", None, [(1, "message", "content", "2026-11-01T09:01:00.000000Z")]),
        (
            "giraffe",
            None,
            [
                (2, "command", "command", "2026-11-01T09:02:00.000000Z"),
                (3, "execution", "result", "2026-11-01T09:03:00.000000Z"),
            ],
        ),
        ("okapi", None, [(3, "execution", "stderr", "2026-11-01T09:03:00.000000Z")]),
        ("narwhal|walrus", None, [(4, "compaction", "summary", "2026-11-01T09:04:00.000000Z")]),
        ("quokka", None, []),
        ("quokka", ["record"], [(5, "record", "record", "2026-12-03T10:00:00.000000Z")]),
    ],
)
def test_imported_fields_are_searched_and_index_equals_scan(
    tmp_path: Any, pattern: str, kinds: list[str] | None, expected: list[tuple[Any, ...]]
) -> None:
    home = Home(tmp_path / "h")
    write_session(home, _events())
    plain = search(home, pattern, kinds=kinds, narrow=False)
    assert [(h.seq, h.kind, h.field, h.ts) for h in plain.hits] == expected
    assert _key(search(home, pattern, kinds=kinds, use_index=False)) == _key(plain)
    update_search_index(home)
    indexed = search(home, pattern, kinds=kinds, use_index=True)
    assert _key(indexed) == _key(plain) and indexed.indexed_sessions == 1


def test_search_since_compares_source_times(tmp_path: Any) -> None:
    home = Home(tmp_path / "h")
    write_session(home, _events())
    since = datetime(2026, 11, 1, 9, 2, 30, tzinfo=timezone.utc)
    hits = search(home, "giraffe", since=since, narrow=False).hits
    assert [h.seq for h in hits] == [3]
