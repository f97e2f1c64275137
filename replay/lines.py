"""Verified events together with their exact raw lines, for `--json` output and jsonl export.

Contract: `read_with_lines` yields each event a cursor accepts with the bytes of
its record exactly as stored, newline included (see `StoreCursor.read_with_lines`
for a store's cursor, and journal/store/fs/lines.py for the file store's pairing,
which also serves a bare `LogCursor`). Records a cursor skips or leaves pending
are never yielded.
"""

from __future__ import annotations

from collections.abc import Iterator

from p8j.journal import AnyEvent, UnknownEvent
from p8j.journal.store.base import StoreCursor
from p8j.journal.store.fs import LogCursor
from p8j.journal.store.fs.lines import read_with_lines as read_file_lines

__all__ = ["read_with_lines"]


def read_with_lines(
    cursor: StoreCursor | LogCursor, *, final: bool = True
) -> Iterator[tuple[AnyEvent | UnknownEvent, bytes]]:
    """Yield ``(event, raw_line)`` for each event `cursor.read(final=...)` accepts."""
    if isinstance(cursor, StoreCursor):  # a store's cursor (the file store's checks its epoch)
        return cursor.read_with_lines(final=final)
    return read_file_lines(cursor, final=final)
