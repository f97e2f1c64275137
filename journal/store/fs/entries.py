"""The sessions directory as store entries: one scandir, an entry wrapped only when asked.

Contract: `scan_entries` reads ``<home>/sessions`` once (no stat) into a
`FileEntries`, an `EntryMap`: ``epochs`` maps the stem of every ``*.jsonl`` to
its inode (from the directory entry), so a listing takes the sessions it knows
with plain dict pops, as it did before the seam; `entry` wraps one as a
`FileEntry` (None unless the stem is a session id and the log is listed). A
`FileEntry` knows its epoch
(the inode, from the directory entry) and reads its head with one lstat (None
if the log is gone or is no regular file). A missing sessions directory lists
empty; one that cannot be read raises `JournalIOError`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import msgspec

from ...errors import JournalIOError
from ...ids import is_session_id
from ..base import EntryMap, Position
from .layout import LOG_SUFFIX

__all__ = ["FileEntries", "FileEntry", "scan_entries"]

_SUFFIX = len(LOG_SUFFIX)


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


class FileEntries(EntryMap):
    """The directory's ``*.jsonl`` entries: epochs by stem, a `FileEntry` on demand."""

    __slots__ = ("_raw",)

    def __init__(self, raw: dict[str, os.DirEntry[str]]) -> None:
        # Not the base's: its entries come from the directory, wrapped only when asked.
        self._raw = raw
        self.epochs = {
            name[:-_SUFFIX]: e.inode() for name, e in raw.items() if name[-_SUFFIX:] == LOG_SUFFIX
        }

    def entry(self, session_id: str) -> FileEntry | None:
        """The session's entry, or None (no such log, or not a session id)."""
        found = self._raw.get(session_id + LOG_SUFFIX)
        if found is None or not is_session_id(session_id):
            return None
        return FileEntry(session_id, found.inode(), found)


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
