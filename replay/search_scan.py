"""Reading a log for search without decoding the lines that cannot match.

Contract:
- `need_test` makes the byte test a store's raw line scan (`HomeStore.scan_lines`,
  journal/store/fs/rawlines.py) narrows with: a line may match when it holds
  what a `Need` says (``-i``: case-insensitively, with RE2 on the bytes). It is
  a `NeedTest`, whose finder lets the scan jump from one place that may match
  to the next in a whole block and test only the lines there; the scan also
  yields every line that refers to blobs (values stored outside the line).
- A piece's bytes appear verbatim in any line whose text holds it because
  pieces hold no character JSON must escape (search_pattern.py) and p8j's
  encoder escapes nothing else: it writes UTF-8, never ``\\uXXXX`` or ``\\/``
  for a printable character. A hand-made line spelling a piece's character
  that way (valid JSON, and it may pass its CRC) would be missed; p8j itself
  never writes one.
- A line that refers to blobs but does not itself pass the test is decoded
  without its blobs, and `blob_line_may_match` says whether the values the
  blobs put back could change that (see there); only then is it read in full.
- `decode_candidate` checks and decodes one such line as the reader would
  (framing, CRC, session id; blob values put back, blob problems reported as
  `ReadIssue`s) and raises `CorruptLineError` for a line the reader would skip:
  search then reads that session with the verifying reader instead, so a
  corrupt log gets exactly the reader's results and issues.
"""

from __future__ import annotations

import os
from typing import Any, cast

from p8j.journal import AnyEvent, CorruptLineError, P8jError, UnknownEvent
from p8j.journal.cache.search_index import Need
from p8j.journal.codec import decode_line
from p8j.journal.literals import Finder, Literal
from p8j.journal.store.base import Blobs, LineTest, ReadIssue, placeholder, resolve_blobs

__all__ = ["NeedTest", "Test", "blob_line_may_match", "decode_candidate", "need_test"]

# A test of raw bytes: does data[start:end] hold what a need says?
Test = LineTest


class NeedTest:
    """A byte test for what a need says every match holds, with a finder for whole blocks.

    Called on a line (or any bytes) it says whether they hold the need; its
    `finder` (journal/literals.py's `FinderTest`) jumps to the next place in a block
    where a line that holds it may be: for a piece, the piece's next occurrence;
    for an ``and``, the next occurrence of its longest piece (every line that
    holds the need holds it); for an ``or``, the nearest of its branches' places.
    """

    def __init__(self, need: Need, ignore_case: bool) -> None:
        self.literal: Literal | None = None
        self.op = ""
        self.parts: list[NeedTest] = []
        if isinstance(need, str):
            self.literal = Literal(need.encode("utf-8"), ignore_case=ignore_case)
        else:
            self.op, parts = need
            self.parts = [NeedTest(p, ignore_case) for p in parts]

    def __call__(self, block: bytes | bytearray, start: int, end: int) -> bool:
        """True if block[start:end] holds what the need says."""
        if self.literal is not None:
            return self.literal.find(block, start, end) >= 0
        if self.op == "and":
            return all(t(block, start, end) for t in self.parts)
        return any(t(block, start, end) for t in self.parts)

    def finder(self) -> Finder:
        """A finder for one block (`FinderTest.finder`)."""
        if self.literal is not None:
            return self.literal.find
        if self.op == "and":
            pieces = [t.literal for t in self.parts if t.literal is not None]
            if pieces:
                return max(pieces, key=lambda lit: len(lit.data)).find
            return self.parts[0].finder()
        finds = [t.finder() for t in self.parts]
        last = [-2] * len(finds)  # each branch's next place; -1: none left in the block

        def find(block: Any, start: int, end: int) -> int:
            best = -1
            for i, f in enumerate(finds):
                at = last[i]
                if -1 < at < start or at == -2:
                    at = last[i] = f(block, start, end)
                if at >= 0 and (best < 0 or at < best):
                    best = at
            return best

        return find


def need_test(need: Need, ignore_case: bool) -> NeedTest:
    """A test of raw bytes (a block or a line) for what `need` says every match holds."""
    return NeedTest(need, ignore_case)


def blob_line_may_match(
    event: AnyEvent | UnknownEvent,
    ln: bytes,
    test: Test,
    texts: list[str],
    store: Blobs,
    intact: set[tuple[str, int]] | None = None,
) -> bool:
    """False only if no text of `event` can match once its blobs' values are put back.

    `texts` are the event's searchable texts as logged (placeholders in place of
    the values). A blob that is missing or damaged gives True: the reader then
    reports it and searches the placeholder. A value no text holds (an image's
    bytes) needs no look, only a check that it is intact: `intact` keeps the
    blobs already checked by this search (the same image is often referred to
    again and again), so each is read and hashed once; a text value (UTF-8 or
    JSON bytes) is tested on its raw bytes together with the line; a base64
    value that a text holds gives True.
    """
    parts = [ln]
    searched = "\n".join(texts)
    for ref in getattr(event, "blobs", ()):
        if placeholder(ref) in searched:
            if ref.encoding == "base64":
                return True
            try:
                parts.append(store.get(ref.sha256, ref.size))
            except P8jError:
                return True
            continue
        key = (ref.sha256, ref.size)
        if intact is not None and key in intact:
            continue
        try:
            store.get(ref.sha256, ref.size)
        except P8jError:
            return True
        if intact is not None:
            intact.add(key)
    joined = b"\n".join(parts)
    return test(joined, 0, len(joined))


def decode_candidate(
    ln: bytes,
    *,
    path: str | os.PathLike[str],
    session_id: str,
    offset: int,
    line: int | None,
    blobs: Blobs | None,
    issues: list[ReadIssue],
) -> AnyEvent | UnknownEvent:
    """The event of a candidate line, checked as the reader checks it (module docstring).

    `line` None means the log is known clean (the catalog or the index read it
    with no problem): then each line holds one event and its number is seq + 1.
    """
    spath = os.fspath(path)
    event = decode_line(ln, path=spath, lineno=line, offset=offset)
    if event.session_id != session_id:
        raise CorruptLineError(
            f"event of session {event.session_id} in this log",
            path=spath,
            line=line,
            offset=offset,
            data=ln,
        )
    if blobs is not None and getattr(event, "blobs", None):
        resolved, problems = resolve_blobs(event, cast(Any, blobs))  # it only calls get()
        where = line if line is not None else event.seq + 1
        for p in problems:
            issues.append(ReadIssue(p.kind, spath, where, offset, p.message))
        event = resolved
    return event
