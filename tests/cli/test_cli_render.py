"""Rendering helpers: colour decisions, times, durations, widths, tables."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest

from p8j.cli.render import (
    Style,
    cell_width,
    duration,
    escape,
    local_time,
    relative_time,
    table,
    truncate,
    when,
)


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    tty, pipe = FakeTTY(), io.StringIO()
    assert Style.for_stream("auto", tty).enabled
    assert not Style.for_stream("auto", pipe).enabled
    assert Style.for_stream("always", pipe).enabled
    assert not Style.for_stream("never", tty).enabled
    monkeypatch.setenv("NO_COLOR", "1")
    assert not Style.for_stream("auto", tty).enabled
    assert Style.for_stream("always", tty).enabled  # an explicit flag beats NO_COLOR
    monkeypatch.setenv("NO_COLOR", "")
    assert Style.for_stream("auto", tty).enabled  # empty means unset (no-color.org)
    monkeypatch.setenv("TERM", "dumb")
    assert not Style.for_stream("auto", tty).enabled


def test_style_is_a_no_op_when_off() -> None:
    assert Style(False)("x", "red", bold=True) == "x"
    assert Style(True)("x", "red") == "\x1b[31mx\x1b[0m"
    assert Style(True)("", "red") == ""


def test_relative_times() -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)

    def ago(**kw: float) -> str:
        return relative_time(now - timedelta(**kw), now)

    assert ago(seconds=2) == "just now"
    assert ago(seconds=42) == "42s ago"
    assert ago(minutes=5, seconds=10) == "5m ago"
    assert ago(hours=3) == "3h ago"
    assert ago(days=4) == "4d ago"
    assert ago(days=400).startswith("2025-")
    assert relative_time(now + timedelta(hours=1), now) == "in the future"
    assert relative_time("2026-11-24T11:59:00.000000Z", now) == "1m ago"
    assert relative_time("2026-11-24T13:59:00+02:00", now) == "1m ago"
    assert relative_time(None) == "-"
    assert relative_time("not a time\x1b[2J") == "not a time\\x1b[2J"


def test_local_time_is_local() -> None:
    ts = "2026-11-24T07:06:05.000123Z"
    expected = datetime(2026, 11, 24, 7, 6, 5, tzinfo=timezone.utc).astimezone()
    assert local_time(ts) == expected.strftime("%Y-%m-%d %H:%M")
    assert local_time(ts, seconds=True) == expected.strftime("%Y-%m-%d %H:%M:%S")
    assert local_time("2026-11-24T07:06:05Z") == expected.strftime("%Y-%m-%d %H:%M")
    assert when(ts, relative=False) == local_time(ts)
    assert local_time(None) == "-"


def test_durations() -> None:
    assert [duration(s) for s in (None, 0, 42.9, 252, 3780, 180000)] == [
        "-",
        "0s",
        "42s",
        "4m12s",
        "1h03m",
        "2d02h",
    ]


def test_widths_and_truncation() -> None:
    assert cell_width("abc") == 3
    assert cell_width("漢字") == 4
    assert cell_width("e\u0301") == 1
    assert truncate("hello world", 8) == "hello w…"
    assert truncate("漢字漢字", 5) == "漢字…"
    assert truncate("short", 10) == "short"
    assert truncate("x", 0) == ""


def test_table_aligns_by_cells() -> None:
    lines = table(["A", "B", "C"], [["漢字", "1", "tail"], ["x", "22", "t"]], right=(1,))
    assert lines == ["A      B  C", "漢字   1  tail", "x     22  t"]
    cut = table(["A", "T"], [["a", "x" * 50]], width=20)
    assert cell_width(cut[1]) <= 20 and cut[1].endswith("…")


def test_escape() -> None:
    assert escape("a\nb\x1b") == "a↵b\\x1b"
    assert escape("a\nb\x1b", multiline=True) == "a\nb\\x1b"
