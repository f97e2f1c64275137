"""Raw lines of a log file for search's fast path: only the lines around candidate bytes.

Contract:
- `candidate_lines` reads a log from a byte offset in blocks of at least
  `BLOCK` bytes (one ``preadv`` per block into a pooled buffer, at most the
  rest of the file) and yields ``(offset, line)`` for each newline-terminated
  line that may pass a byte test (`LineTest`), in file order. A test that
  carries a `finder` (see `Finder`) is not run on whole blocks: the finder
  jumps to the next candidate position of the block, only the line around it
  is cut out and tested, and the scan goes on after that line; a plain test
  rejects a block whole or else is run on each of its lines. A line that
  refers to blobs (values stored outside the line: `BLOB_MARK`) is always
  yielded. Bytes after the last newline (a torn tail) are never yielded.
- `Literal` finds a literal's occurrences in a buffer with RE2 from the
  literal's rarest byte on (RE2 skips to that byte with memchr, so a rare byte
  makes the search run at memory speed; `bytes.find` runs at a fraction of
  that), the bytes before it compared at each hit; a case-insensitive literal
  (ASCII) is searched whole with RE2's case folding.
- `lines_at` yields the lines at known (offset, length) places (index candidates).
- Nothing is decoded or verified here: callers check every line they keep as
  the reader would (replay/search_scan.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import re2

from ...errors import JournalIOError
from .archived import open_log_readonly

__all__ = [
    "BLOB_MARK",
    "BLOCK",
    "Finder",
    "FinderTest",
    "Literal",
    "candidate_lines",
    "lines_at",
]

BLOCK = 1 << 20
BLOB_MARK = b',"blobs":[{"path":['
# A position in buffer[start:end] where a candidate line's bytes are, or -1 (`FinderTest`).
Finder = Callable[[Any, int, int], int]
_Test = Callable[[bytes | bytearray, int, int], bool]
# Bytes of agent logs (JSON of English text and code) from the most to the least
# frequent down to ~0.17% (measured over ../shared/realdata); a byte not listed is
# rarer. Only the order matters: a literal is searched from its rarest byte on.
_COMMON = b" entsoair\"cd\\lpmu:-fgh1,/.20yb_3v45wk7689*xTSC)(A=I`PMR{E}UDjLNFOqBz'ZHG+WYVJK#;QX"
_RANK = {b: i for i, b in enumerate(_COMMON)}
_UTF8_RANK = _COMMON.index(b"w")  # each byte of non-ASCII text is about this common
_MIN_TAIL = 4  # the anchored part RE2 checks: short ones would hit too often


class FinderTest(Protocol):
    """A `LineTest` that can also find candidate positions in a block (see `Finder`)."""

    def __call__(self, data: bytes | bytearray, start: int, end: int) -> bool:
        """True if data[start:end] (one line) may match."""
        ...

    def finder(self) -> Finder:
        """A finder for one buffer: called with non-decreasing starts, it may keep state.

        It returns the smallest position p >= start (p < end) such that the line
        holding p may pass the test, or -1 when no line in [start, end) may; every
        line that may pass holds such a position.
        """
        ...


def _rank(byte: int) -> int:
    if byte >= 0x80:
        return _UTF8_RANK
    return _RANK.get(byte, len(_COMMON))


class Literal:
    """A literal (bytes, no newline) found fast in buffers (module docstring)."""

    def __init__(self, data: bytes, *, ignore_case: bool = False) -> None:
        if not data or b"\n" in data:
            raise ValueError("a literal is non-empty and holds no newline")
        self.data = data
        self.ignore_case = ignore_case
        options = re2.Options()
        options.log_errors = False
        options.never_capture = True
        if ignore_case:
            # RE2 folds case with a shift DFA that does not depend on the first byte.
            options.case_sensitive = False
            self.skip = 0
        else:
            last = max(0, len(data) - _MIN_TAIL)
            self.skip = max(range(last + 1), key=lambda i: _rank(data[i]))
        self.head = data[: self.skip]
        self._regex = re2.compile(re2.escape(data[self.skip :]), options)

    def find(self, buf: Any, start: int, end: int) -> int:
        """The position of the first occurrence in buf[start:end], or -1."""
        skip = self.skip
        pos = start + skip
        head = self.head
        search = self._regex.search
        while True:
            m = search(buf, pos, end)
            if m is None:
                return -1
            at: int = m.start() - skip
            if not skip or buf[at : at + skip] == head:
                return at
            pos = at + skip + 1

    def finder(self) -> Finder:
        """This literal's `Finder` (stateless)."""
        return self.find


_BLOBS = Literal(BLOB_MARK)
_POOL: list[bytearray] = []  # read buffers, reused: a fresh one costs its page faults


def candidate_lines(path: Path, test: _Test, *, offset: int = 0) -> Iterator[tuple[int, bytes]]:
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


def _open(path: Path) -> int:
    try:
        return open_log_readonly(path)
    except FileNotFoundError as exc:
        raise JournalIOError("no such log", path=path) from exc
