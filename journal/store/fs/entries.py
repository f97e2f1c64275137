"""The sessions directory as store entries: one scandir, an entry wrapped only when asked.

Contract: `scan_entries` reads ``<home>/sessions`` once (no stat) into a
`FileEntries`. `FileEntries.pop` takes a session by id (a listing looks up the
sessions it already knows without checking their names again); `values` yields
the rest whose names are ``<session id>.jsonl``. A `FileEntry` knows its epoch
(the inode, from the directory entry) and reads its head with one lstat (None
if the log is gone or is no regular file). A missing sessions directory lists
empty; one that cannot be read raises `JournalIOError`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import msgspec

from ...errors import JournalIOError
from ...ids import is_session_id
from ..base import Position
from .layout import LOG_SUFFIX

__all__ = ["FileEntries", "FileEntry", "scan_entries"]


class FileEntry(msgspec.Struct, gc=False):
    """A session found in the sessions directory: its id and inode from the directory entry."""

    # A Struct: built positionally in C, ~4x cheaper than a class with __init__ (a
    # listing makes one per session).
    session_id: str
    epoch: int
    entry: os.DirEntry[str]

    def head(self) -> Position | None:
        """The log's end (one lstat), or None if it is gone or not a regular file."""
        try:
            st = self.entry.stat(follow_symlinks=False)
        except OSError:
            return None
        return Position(st.st_ino, st.st_size) if stat.S_ISREG(st.st_mode) else None


class FileEntries:
    """The directory's entries by name; `pop` and `values` wrap them as `FileEntry`."""

    __slots__ = ("_raw",)

    def __init__(self, raw: dict[str, os.DirEntry[str]]) -> None:
        self._raw = raw

    def pop(self, session_id: str, default: None, /) -> FileEntry | None:
        """The entry of `session_id` (removed from the rest), or `default`."""
        entry = self._raw.pop(session_id + LOG_SUFFIX, None)
        return default if entry is None else FileEntry(session_id, entry.inode(), entry)

    def values(self) -> Iterator[FileEntry]:
        """The entries not popped whose names are session logs."""
        for name, entry in self._raw.items():
            sid = name[: -len(LOG_SUFFIX)]
            if name.endswith(LOG_SUFFIX) and is_session_id(sid):
                yield FileEntry(sid, entry.inode(), entry)


def scan_entries(sessions_dir: Path) -> FileEntries:
    """Every entry of `sessions_dir` (one scandir, no stat; module docstring)."""
    try:
        scan = os.scandir(sessions_dir)
    except FileNotFoundError:
        return FileEntries({})
    except OSError as exc:
        raise JournalIOError(f"cannot list sessions: {exc.strerror}", path=sessions_dir) from exc
    with scan:
        return FileEntries({entry.name: entry for entry in scan})
