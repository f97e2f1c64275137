"""Raw lines of a log file for search's fast path: blocks skipped unread by a byte test.

Contract:
- `candidate_lines` reads a log from a byte offset in 1 MiB blocks (``preadv``
  into one reused buffer) and yields ``(offset, line)`` for each
  newline-terminated line that may pass a byte test (`LineTest`): a block is
  skipped whole (no split, no decoding) when the test rejects it and it refers
  to no blob, otherwise each of its lines is tested. A line that refers to
  blobs (values stored outside the line) is always yielded. Bytes after the
  last newline (a torn tail) are never yielded.
- `lines_at` yields the lines at known (offset, length) places (index candidates).
- Nothing is decoded or verified here: callers check every line they keep as
  the reader would (replay/search_scan.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from ...errors import JournalIOError
from .archived import open_log_readonly

__all__ = ["BLOB_MARK", "BLOCK", "candidate_lines", "lines_at"]

BLOCK = 1 << 20
BLOB_MARK = b',"blobs":[{"path":['
_Test = Callable[[bytes | bytearray, int, int], bool]


def candidate_lines(path: Path, test: _Test, *, offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of the lines from `offset` on that may pass `test` (module docstring)."""
    fd = _open(path)
    buf = bytearray(BLOCK)  # read into one buffer: no new 1 MiB object (and page faults) a block
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
            if test(buf, 0, end) or buf.find(BLOB_MARK, 0, end) >= 0:
                yield from _lines(test, bytes(buf[:end]), pos)
            pos += end
    finally:
        os.close(fd)


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


def _open(path: Path) -> int:
    try:
        return open_log_readonly(path)
    except FileNotFoundError as exc:
        raise JournalIOError("no such log", path=path) from exc
