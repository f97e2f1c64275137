"""Reading a log for search without decoding the lines that cannot match.

Contract:
- `need_test` makes the byte test a store's raw line scan (`HomeStore.scan_lines`,
  journal/store/fs/rawlines.py) skips blocks and lines with: a line may match
  when it holds what a `Need` says (``-i``: case-insensitively, with RE2 on
  the bytes); the scan also yields every line that refers to blobs (values
  stored outside the line).
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

import re2

from p8j.journal import AnyEvent, CorruptLineError, P8jError, UnknownEvent
from p8j.journal.cache.search_index import Need
from p8j.journal.codec import decode_line
from p8j.journal.store.base import Blobs, LineTest, ReadIssue, placeholder, resolve_blobs

__all__ = ["Test", "blob_line_may_match", "decode_candidate", "need_test"]

# A test of raw bytes: does data[start:end] hold what a need says?
Test = LineTest


def _piece_test(piece: str, ignore_case: bool) -> Test:
    data = piece.encode("utf-8")
    if not ignore_case:
        return lambda block, start, end: block.find(data, start, end) >= 0
    # RE2 on the raw bytes: several times faster than lower-casing a block to search it.
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.never_capture = True
    regex = re2.compile(re2.escape(data), options)
    return lambda block, start, end: regex.search(block, start, end) is not None


def need_test(need: Need, ignore_case: bool) -> Test:
    """A test of raw bytes (a block or a line) for what `need` says every match holds."""
    if isinstance(need, str):
        return _piece_test(need, ignore_case)
    op, parts = need
    tests = [need_test(p, ignore_case) for p in parts]
    if op == "and":
        return lambda block, start, end: all(t(block, start, end) for t in tests)
    return lambda block, start, end: any(t(block, start, end) for t in tests)


def blob_line_may_match(
    event: AnyEvent | UnknownEvent, ln: bytes, test: Test, texts: list[str], store: Blobs
) -> bool:
    """False only if no text of `event` can match once its blobs' values are put back.

    `texts` are the event's searchable texts as logged (placeholders in place of
    the values). A blob that is missing or damaged gives True: the reader then
    reports it and searches the placeholder. A value no text holds (an image's
    bytes) needs no look; a text value (UTF-8 or JSON bytes) is tested on its raw
    bytes together with the line; a base64 value that a text holds gives True.
    """
    parts = [ln]
    searched = "\n".join(texts)
    for ref in getattr(event, "blobs", ()):
        try:
            data = store.get(ref.sha256, ref.size)
        except P8jError:
            return True
        if placeholder(ref) not in searched:
            continue
        if ref.encoding == "base64":
            return True
        parts.append(data)
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
