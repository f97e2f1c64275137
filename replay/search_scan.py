"""Reading a log for search without decoding the lines that cannot match.

Contract:
- `candidate_lines` reads a log from a byte offset in 1 MiB blocks and yields
  ``(offset, line)`` for each newline-terminated line that may hold a match of
  a `Need` (`need_test`): a block is skipped whole (no split, no decoding)
  when it cannot hold one, otherwise each of its lines is tested. A line may
  match when it holds what the need says (``-i``: case-insensitively, with
  RE2 on the bytes), or when it refers to blobs (values stored outside the
  line). Bytes after the last newline (a torn tail) are never yielded.
- A piece's bytes appear verbatim in any line whose text holds it because
  pieces hold no character JSON must escape (search_pattern.py) and p8j's
  encoder escapes nothing else: it writes UTF-8, never ``\\uXXXX`` or ``\\/``
  for a printable character. A hand-made line spelling a piece's character
  that way (valid JSON, and it may pass its CRC) would be missed; p8j itself
  never writes one.
- A line that refers to blobs but does not itself pass the test is decoded
  without its blobs, and `blob_line_may_match` says whether the values the
  blobs put back could change that (see there); only then is it read in full.
- `lines_at` yields the lines at known (offset, length) places (index candidates).
- `decode_candidate` checks and decodes one such line as the reader would
  (framing, CRC, session id; blob values put back, blob problems reported as
  `ReadIssue`s) and raises `CorruptLineError` for a line the reader would skip:
  search then reads that session with the verifying reader instead, so a
  corrupt log gets exactly the reader's results and issues.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import re2

from p8j.journal import AnyEvent, CorruptLineError, JournalIOError, P8jError, UnknownEvent
from p8j.journal.cache.search_index import Need
from p8j.journal.codec import decode_line
from p8j.journal.store.fs import ReadIssue
from p8j.journal.store.fs.blobs import BlobStore, placeholder, resolve
from p8j.journal.store.fs.cursor import open_log_readonly

__all__ = [
    "BLOCK",
    "Test",
    "blob_line_may_match",
    "candidate_lines",
    "decode_candidate",
    "lines_at",
    "need_test",
]

BLOCK = 1 << 20
_BLOB_MARK = b',"blobs":[{"path":['
# A test of raw bytes: does data[start:end] hold what a need says?
Test = Callable[[bytes | bytearray, int, int], bool]


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


def candidate_lines(path: Path, test: Test, *, offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of the lines from `offset` on that may match (module docstring)."""
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
            if test(buf, 0, end) or buf.find(_BLOB_MARK, 0, end) >= 0:
                yield from _lines(test, bytes(buf[:end]), pos)
            pos += end
    finally:
        os.close(fd)


def _lines(test: Test, block: bytes, pos: int) -> Iterator[tuple[int, bytes]]:
    start = 0
    for ln in block.split(b"\n"):
        if ln and (test(ln, 0, len(ln)) or _BLOB_MARK in ln):
            yield pos + start, ln
        start += len(ln) + 1


def blob_line_may_match(
    event: AnyEvent | UnknownEvent, ln: bytes, test: Test, texts: list[str], store: BlobStore
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


def lines_at(path: Path, places: list[tuple[int, int]]) -> Iterator[tuple[int, bytes]]:
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


def decode_candidate(
    ln: bytes,
    *,
    path: Path,
    session_id: str,
    offset: int,
    line: int | None,
    blobs: BlobStore | None,
    issues: list[ReadIssue],
) -> AnyEvent | UnknownEvent:
    """The event of a candidate line, checked as the reader checks it (module docstring).

    `line` None means the log is known clean (the catalog or the index read it
    with no problem): then each line holds one event and its number is seq + 1.
    """
    spath = str(path)
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
        resolved, problems = resolve(event, blobs)
        where = line if line is not None else event.seq + 1
        for p in problems:
            issues.append(ReadIssue(p.kind, spath, where, offset, p.message))
        event = resolved
    return event
