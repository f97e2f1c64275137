"""Rendering helpers: colour decisions, times, durations, widths, tables."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from p8j.cli import render
from p8j.cli.main import cli
from p8j.cli.render import (
    Style,
    cell_width,
    duration,
    escape,
    local_time,
    plural,
    relative_time,
    table,
    truncate,
    when,
)
from p8j.journal import Home, SessionManager


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
    # One form everywhere: tenths under 10 s (replay said 0s where tail said 0.3s).
    assert [duration(s) for s in (None, float("nan"), -1.0, 0, 0.34, 9.99, 42.9)] == [
        "-",
        "-",
        "0.0s",
        "0.0s",
        "0.3s",
        "9.9s",
        "42s",
    ]
    assert [duration(s) for s in (252, 3780, 180000)] == [
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


@pytest.fixture
def utc_plus_14() -> Iterator[None]:
    """The process at UTC+14 (a POSIX TZ string named XST), so local and UTC times differ."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "XST-14"
    time.tzset()
    render._OFFSETS.clear()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()
        render._OFFSETS.clear()


def test_times_carry_their_zone_and_utc_shows_utc(
    runner: CliRunner, p8j_home: Home, utc_plus_14: None
) -> None:
    mgr = SessionManager(p8j_home)
    s = mgr.start_session("zones")
    mgr.record_command("ls")
    mgr.end_session()
    start = s.start_time
    local = start.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    utc = start.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    assert local != utc
    out = runner.invoke(cli, ["replay", s.session_id]).stdout
    assert f"started {local} XST" in out
    out = runner.invoke(cli, ["replay", s.session_id, "--utc"]).stdout
    assert f"started {utc} UTC" in out
    assert f"started {utc} UTC" in runner.invoke(cli, ["--utc", "replay", s.session_id]).stdout
    ls_local = runner.invoke(cli, ["ls"]).stdout
    ls_utc = runner.invoke(cli, ["ls", "--utc"]).stdout
    assert local[:16] in ls_local and utc[:16] in ls_utc and utc[:16] not in ls_local
    tail_utc = runner.invoke(cli, ["tail", "--no-follow", "--utc"]).stdout
    assert tail_utc.startswith(utc[11:16])
    search_utc = runner.invoke(cli, ["search", "ls", "--utc"]).stdout
    assert utc[:13] in search_utc
    info = runner.invoke(cli, ["info", "--utc"]).stdout
    assert f"{utc[:16]} UTC" in info


def test_plural() -> None:
    assert [plural(n, "command") for n in (0, 1, 2, 1000)] == [
        "0 commands",
        "1 command",
        "2 commands",
        "1,000 commands",
    ]
    assert (
        plural(1, "entry", "entries") == "1 entry" and plural(2, "entry", "entries") == "2 entries"
    )
