"""Chunked reads of an open file: its lines, or all of it, in bounded pieces.

Contract: `iter_lines` reads a file descriptor with ``os.pread`` from an offset
on, `chunk_size` bytes at a time, and splits on ``b"\\n"`` only (never
str.splitlines: a log line may hold a bare CR or U+2028). It yields
``(line, complete)``: every newline-terminated line without its newline, then
the bytes after the last newline, if any, with ``complete=False``. With
`max_line` set, a line longer than that is dropped whole, incomplete or not,
so memory stays bounded by the chunk size plus `max_line`. It never moves the
descriptor's position. `read_all` reads a descriptor from its position to the
end. Read failures raise `JournalIOError` naming `path`, from the `OSError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from ...errors import JournalIOError

__all__ = ["CHUNK", "iter_lines", "read_all"]

CHUNK = 1 << 20


def _pread(fd: int, size: int, pos: int, path: str | os.PathLike[str] | None) -> bytes:
    try:
        return os.pread(fd, size, pos)
    except OSError as exc:
        raise JournalIOError(f"read failed: {exc.strerror}", path=path) from exc


def iter_lines(
    fd: int,
    offset: int = 0,
    *,
    chunk_size: int = CHUNK,
    max_line: int | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Iterator[tuple[bytes, bool]]:
    """``(line, complete)`` for each line of `fd` from `offset` on (see the module docstring)."""
    pending = b""
    discarding = False  # inside a line already known to be too long
    pos = offset
    while data := _pread(fd, chunk_size, pos, path):
        pos += len(data)
        if discarding:
            nl = data.find(b"\n")
            if nl < 0:
                continue
            data = data[nl + 1 :]
            discarding = False
        parts = (pending + data).split(b"\n") if pending else data.split(b"\n")
        pending = parts.pop()
        for part in parts:
            if max_line is None or len(part) <= max_line:
                yield part, True
        if max_line is not None and len(pending) > max_line:
            pending, discarding = b"", True
    if pending:
        yield pending, False


def read_all(fd: int, path: str | os.PathLike[str] | None = None) -> bytes:
    """Everything from `fd`'s position to its end, read `CHUNK` bytes at a time."""
    parts = []
    try:
        while chunk := os.read(fd, CHUNK):
            parts.append(chunk)
    except OSError as exc:
        raise JournalIOError(f"cannot read: {exc.strerror}", path=path) from exc
    return b"".join(parts)
