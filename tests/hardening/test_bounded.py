"""Bad input never costs unbounded memory or a traceback: huge lines, deep nesting, bad bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path
from typing import Any

import pytest

from p8j.journal import CorruptLineError, Home, SessionManager
from p8j.journal.codec import encode_event
from p8j.journal.events import MessageRecorded, SessionStarted
from p8j.journal.store.fs import read_events

SID = "01a20c80-0000-7000-8000-0000000b0bad"
RSS_LIMIT_MB = 400


def _run(code: str, *args: str) -> tuple[dict[str, Any], float]:
    """Run `code` in a fresh interpreter; return the JSON it prints and its peak RSS (MB)."""
    wrapper = textwrap.dedent(
        """
        import json, resource, sys
        result = {}
        exec(compile(sys.argv[1], "child", "exec"))
        try:  # VmHWM starts afresh at exec; ru_maxrss can keep the forking parent's peak
            with open("/proc/self/status") as f:
                hwm = next(ln for ln in f if ln.startswith("VmHWM:"))
            result["peak_rss_mb"] = int(hwm.split()[1]) / 1024
        except (OSError, StopIteration):
            result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out, float(out["peak_rss_mb"])


def _crc_line(body: bytes) -> bytes:
    """A line with a matching crc whatever its body holds (the codec's framing)."""
    return body[:-1] + b',"crc":"%08x"}' % zlib.crc32(body)


def _start_line() -> bytes:
    return encode_event(SessionStarted(1, SID, 0, "2026-11-24T08:00:00.000000Z", project_name="b"))


def _home_with(tmp_path: Path, data: bytes | None = None) -> Home:
    home = Home(tmp_path / "home")
    home.ensure()
    if data is not None:
        home.log_path(SID).write_bytes(data)
    return home


_READ = """
from p8j.journal import P8jError
from p8j.journal.store.fs import LogCursor
path = sys.argv[2]
for skip in (False, True):
    cursor = LogCursor(path, skip_corrupt=skip)
    n = 0
    try:
        for _ in cursor.read():
            n += 1
        result[f"skip={skip}"] = {"events": n, "issues": [i.describe() for i in cursor.issues],
                                  "torn": cursor.torn.describe() if cursor.torn else None}
    except P8jError as exc:
        result[f"skip={skip}"] = {"events": n, "error": f"{type(exc).__name__}: {exc}"}
"""


@pytest.mark.slow
def test_a_1_gib_file_without_a_newline_is_read_in_bounded_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _home_with(tmp_path, _start_line())
    log = home.log_path(SID)
    with open(log, "r+b") as f:
        f.truncate(1 << 30)  # sparse: a 1 GiB tail of zero bytes, no newline anywhere
    out, rss = _run(_READ, str(log))
    with capsys.disabled():
        print(f"\n1 GiB without a newline: peak RSS {rss:.0f} MB; {out}")
    strict = out["skip=False"]
    assert strict["events"] == 1
    assert "CorruptLineError" in strict["error"] and "too-long" in strict["error"]
    assert ":2 (byte" in strict["error"]  # names the line and where it starts
    lax = out["skip=True"]
    assert lax["events"] == 1 and lax["torn"] is None
    (issue,) = lax["issues"]
    assert "too-long" in issue and ":2 (byte" in issue
    assert rss < RSS_LIMIT_MB


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("deep nesting", b"[" * 100_000),
        ("deep nesting, closed", b"[" * 100_000 + b"]" * 100_000),
        ("huge exponent", b"1e999999"),
        ("huge negative exponent", b"-1e999999"),
        ("invalid utf-8", b'"\xff\xfe\xfd"'),
        ("lone surrogate bytes", b'"\xed\xa0\x80"'),
        ("overlong encoding", b'"\xc0\xaf"'),
    ],
)
def test_hostile_values_with_a_valid_checksum_are_corrupt_lines(
    tmp_path: Path, name: str, value: bytes
) -> None:
    body = (
        b'{"type":"MessageRecorded","v":1,"session_id":"%s","seq":1,'
        b'"ts":"2026-11-24T08:00:01.000000Z","role":"user","content":%s}' % (SID.encode(), value)
    )
    good = encode_event(
        MessageRecorded(1, SID, 1, "2026-11-24T08:00:02.000000Z", role="user", content="ok")
    )
    home = _home_with(tmp_path, _start_line() + _crc_line(body) + b"\n" + good)
    log = home.log_path(SID)
    with pytest.raises(CorruptLineError) as info:
        read_events(log)
    assert info.value.line == 2 and info.value.path == str(log)
    events, cursor = read_events(log, skip_corrupt=True)
    assert [e.seq for e in events] == [0, 1]  # the good line after it is still read
    (issue,) = cursor.issues
    assert issue.kind == "corrupt" and issue.line == 2
    # As the last line it is still corruption (it ends in a newline), never a torn tail.
    home.log_path(SID).write_bytes(_start_line() + _crc_line(body) + b"\n")
    with pytest.raises(CorruptLineError) as info:
        read_events(log)
    assert info.value.line == 2
    events, cursor = read_events(log, skip_corrupt=True)
    assert len(events) == 1 and cursor.torn is None and cursor.issues[0].line == 2


@pytest.mark.slow
def test_a_million_tiny_events_stream_in_bounded_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = _home_with(tmp_path)
    n = 10**6
    with open(home.log_path(SID), "wb") as f:
        f.write(_start_line())
        buf = []
        for seq in range(1, n + 1):
            buf.append(
                encode_event(MessageRecorded(1, SID, seq, "2026-11-24T08:00:01.000000Z", role="u"))
            )
            if len(buf) == 10_000:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))
    size_mb = home.log_path(SID).stat().st_size / 1e6
    stream, stream_rss = _run(
        """
from p8j.journal.store.fs import LogCursor
cursor = LogCursor(sys.argv[2])
result["events"] = sum(1 for _ in cursor.read())
result["issues"] = len(cursor.issues)
""",
        str(home.log_path(SID)),
    )
    listing, listing_rss = _run(
        """
from p8j.journal import Home
from p8j.journal.cache import list_summaries
(summary,) = list_summaries(Home(sys.argv[2]))
result["messages"] = summary.message_count
""",
        str(home.path),
    )
    with capsys.disabled():
        print(
            f"\n10^6 events ({size_mb:.0f} MB): streaming read peak RSS {stream_rss:.0f} MB, "
            f"listing peak RSS {listing_rss:.0f} MB"
        )
    assert stream["events"] == n + 1 and stream["issues"] == 0
    assert listing["messages"] == n
    # A few MB of buffers, not 10^6 events (they would take several hundred MB).
    assert stream_rss < 150, stream_rss
    assert listing_rss < 150, listing_rss


def test_a_1_mb_line_of_brackets_through_the_whole_stack(home: Home) -> None:
    with SessionManager(home) as mgr:
        sid = mgr.start_session("x").session_id
        mgr.record_message({"role": "user", "content": "ok"})
    after = encode_event(
        MessageRecorded(1, sid, 2, "2026-11-24T08:00:02.000000Z", role="user", content="later")
    )
    with open(home.log_path(sid), "ab") as f:
        f.write(b"[" * (1 << 20) + b"\n")
        f.write(after)  # a good line after it: corruption, not a torn tail
    with pytest.raises(CorruptLineError) as info:
        read_events(home.log_path(sid))
    assert info.value.line == 4
    env = dict(os.environ, P8J_HOME=str(home.path))
    proc = subprocess.run(
        [sys.executable, "-m", "p8j.cli", "verify", sid], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "corrupt" in proc.stdout
