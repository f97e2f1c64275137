"""A log's verified events with their exact raw lines (`FileCursor.read_with_lines`).

Contract: `read_with_lines` drives a `LogCursor` (so every line is verified:
framing, checksum, seq, lifecycle) and yields each accepted event with the bytes
of its line exactly as stored, newline included. Lines the cursor skips or leaves
pending (a torn tail, a partial line still being written) are never yielded.
The raw bytes come from a second descriptor, opened before the cursor's, read
forward in step with the cursor: each event is paired with the next complete
line at or after the cursor's starting offset that passes its checksum and
decodes to the same type, session, seq and timestamp (lines are exact as
stored: a payload kept in a blob appears as its reference, as on disk),
so memory stays bounded by the chunk size plus the longest line, and the pairing
does not depend on how the reader batches its work. If no such line exists (the
log was replaced underneath the read) `JournalIOError` is raised.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...codec import decode_line, line_checksum_ok
from ...errors import CorruptLineError, JournalIOError
from ...events import AnyEvent, UnknownEvent
from .archived import open_log_readonly
from .chunks import iter_lines

if TYPE_CHECKING:
    from .cursor import LogCursor  # which calls this module (LogCursor.read_with_lines)

__all__ = ["read_with_lines"]


def _key(event: AnyEvent | UnknownEvent) -> tuple[str, str, int, str]:
    """What pairs a line with its event: type, session, seq, time (the payload may differ:
    the reader puts large values stored as blobs back into the event)."""
    kind = event.type if isinstance(event, UnknownEvent) else type(event).__name__
    return kind, event.session_id, event.seq, event.ts


class _LineStream:
    """Complete lines of a file from an offset on, read lazily in chunks (store/fs/chunks.py)."""

    def __init__(self, fd: int, offset: int, path: str, max_line: int) -> None:
        # Lines longer than the cursor's limit are dropped: the cursor discards them too.
        self.lines = iter_lines(fd, offset, max_line=max_line, path=path)
        self.path = path

    def match(self, event: AnyEvent | UnknownEvent) -> bytes:
        """The raw line (with newline) of `event`: the next line that decodes equal to it."""
        marker = b'"seq":%d' % event.seq
        for line, complete in self.lines:
            if not complete:
                break  # a partial line is never an accepted event
            if marker not in line or not line_checksum_ok(line):
                continue
            try:
                if _key(decode_line(line)) == _key(event):
                    return line + b"\n"
            except CorruptLineError:
                continue
        raise JournalIOError(
            f"the log changed while it was being read (no line for seq {event.seq})",
            path=self.path,
        )


def read_with_lines(
    cursor: LogCursor, *, final: bool = True
) -> Iterator[tuple[AnyEvent | UnknownEvent, bytes]]:
    """Yield ``(event, raw_line)`` for each event `cursor.read(final=...)` accepts."""
    path = str(cursor.path)
    try:
        fd = open_log_readonly(cursor.path)
    except FileNotFoundError as exc:
        raise JournalIOError("no such log", path=path) from exc
    try:
        stream = _LineStream(fd, cursor.offset, path, cursor.max_line_bytes)
        for event in cursor.read(final=final):
            yield event, stream.match(event)
    finally:
        os.close(fd)
