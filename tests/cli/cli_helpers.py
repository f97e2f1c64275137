"""Helpers for the CLI tests: hostile logs, forbidden-output checks, waiting, subprocesses."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from p8j.journal import Home, SessionManager

# Everything a logged string must never smuggle to a terminal.
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)
SGR = re.compile(r"\x1b\[[0-9;]*m")  # our own colours, when colour is on

ESC_PAYLOADS = [
    "\x1b[2J\x1b[H",  # clear the screen
    "\x1b]0;pwned title\x07",  # set the window title (OSC 0)
    "\x1b]52;c;ZWNobyBwd25lZA==\x07",  # write the clipboard (OSC 52)
    "\x9b31m",  # C1 CSI
    "\x1b[31mRED\x1b[0m",
]
BIDI = "safe\u202eexe.txt\u202c and \u2066isolated\u2069"
FORGED = "done\rFAKE LINE: all tests passed\r\n"


def assert_clean(text: str, *, colour: bool = False) -> None:
    """Fail if `text` holds any control character, escape sequence or bidi override."""
    if colour:
        text = SGR.sub("", text)
    bad = FORBIDDEN.search(text)
    if bad is not None:
        around = text[max(0, bad.start() - 40) : bad.start() + 40]
        raise AssertionError(f"forbidden character {bad.group()!r} at {bad.start()}: {around!r}")


def crc_line(obj: dict[str, Any]) -> bytes:
    """A checksummed journal line (newline included) for an arbitrary JSON object."""
    body = msgspec.json.encode(obj)
    return body[:-1] + b',"crc":"%08x"}\n' % zlib.crc32(body)


def record_simple(home: Home, project: str = "proj", messages: Sequence[str] = ("hello",)) -> str:
    """A completed session with user messages, a command and an execution; its id."""
    mgr = SessionManager(home)
    s = mgr.start_session(project, {"model": "m-1"})
    for text in messages:
        mgr.record_message({"role": "user", "content": text})
    mgr.record_command("git status")
    mgr.record_execution("git status", 0, "nothing to commit", duration_s=0.1)
    mgr.end_session()
    return s.session_id


def hostile_session(home: Home) -> str:
    """A session whose every text field is hostile, with corrupt lines in the middle."""
    evil = "".join(ESC_PAYLOADS) + BIDI + FORGED
    big = ("A" * 1000 + "\x1b[2J") * 500  # a ~500 kB line with escapes all through it
    mgr = SessionManager(home)
    s = mgr.start_session("evil\x1b]0;title\x07project\u202e", {"note": evil})
    mgr.record_message({"role": "user", "content": "first " + evil})
    mgr.record_message(
        {
            "role": "assistant\x1b[2J",
            "content": [
                {"type": "text", "text": evil},
                {"type": "thinking", "thinking": evil},
                {
                    "type": "tool_use",
                    "id": "t\x1b[1",
                    "name": "Ba\x1bsh",
                    "input": {"command": evil},
                },
            ],
        }
    )
    mgr.record_message(
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": evil}]}
    )
    mgr.record_message({"role": "user", "content": big})
    mgr.record_command("rm -rf /tmp/x" + evil)
    mgr.record_execution("echo" + evil, 0, evil * 3 + big, duration_s=0.5)
    mgr.update_metadata(title=evil)
    mgr.pause_session(reason=evil)
    mgr.close()
    path = home.log_path(s.session_id)
    lines = path.read_bytes().split(b"\n")
    # Corrupt lines in the middle: garbage with escapes, and a flipped checksum.
    lines.insert(3, b"garbage \x1b[2J\x1b]0;pwned\x07 line\r")
    lines.insert(5, lines[4].replace(b'"crc":"', b'"crc":"0', 1)[:-2] + b'"}')
    path.write_bytes(b"\n".join(lines))
    return s.session_id


def wait_until(pred: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll `pred` until true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


def run_p8j(
    *args: str, home: Path | None = None, env: dict[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m p8j.cli ARGS`` in a subprocess (bytes output)."""
    full_env = dict(os.environ if env is None else env)
    if home is not None:
        full_env["P8J_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "p8j.cli", *args],
        capture_output=True,
        env=full_env,
        timeout=60,
        check=False,
        **kw,
    )
