"""Helpers for the journal tests: crafting lines, running child writers, waiting on conditions."""

from __future__ import annotations

import importlib
import os
import selectors
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import msgspec
import pytest
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
CHILD = HERE / "child_writer.py"


def crc_line(obj: dict[str, Any]) -> bytes:
    """A checksummed journal line (newline included) for an arbitrary JSON object."""
    body = msgspec.json.encode(obj)
    crc = zlib.crc32(body)
    return body[:-1] + b',"crc":"%08x"}\n' % crc


def line_ends(data: bytes) -> list[int]:
    """Offsets just past every newline in `data`."""
    return [i + 1 for i, b in enumerate(data) if b == 0x0A]


def line_of(data: bytes, offset: int) -> int:
    """1-based number of the line that holds byte `offset`."""
    return data.count(b"\n", 0, offset) + 1


def patch_os(monkeypatch: pytest.MonkeyPatch, name: str, fake: Callable[..., Any]) -> None:
    """Replace system call `name` (e.g. "fdatasync") for the journal's write path.

    Patches ``os.<name>`` and the default `Storage`'s bound copy, which writers
    created afterwards pick up.
    """
    if hasattr(os, name):
        monkeypatch.setattr(os, name, fake)
    storage = importlib.import_module("p8j.journal.store.fs.syscalls")
    monkeypatch.setattr(storage.REAL, name, fake)


def common_prefix(a: str, b: str) -> str:
    """The longest common start of `a` and `b`."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def wait_until(pred: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll `pred` until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.002)


def spawn_child(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start tests/child_writer.py with `args` (text pipes, line-buffered)."""
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        env=env,
    )


def read_line(stream: IO[str], timeout: float = 20.0) -> str:
    """Read one line from a child's stdout, failing after `timeout` seconds."""
    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            raise AssertionError(f"child printed nothing for {timeout}s")
    finally:
        sel.close()
    return stream.readline()


def run_child(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run child_writer.py to completion and return its result (raises on timeout)."""
    return subprocess.run(
        [sys.executable, str(CHILD), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def expect_lines(proc: subprocess.Popen[str], prefix: str, count: int) -> list[str]:
    """Read `count` lines starting with `prefix` from `proc`'s stdout; return their payloads."""
    assert proc.stdout is not None
    out: list[str] = []
    while len(out) < count:
        text = read_line(proc.stdout)
        if not text:
            err = proc.stderr.read() if proc.stderr is not None else ""
            raise AssertionError(f"child exited early; stderr:\n{err}")
        word, _, rest = text.rstrip("\n").partition(" ")
        assert word == prefix, f"expected {prefix!r}, child printed {text!r}"
        out.append(rest)
    return out


def kill_and_reap(proc: subprocess.Popen[str]) -> None:
    """SIGKILL `proc` (if alive) and wait for it, closing its pipes."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=20)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def files_under(root: Path) -> list[Path]:
    """Every file and directory below `root` (not following symlinks)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        found.extend(Path(dirpath) / n for n in (*dirnames, *filenames))
    return found


def strip_times(d: dict[str, Any], keys: Sequence[str] = ("ts",)) -> dict[str, Any]:
    """A copy of `d` without the given keys."""
    return {k: v for k, v in d.items() if k not in keys}


# Hypothesis: any JSON value msgspec encodes and decodes exactly.
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)

# Strings that are not session ids (paths, NULs, huge, wrong case...).
BAD_IDS: list[object] = [
    "../x",
    "/etc/passwd",
    "a/b",
    "01a20c6a-1677-71ff-911a-7d8a8490bda4\x00",
    "\x00",
    "01a20c6a-1677-71ff-911a-7d8a8490bda4\n",
    "",
    "a" * 10_000,
    "0" * 10_000,
    "01A20C6A-1677-71FF-911A-7D8A8490BDA4",
    "01a20c6a16777 1ff911a7d8a8490bda4",
    "01a20c6a-1677-71ff-911a-7d8a8490bda",
    " 01a20c6a-1677-71ff-911a-7d8a8490bda4",
    "01a20c6a-1677-71ff-911a-7d8a8490bda4.jsonl",
    "..",
    ".",
    "latest/../../x",
    None,
    5,
    b"01a20c6a-1677-71ff-911a-7d8a8490bda4",
    ["01a20c6a-1677-71ff-911a-7d8a8490bda4"],
]

BAD_PREFIXES = [b for b in BAD_IDS if b != "01a20c6a-1677-71ff-911a-7d8a8490bda"]
