"""Raw lines of a log file for search's fast path: only the lines around candidate bytes.

Contract:
- `candidate_lines` reads a log from a byte offset in blocks of `BLOCK` bytes
  (more for a longer line; one ``preadv`` each into a pooled buffer) and
  yields ``(offset, line)`` for each newline-terminated line that may pass a
  byte test (`LineTest`), in file order. A test that carries a `finder`
  (`FinderTest`) is not run on whole blocks: the finder jumps to the next
  candidate position of the block, only the line around it is cut out and
  tested, and the scan goes on after that line; a plain test rejects a block
  whole or else is run on each of its lines. A line that
  refers to blobs (values stored outside the line: `BLOB_MARK`) is always
  yielded. Bytes after the last newline (a torn tail) are never yielded.
- Candidate places (a test's finder, the blob marker) are found with
  `Literal` (journal/literals.py): RE2 from each literal's rarest byte on.
- `lines_at` yields the lines at known (offset, length) places (index candidates).
- `log_file` is `Home.log_path` as a str (the id checked the same way): a scan
  of every log builds no `Path` per log (~5 us each).
- Nothing is decoded or verified here: callers check every line they keep as
  the reader would (replay/search_scan.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from ...errors import JournalIOError
from ...ids import validate_session_id
from ...literals import Finder, Literal
from .archived import open_log_readonly
from .layout import LOG_SUFFIX, Home

__all__ = ["BLOB_MARK", "BLOCK", "candidate_lines", "lines_at", "log_file"]

BLOCK = 1 << 20
BLOB_MARK = b',"blobs":[{"path":['
_Test = Callable[[bytes | bytearray, int, int], bool]
_BLOBS = Literal(BLOB_MARK)
_POOL: list[bytearray] = []  # read buffers, reused: a fresh one costs its page faults


def log_file(home: Home, session_id: str) -> str:
    """The path of a session's log, as `Home.log_path` names it, as a str."""
    return f"{os.fspath(home.sessions_dir)}/{validate_session_id(session_id)}{LOG_SUFFIX}"


def candidate_lines(
    path: str | Path, test: _Test, *, offset: int = 0
) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of the lines from `offset` on that may pass `test` (module docstring)."""
    make: Callable[[], Finder] | None = getattr(test, "finder", None)
    fd = _open(path)
    try:
        buf = _POOL.pop()
    except IndexError:  # none free (another scan, another thread, holds it)
        buf = bytearray(BLOCK)
    if len(buf) != BLOCK:  # BLOCK was changed (tests)
        buf = bytearray(BLOCK)
    try:
        pos = offset
        while True:
            try:
                n = os.preadv(fd, [buf], pos)
            except OSError as exc:
                raise JournalIOError(f"read failed: {exc.strerror}", path=path) from exc
            end = buf.rfind(b"\n", 0, n) + 1
            if end == 0:
                if n < len(buf):
                    return  # the end, or a torn tail: bytes with no newline are never yielded
                buf = bytearray(2 * len(buf))  # a line longer than the buffer
                continue
            if make is not None:
                yield from _found(buf, end, pos, test, make())
            elif test(buf, 0, end) or _BLOBS.find(buf, 0, end) >= 0:
                yield from _lines(test, bytes(buf[:end]), pos)
            if n < len(buf):
                return  # read to the end: what follows the last newline is a torn tail
            pos += end
    finally:
        os.close(fd)
        if len(buf) == BLOCK:
            _POOL.append(buf)


def _found(
    buf: bytearray, end: int, pos: int, test: _Test, find: Finder
) -> Iterator[tuple[int, bytes]]:
    """The candidate lines of buf[:end] (whole lines), jumping from candidate to candidate."""
    start = 0
    hit = find(buf, 0, end)
    blob = _BLOBS.find(buf, 0, end)
    while hit >= 0 or blob >= 0:
        at = hit if blob < 0 or 0 <= hit < blob else blob
        ls = buf.rfind(b"\n", start, at) + 1 or start
        le = buf.find(b"\n", at, end)
        ln = bytes(buf[ls:le])
        if ls <= blob < le or test(ln, 0, len(ln)):
            yield pos + ls, ln
        start = le + 1
        if 0 <= hit < start:
            hit = find(buf, start, end)
        if 0 <= blob < start:
            blob = _BLOBS.find(buf, start, end)


def _lines(test: _Test, block: bytes, pos: int) -> Iterator[tuple[int, bytes]]:
    start = 0
    for ln in block.split(b"\n"):
        if ln and (test(ln, 0, len(ln)) or BLOB_MARK in ln):
            yield pos + start, ln
        start += len(ln) + 1


def lines_at(path: Path, places: Sequence[tuple[int, int]]) -> Iterator[tuple[int, bytes]]:
    """(offset, line) at each (offset, length) place, in the order given."""
    fd = _open(path)
    try:
        for off, length in places:
            try:
                data = os.pread(fd, length, off)
            except OSError as exc:
                raise JournalIOError(f"read failed: {exc.strerror}", path=path) from exc
            yield off, data
    finally:
        os.close(fd)


def _open(path: str | Path) -> int:
    try:
        return open_log_readonly(path)
    except FileNotFoundError as exc:
        raise JournalIOError("no such log", path=path) from exc
