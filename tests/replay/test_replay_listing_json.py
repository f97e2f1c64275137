"""`sessions_json`: the listing's JSON from rows kept in the catalog, equal to encoding the rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from p8j.journal import Home, SessionManager
from p8j.journal.cache import catalog
from p8j.replay import listing
from p8j.replay.listing import list_sessions, listing_catalog, sessions_json

from .test_replay_listing import _crashed_session, _session

FILTERS: list[dict[str, Any]] = [
    {},
    {"project": "alpha"},
    {"project": "b*"},
    {"states": ["completed"]},
    {"states": ["active"]},
    {"states": ["crashed", "paused"]},
    {"states": ["damaged"]},
    {"since": datetime.now(timezone.utc) - timedelta(hours=1)},
    {"since": datetime.now(timezone.utc) + timedelta(hours=1)},
    {"limit": 2},
    {"limit": 0},
    {"sort": "started"},
    {"sort": "started", "limit": 1, "project": "alpha"},
]


@pytest.fixture
def mixed(rhome: Home) -> Home:
    """Completed, paused, crashed and damaged sessions, one with odd text in its title."""
    for project, end in (("alpha", "end"), ("beta", "pause"), ("alpha", "end")):
        _session(rhome, project, end)[0].close()
    with SessionManager(rhome) as mgr:
        mgr.start_session("bold", {"n": 1})
        mgr.record_message({"role": "user", "content": 'quote " and \\ and \u2028 and é'})
        mgr.end_session()
        damaged = mgr.start_session("alpha").session_id
        mgr.end_session()
    with open(rhome.log_path(damaged), "ab") as f:
        f.write(b'{"not": "a record"}\n')
    _crashed_session(rhome)
    return rhome


def _expected(home: Home, lines: bool = False, **filters: Any) -> bytes:
    """The rows built from summaries (no row kept is used or made), encoded."""
    rows = list_sessions(home, summaries=catalog.list_summaries(home), **filters)
    enc = msgspec.json.Encoder()
    return enc.encode_lines(rows) if lines else enc.encode(rows)


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f) or "none")
def test_json_is_the_rows_encoded_cold_and_warm(mixed: Home, filters: dict[str, Any]) -> None:
    cold = sessions_json(mixed, **filters)  # no catalog yet: rows made, then kept
    assert (mixed.cache_dir / "catalog.msgpack").is_file()
    warm = sessions_json(mixed, **filters)
    assert cold == warm == _expected(mixed, **filters)
    assert sessions_json(mixed, lines=True, **filters) == _expected(mixed, lines=True, **filters)
    states = [row["state"] for row in msgspec.json.decode(warm)]
    if not filters:
        done = ["completed"] * 3
        assert sorted(states) == [*done, "crashed", "damaged", "paused"]


def test_unchanged_sessions_are_not_built_or_encoded_again(
    mixed: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = sessions_json(mixed)
    built: list[str] = []
    real = listing.listing_of

    def spy(home: Any, summary: Any) -> Any:
        built.append(summary.status)
        return real(home, summary)

    monkeypatch.setattr(listing, "listing_of", spy)
    assert sessions_json(mixed) == first
    assert built == ["active"]  # the crashed one: its state needs the lock probed


def test_a_table_listing_reads_and_makes_no_row(mixed: Home) -> None:
    assert len(list_sessions(mixed)) == 6
    assert not (mixed.cache_dir / "rows.msgpack").exists()
    assert not listing_catalog(mixed, rows=False).has_rows
    sessions_json(mixed)
    assert (mixed.cache_dir / "rows.msgpack").is_file()


def test_a_live_session_is_probed_every_time(rhome: Home) -> None:
    mgr, live = _session(rhome, "alpha", None)
    try:
        rows = msgspec.json.decode(sessions_json(rhome))
        assert rows[0]["session_id"] == live and rows[0]["state"] == "live"
        assert rows[0]["writer_pid"] is not None
    finally:
        mgr.close()  # pauses it
    rows = msgspec.json.decode(sessions_json(rhome))
    assert rows[0]["state"] == "paused" and rows[0]["writer_pid"] is None


def test_rows_of_another_format_or_none_kept_are_made_again(
    mixed: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog.list_summaries(mixed)  # a catalog without rows
    made: list[str] = []
    real = listing._row

    def counting(summary: Any) -> bytes | None:
        made.append(summary.session_id)
        return real(summary)

    monkeypatch.setattr(listing, "ROWS", catalog.Rows(listing.ROWS.tag, counting))
    expected = _expected(mixed)
    assert sessions_json(mixed) == expected
    assert len(made) == 6  # none was kept: every row made (and saved)
    made.clear()
    assert sessions_json(mixed) == expected
    assert made == []
    monkeypatch.setattr(listing, "ROWS", catalog.Rows("another format", counting))
    assert sessions_json(mixed) == expected
    assert len(made) == 6


def test_a_session_appended_to_gets_a_new_row(rhome: Home) -> None:
    mgr, sid = _session(rhome, "alpha", "pause")
    before = msgspec.json.decode(sessions_json(rhome))
    mgr.resume_session(sid)
    mgr.record_message({"role": "user", "content": "more"})
    mgr.end_session()
    mgr.close()
    after = msgspec.json.decode(sessions_json(rhome))
    assert before[0]["message_count"] == 1 and after[0]["message_count"] == 2
    assert after[0]["state"] == "completed"
    assert sessions_json(rhome) == _expected(rhome)


def test_archived_sessions_list_alike(mixed: Home) -> None:
    shown = listing_catalog(mixed, archived=True)
    assert shown.entries == [] and not shown.has_rows
    assert sessions_json(mixed, catalog=shown) == b"[]"
    assert sessions_json(mixed, catalog=shown, lines=True) == b""
