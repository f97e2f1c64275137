"""Timestamps: fixed-width RFC 3339 UTC, so string order is time order; bounds normalised."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p8j.journal import Home, SessionManager
from p8j.journal.timefmt import format_ts, now_ts, parse_ts
from p8j.replay import load_session

TS_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
aware = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(timezone.utc)
)


def test_now_ts_is_fixed_width_utc() -> None:
    stamps = [now_ts() for _ in range(1000)]
    assert all(TS_RE.fullmatch(s) for s in stamps)
    assert stamps == sorted(stamps)
    assert abs(parse_ts(stamps[-1]) - datetime.now(timezone.utc)) < timedelta(seconds=5)


@given(aware, aware)
def test_string_order_is_time_order(a: datetime, b: datetime) -> None:
    fa, fb = format_ts(a), format_ts(b)
    assert TS_RE.fullmatch(fa)
    assert (fa < fb) == (a < b)
    assert parse_ts(fa) == a


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T07:06:00Z", "2026-11-24T07:06:00.000000Z"),
        ("2026-11-24T07:06:00.5Z", "2026-11-24T07:06:00.500000Z"),
        ("2026-11-24T09:06:00.000123+02:00", "2026-11-24T07:06:00.000123Z"),
        ("2026-11-24t07:06:00z", "2026-11-24T07:06:00.000000Z"),
    ],
)
def test_parse_accepts_rfc3339_variants(text: str, expected: str) -> None:
    assert format_ts(parse_ts(text)) == expected


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        format_ts(datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        parse_ts("2026-11-24T07:06:00")


def test_time_travel_bound_given_as_any_rfc3339_string(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = int(datetime(2026, 11, 24, 7, 0, 0, tzinfo=timezone.utc).timestamp()) * 10**9
    clock = [t0]

    def tick() -> int:  # every clock read is 0.25 s after the previous one
        clock[0] += 250_000_000
        return clock[0]

    monkeypatch.setattr("time.time_ns", tick)
    mgr = SessionManager(home)
    sid = mgr.start_session("tt").session_id
    for i in range(12):
        mgr.record_command(f"c{i}")
    mgr.end_session()
    monkeypatch.undo()
    stamps = [load_session(sid, home, upto_seq=q).last_event_time for q in range(14)]
    assert len(set(stamps)) == 14  # distinct instants
    for bound, last in [
        ("2026-11-24T07:00:02Z", "2026-11-24T07:00:02.000000Z"),
        ("2026-11-24T07:00:02.1Z", "2026-11-24T07:00:02.000000Z"),
        ("2026-11-24T12:30:02.3+05:30", "2026-11-24T07:00:02.250000Z"),
        ("2026-11-24T07:00:02.999999Z", "2026-11-24T07:00:02.750000Z"),
    ]:
        got = load_session(sid, home, until=bound)
        assert got.last_event_time is not None
        assert format_ts(got.last_event_time) == last, bound
        assert got == load_session(sid, home, until=parse_ts(bound))


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+00:01"])
def test_parse_ts_outside_the_calendar_in_utc_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"outside years 1\.\.9999"):
        parse_ts(text)


def test_format_ts_pads_early_years_so_they_sort() -> None:
    early = datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    assert format_ts(early) == "0999-01-02T03:04:05.000006Z"
    assert format_ts(early) < format_ts(datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert parse_ts(format_ts(early)) == early
