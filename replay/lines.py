"""Verified events together with their exact raw lines, for `--json` output and jsonl export.

Contract: `read_with_lines` yields each event a store's cursor accepts with the
bytes of its record exactly as stored, newline included (the cursor's own
`StoreCursor.read_with_lines`; journal/store/fs/lines.py pairs them for the file
store). Records a cursor skips or leaves pending are never yielded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from p8j.journal import AnyEvent, UnknownEvent

__all__ = ["LineReader", "read_with_lines"]


class LineReader(Protocol):
    """What `read_with_lines` drives: a `StoreCursor`'s `read_with_lines`."""

    def read_with_lines(
        self, *, final: bool = True
    ) -> Iterator[tuple[AnyEvent | UnknownEvent, bytes]]:
        """Verified events, each with its record as stored."""
        ...


def read_with_lines(
    cursor: LineReader, *, final: bool = True
) -> Iterator[tuple[AnyEvent | UnknownEvent, bytes]]:
    """Yield ``(event, raw_line)`` for each event `cursor.read(final=...)` accepts."""
    return cursor.read_with_lines(final=final)
