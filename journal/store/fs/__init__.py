"""p8j.journal.store.fs: the file-system store (one JSONL log per session in a home).

Modules: `store` (`FileStore`, the seam's file backend), `layout` (the home's
folders and safe opens), `writer` (the append path), `cursor` (the verifying
reader), `lock` (one writer per session), `blobs` (large payloads), `watch`
(changes: `inotify` on Linux, watchfiles elsewhere), `syscalls` (the injectable
write-path system calls).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import FileCursor, FileEntry, FileStore, FileWriter
    from .watch import FileWatch

_LAZY: dict[str, str] = {
    "FileCursor": "store",
    "FileEntry": "store",
    "FileStore": "store",
    "FileWatch": "watch",
    "FileWriter": "store",
}

__all__ = ["FileCursor", "FileEntry", "FileStore", "FileWatch", "FileWriter"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
