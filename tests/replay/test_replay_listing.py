"""Listing: filters, live vs crashed, --since parsing."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p8j.journal import Home, SessionManager
from p8j.journal.cache.catalog import SessionSummary
from p8j.replay.listing import list_sessions, listing_of, parse_since, session_state

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("15min", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("1.5h", timedelta(hours=1.5)),
        ("3d", timedelta(days=3)),
        ("2w", timedelta(weeks=2)),
        ("10secs", timedelta(seconds=10)),
        ("2days", timedelta(days=2)),
    ],
)
def test_durations(text: str, delta: timedelta) -> None:
    assert parse_since(text, NOW) == NOW - delta


def test_dates_and_times() -> None:
    assert parse_since("2026-11-01T10:00:00Z", NOW) == datetime(
        2026, 11, 1, 10, tzinfo=timezone.utc
    )
    assert parse_since("2026-11-01T10:00+02:00", NOW) == datetime(
        2026, 11, 1, 8, tzinfo=timezone.utc
    )
    local = datetime(2026, 11, 1).astimezone()  # naive dates are local midnight
    assert parse_since("2026-11-01", NOW) == local.astimezone(timezone.utc)
    today = parse_since("today", NOW)
    assert today.astimezone().hour == 0 and today <= NOW
    # A day is 23 to 25 hours long where the clocks change.
    assert today - parse_since("yesterday", NOW) in {timedelta(hours=h) for h in (23, 24, 25)}


@pytest.mark.parametrize("text", ["", "soon", "2x", "h2", "2026-13-01", "-3h", "3h ago"])
def test_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        parse_since(text, NOW)


@pytest.mark.parametrize(
    "text",
    [
        "1000000000d",
        "99999999999h",
        "9" * 400 + "s",
        "800000d",
        "9999-12-31T23:59:59-23:00",
        "0001-01-01T00:00:00+01:00",
    ],
)
def test_times_beyond_the_calendar_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError, match="too far back or ahead"):
        parse_since(text, NOW)


def test_error_messages_cut_long_values_short() -> None:
    with pytest.raises(ValueError) as info:
        parse_since("x" * 100_000, NOW)
    assert len(str(info.value)) < 300


def _session(home: Home, project: str, end: str | None) -> tuple[SessionManager, str]:
    mgr = SessionManager(home)
    s = mgr.start_session(project)
    mgr.record_message({"role": "user", "content": f"about {project}"})
    if end == "pause":
        mgr.pause_session()
    elif end == "end":
        mgr.end_session()
    return mgr, s.session_id


def test_states_and_filters(rhome: Home) -> None:
    m1, done = _session(rhome, "alpha", "end")
    m2, paused = _session(rhome, "beta", "pause")
    live_mgr, live = _session(rhome, "alpha", None)
    m1.close()
    m2.close()
    try:
        rows = list_sessions(rhome)
        assert [r.session_id for r in rows] == [live, paused, done]
        assert [r.state for r in rows] == ["live", "paused", "completed"]
        assert rows[0].writer_pid is not None and rows[0].title == "about alpha"
        assert [r.session_id for r in list_sessions(rhome, project="alpha")] == [live, done]
        assert [r.session_id for r in list_sessions(rhome, states=["active"])] == [live]
        assert [r.session_id for r in list_sessions(rhome, states=["crashed"])] == []
        assert [r.session_id for r in list_sessions(rhome, limit=1)] == [live]
        assert list_sessions(rhome, since=datetime.now(timezone.utc) + timedelta(hours=1)) == []
        with pytest.raises(ValueError, match="unknown state"):
            list_sessions(rhome, states=["asleep"])
    finally:
        live_mgr.close()
    crashed = _crashed_session(rhome)
    assert session_state(rhome, crashed, "active") == ("crashed", None, None)
    assert [r.session_id for r in list_sessions(rhome, states=["crashed"])] == [crashed]
    assert [r.state for r in list_sessions(rhome, states=["paused"])] == ["paused", "paused"]


def _crashed_session(home: Home) -> str:
    """A session whose writer process died without pausing or ending it."""
    code = (
        "import os, sys\n"
        "from p8j.journal import SessionManager\n"
        "s = SessionManager(sys.argv[1]).start_session('gone')\n"
        "print(s.session_id, flush=True)\n"
        "os._exit(0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(home.path)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_missing_home_lists_nothing(tmp_path: object) -> None:
    assert list_sessions(Home(f"{tmp_path}/nothing")) == []


def test_a_session_with_a_corrupt_line_is_damaged_not_crashed(rhome: Home) -> None:
    mgr = SessionManager(rhome)
    done = mgr.start_session("p").session_id
    mgr.record_message({"role": "user", "content": "hi"})
    mgr.end_session()
    broken = mgr.start_session("p").session_id
    mgr.record_message({"role": "user", "content": "hi"})
    mgr.end_session()
    log = rhome.log_path(broken)
    data = bytearray(log.read_bytes())
    data[-5] ^= 0x01  # SessionEnded's crc: the last line, complete but corrupt
    log.write_bytes(bytes(data))
    rows = {r.session_id: r for r in list_sessions(rhome)}
    assert (rows[broken].state, rows[broken].problems) == ("damaged", 1)
    assert rows[done].state == "completed"
    assert [r.session_id for r in list_sessions(rhome, states=["damaged"])] == [broken]
    for resumable in (["crashed"], ["active"], ["paused", "crashed"]):
        assert list_sessions(rhome, states=resumable) == []


def _two_sessions(home: Home, tmp_dir: str) -> tuple[str, str]:
    """An older session (a) resumed after a newer one (b) ended: a is more recently active."""
    mgr = SessionManager(home)
    a = mgr.start_session("older", cwd=tmp_dir).session_id
    mgr.pause_session()
    b = mgr.start_session("newer", cwd="/elsewhere").session_id
    mgr.end_session()
    mgr.resume_session(a)
    mgr.record_message({"role": "user", "content": "back to a"})
    mgr.end_session()
    return a, b


def test_sort_by_activity_is_the_default_and_started_is_by_start(
    home: Home, tmp_path: Path
) -> None:
    a, b = _two_sessions(home, str(tmp_path))
    assert [r.session_id for r in list_sessions(home)] == [a, b]
    assert [r.session_id for r in list_sessions(home, sort="activity", limit=1)] == [a]
    assert [r.session_id for r in list_sessions(home, sort="started")] == [b, a]
    with pytest.raises(ValueError, match="unknown sort"):
        list_sessions(home, sort="size")


def test_cwd_keeps_the_sessions_started_there(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = _two_sessions(home, str(tmp_path))
    assert [r.session_id for r in list_sessions(home, cwd=tmp_path)] == [a]
    assert [r.session_id for r in list_sessions(home, cwd=str(tmp_path) + "/./")] == [a]
    monkeypatch.chdir(tmp_path)
    rows = list_sessions(home, cwd=".")
    assert [r.session_id for r in rows] == [a]
    assert rows[0].cwd == str(tmp_path)
    assert list_sessions(home, cwd=tmp_path / "sub") == []


def test_a_row_carries_its_summary_field_by_field(rhome: Home) -> None:
    """Rows are built positionally (speed): every field must still land in its own slot."""
    import msgspec

    from p8j.journal.cache.catalog import list_summaries
    from p8j.replay.listing import SessionListing, listing_of

    mgr = SessionManager(rhome)
    mgr.start_session("fields", metadata={"k": "v"})
    mgr.record_message({"role": "user", "content": "a title"})
    mgr.record_command("ls")
    mgr.end_session()
    (summary,) = list_summaries(rhome)
    row = listing_of(rhome, summary)
    # `usage`: the summary's tally becomes the row's totals (tested in test_cli_fidelity.py).
    shared = set(SessionListing.__struct_fields__) & set(type(summary).__struct_fields__)
    shared.discard("usage")
    assert len(shared) == 20
    assert {f: getattr(row, f) for f in shared} == {f: getattr(summary, f) for f in shared}
    assert (row.state, row.writer_pid, row.writer_host) == ("completed", None, None)
    assert row.duration_s is not None and row.duration_s >= 0
    assert list(msgspec.to_builtins(row)) == list(SessionListing.__struct_fields__)


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.sampled_from(["z", "offset", "none", "garbage"]),
)
def test_row_duration_matches_the_exact_parse(a: datetime, b: datetime, form: str) -> None:
    """`listing_of` computes durations inline (a row per session): as the exact parse would."""
    start = a.isoformat(timespec="microseconds") + "Z"
    last = {
        "z": b.isoformat(timespec="microseconds") + "Z",
        "offset": b.isoformat(timespec="microseconds") + "+00:00",
        "none": None,
        "garbage": "2026-13-45T99:00:00.000000Z",  # 27 characters, not a time
    }[form]
    summary = SessionSummary(
        session_id="0190a6e0-0000-7000-8000-000000000001",
        status="paused",
        start_time=start,
        last_activity=last,
    )
    row = listing_of(Path("/nonexistent-p8j-home"), summary)  # paused: no lock is probed
    if last is None or form == "garbage":
        assert row.duration_s is None
    else:
        assert row.duration_s == max(0.0, (b - a).total_seconds())
