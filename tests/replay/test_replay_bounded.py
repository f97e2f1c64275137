"""The one bounded reader: load, export and search agree on every bound (replay/bounded.py)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from journal_helpers import crc_line

from p8j.journal import Home
from p8j.journal.session import fold
from p8j.journal.store.fs import LogCursor
from p8j.replay.bounded import read_bounded, ts_bound
from p8j.replay.export import read_session_events
from p8j.replay.load import load_session, load_session_with_report
from p8j.replay.search import search

SID = "01a20c80-bccb-73e3-9f2a-c9fccdc99c08"
START = datetime(2026, 11, 24, 7, 0, 0, tzinfo=timezone.utc)
# Message i is logged at START + (i + 1) * 0.5 s: whole seconds and half seconds,
# so a bound written without fractional digits falls between two events.
OFFSETS = [timedelta(seconds=(i + 1) * 0.5) for i in range(5)]


def _ts(when: datetime) -> str:
    return ts_bound(when) or ""


def _write(home: Home) -> None:
    lines = [
        crc_line(
            {
                "type": "SessionStarted",
                "v": 1,
                "session_id": SID,
                "seq": 0,
                "ts": _ts(START),
                "project_name": "bounds",
            }
        )
    ]
    for i, off in enumerate(OFFSETS):
        lines.append(
            crc_line(
                {
                    "type": "MessageRecorded",
                    "v": 1,
                    "session_id": SID,
                    "seq": i + 1,
                    "ts": _ts(START + off),
                    "role": "user",
                    "content": f"needle {i}",
                }
            )
        )
    home.log_path(SID).write_bytes(b"".join(lines))


def _agree(home: Home, **bound: object) -> int:
    """Messages load keeps for `bound`; asserts that export's events fold to the same session."""
    loaded, report = load_session_with_report(SID, home, **bound)  # type: ignore[arg-type]
    events, ereport = read_session_events(home, SID, **bound)  # type: ignore[arg-type]
    assert fold(events).to_dict() == loaded.to_dict(), bound
    assert ereport.events == report.events == len(events)
    return loaded.message_count


def test_until_as_a_short_string_is_the_bug_case(rhome: Home) -> None:
    # Before: load kept the 1 message at or before 07:00:00.5 while export, comparing
    # the raw string "...07:00:00Z" with "...07:00:00.500000Z", returned all 5.
    _write(rhome)
    events, _ = read_session_events(rhome, SID, until="2026-11-24T07:00:01Z")
    assert [e.seq for e in events] == [0, 1, 2]
    assert load_session(SID, rhome, until="2026-11-24T07:00:01Z").message_count == 2
    assert _agree(rhome, until="2026-11-24T07:00:00Z") == 0


def test_load_and_export_agree_on_every_bound(rhome: Home) -> None:
    _write(rhome)
    for seq in range(8):
        assert _agree(rhome, upto_seq=seq) == max(0, min(seq, 5))
    for tenths in range(-10, 40):
        when = START + timedelta(seconds=tenths / 10)
        expected = sum(1 for off in OFFSETS if START + off <= when)
        forms: list[object] = [
            when,
            when.astimezone(timezone(timedelta(hours=2))),
            when.isoformat(),
            _ts(when),
            when.astimezone(timezone(timedelta(hours=-5))).isoformat(),
        ]
        if when.microsecond == 0:
            forms.append(when.strftime("%Y-%m-%dT%H:%M:%SZ"))
        for form in forms:
            assert _agree(rhome, until=form) == expected, form
            assert _agree(rhome, until=form, upto_seq=2) == min(expected, 2), form


@settings(max_examples=60, deadline=None)
@given(
    micros=st.integers(min_value=-2_000_000, max_value=4_000_000),
    offset_min=st.integers(min_value=-12 * 60, max_value=14 * 60),
    digits=st.integers(min_value=0, max_value=6),
)
def test_any_until_string_agrees_with_its_datetime(
    tmp_path_factory: object, micros: int, offset_min: int, digits: int
) -> None:
    home = Home(tmp_path_factory.mktemp("b")).ensure()  # type: ignore[attr-defined]
    _write(home)
    when = (START + timedelta(microseconds=micros)).replace(
        microsecond=0 if digits == 0 else (START + timedelta(microseconds=micros)).microsecond
    )
    local = when.astimezone(timezone(timedelta(minutes=offset_min)))
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{local.microsecond:06d}"[:digits]
    text += local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
    parsed = datetime.fromisoformat(text)
    expected = sum(1 for off in OFFSETS if START + off <= parsed)
    assert _agree(home, until=text) == expected
    assert _agree(home, until=parsed) == expected


def test_search_since_reads_through_the_same_bounds(rhome: Home) -> None:
    _write(rhome)
    since = START + timedelta(seconds=1.5)
    hits = search(rhome, re.compile("needle"), since=since).hits
    assert [h.seq for h in hits] == [3, 4, 5]
    cursor = LogCursor(rhome.log_path(SID), session_id=SID)
    assert [e.seq for e in read_bounded(cursor, since="2026-11-24T07:00:01.5Z")] == [3, 4, 5]


def test_bounded_reader_keeps_the_start_before_any_bound(rhome: Home) -> None:
    _write(rhome)
    cursor = LogCursor(rhome.log_path(SID), session_id=SID)
    early = read_bounded(cursor, until=START - timedelta(days=1))
    assert [e.seq for e in early] == [0]
    assert ts_bound(None) is None
    assert ts_bound("2026-11-24T08:00:00+01:00") == "2026-11-24T07:00:00.000000Z"
