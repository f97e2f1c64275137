"""p8j.journal.store.fs: the file-system store (one JSONL log per session in a home).

Modules: `store` (`FileStore`, the seam's file backend), `layout` (the home's
folders and safe opens), `writer` (the append path), `cursor` (the verifying
reader), `lock` (one writer per session), `blobs` (large payloads), `watch`
(changes: `inotify` on Linux, watchfiles elsewhere), `syscalls` (the injectable
write-path system calls).
The file-level tools (`LogCursor`, `LogWriter`, `read_events`, `ReadIssue`,
`lock_holder`, `resolve_session_ref`, ...) are exported here, not by `p8j.journal`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...lazy import lazy_exports

if TYPE_CHECKING:
    from .cursor import LogCursor, ReadIssue, read_events
    from .layout import Home, resolve_home, resolve_session_ref
    from .lock import LockHolder, lock_holder
    from .store import FileCursor, FileEntry, FileStore, FileWriter
    from .watch import FileWatch
    from .writer import Durability, LogWriter

_LAZY: dict[str, str] = {
    "Durability": "writer",
    "FileCursor": "store",
    "FileEntry": "store",
    "FileStore": "store",
    "FileWatch": "watch",
    "FileWriter": "store",
    "Home": "layout",
    "LockHolder": "lock",
    "LogCursor": "cursor",
    "LogWriter": "writer",
    "ReadIssue": "cursor",
    "lock_holder": "lock",
    "read_events": "cursor",
    "resolve_home": "layout",
    "resolve_session_ref": "layout",
}

__all__ = [
    "Durability",
    "FileCursor",
    "FileEntry",
    "FileStore",
    "FileWatch",
    "FileWriter",
    "Home",
    "LockHolder",
    "LogCursor",
    "LogWriter",
    "ReadIssue",
    "lock_holder",
    "read_events",
    "resolve_home",
    "resolve_session_ref",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
