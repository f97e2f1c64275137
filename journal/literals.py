"""Literals found fast in raw bytes, and the finder protocol of raw line scans.

Contract:
- `Literal` finds a literal's occurrences in a buffer (bytes, bytearray, any
  buffer) exactly as ``bytes.find`` does, with RE2 from the literal's rarest
  byte on: RE2 skips to that byte with memchr, so a rare byte makes the search
  run at memory speed where ``bytes.find`` runs at a fraction of it (~13 against
  ~1 GB/s on agent logs); the bytes before it are compared at each hit. How
  rare a byte is comes from a fixed table measured on agent logs (JSON of
  English text and code); a wrong guess costs speed, never a result. A
  case-insensitive literal (ASCII) is searched whole with RE2's case folding.
  The search calls RE2's own ``Match`` (google-re2's ``_re2`` module) where
  that is there, not the wrapper's ``search`` (a generator and a match object
  per call: ~3 us, paid per block of a scan); another google-re2 gets the
  wrapper, with the same results.
- `FinderTest` is a line test (store/base.py's `LineTest`) that can also jump
  to the next candidate place in a block (a `Finder`): raw line scans
  (store/fs/rawlines.py) then cut out and test only the lines there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import re2

__all__ = ["UNANCHORED", "Finder", "FinderTest", "Literal", "direct_match"]

# A position in buffer[start:end] where a candidate line's bytes are, or -1 (`FinderTest`).
Finder = Callable[[Any, int, int], int]
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


UNANCHORED: Any = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)


def direct_match(regex: Any) -> Callable[[Any, Any, int, int], list[tuple[int, int]]] | None:
    """The compiled pattern's own ``Match`` (spans; (-1, -1) first if none), if it has one."""
    match = getattr(getattr(regex, "_regexp", None), "Match", None)
    if match is None or UNANCHORED is None:
        return None
    try:
        found = match(UNANCHORED, b"", 0, 0)
        if not isinstance(found, list) or len(found[0]) != 2:
            return None
    except Exception:  # a google-re2 whose internals differ: the wrapper then
        return None
    return match  # type: ignore[no-any-return]


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
        self._match = direct_match(self._regex)

    def find(self, buf: Any, start: int, end: int) -> int:
        """The position of the first occurrence in buf[start:end], or -1."""
        match = self._match
        if match is None:
            return self._find_wrapped(buf, start, end)
        skip = self.skip
        head = self.head
        size = len(buf)
        end = max(0, min(end, size))  # as the wrapper (and bytes.find) clamp them
        pos = max(0, min(start + skip, size))
        while pos <= end:
            at: int = match(UNANCHORED, buf, pos, end)[0][0]
            if at < 0:
                return -1
            at -= skip
            if not skip or buf[at : at + skip] == head:
                return at
            pos = at + skip + 1
        return -1

    @property
    def direct(self) -> bool:
        """True if `find` calls RE2's own Match (else the wrapper's search)."""
        return self._match is not None

    def _find_wrapped(self, buf: Any, start: int, end: int) -> int:
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
