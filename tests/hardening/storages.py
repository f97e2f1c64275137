"""Storage layers for the fault tests: one that fails a chosen call, one that records them all."""

from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from p8j.journal.store.fs.syscalls import Storage

__all__ = ["FaultyStorage", "Op", "RecordingStorage"]

COUNTED = ("open", "write", "fsync", "fdatasync", "ftruncate", "replace", "fsync_dir")


class FaultyStorage(Storage):
    """Fails the `fail_at`-th counted call (1-based) with `err`, once; `short` writes half first."""

    def __init__(self, fail_at: int = 0, err: int = errno.ENOSPC, *, short: bool = False) -> None:
        self.fail_at = fail_at
        self.err = err
        self.short = short
        self.calls = 0
        self.failed: str | None = None
        self._lock = threading.Lock()

    def _hit(self, kind: str) -> bool:
        with self._lock:
            self.calls += 1
            if self.calls == self.fail_at:
                self.failed = kind
                return True
            return False

    def _raise(self) -> None:
        raise OSError(self.err, os.strerror(self.err))

    def open(
        self,
        path: str | os.PathLike[str],
        flags: int,
        mode: int = 0o777,
        *,
        dir_fd: int | None = None,
    ) -> int:
        if flags & os.O_CREAT and self._hit("open"):
            self._raise()
        return super().open(path, flags, mode, dir_fd=dir_fd)

    def write(self, fd: int, data: Any) -> int:
        if self._hit("write"):
            if self.short and len(data) > 1:
                return os.write(fd, bytes(data[: len(data) // 2]))  # the disk filled mid-write
            self._raise()
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        if self._hit("fsync"):
            self._raise()
        os.fsync(fd)

    def fdatasync(self, fd: int) -> None:
        if self._hit("fdatasync"):
            self._raise()
        os.fdatasync(fd)

    def ftruncate(self, fd: int, length: int) -> None:
        if self._hit("ftruncate"):
            self._raise()
        os.ftruncate(fd, length)

    def replace(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str],
        *,
        src_dir_fd: int | None = None,
        dst_dir_fd: int | None = None,
    ) -> None:
        if self._hit("replace"):
            self._raise()
        os.replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    def fsync_dir(self, path: str | os.PathLike[str]) -> None:
        if self._hit("fsync_dir"):
            self._raise()
        super().fsync_dir(path)


@dataclass
class Op:
    """One recorded call: what, on which file (a path), and its data."""

    kind: str
    path: str
    data: bytes = b""
    size: int = 0
    dest: str = ""
    note: Any = None


@dataclass
class RecordingStorage(Storage):
    """Performs every call and records it (file paths resolved from descriptors)."""

    ops: list[Op] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # An O_TMPFILE descriptor keeps reading as "#ino (deleted)" after it is linked in.
    _aliases: dict[str, str] = field(default_factory=dict)

    def note(self, what: Any) -> None:
        """Record an event of the test itself (an acknowledgement), in order with the calls."""
        with self._lock:
            self.ops.append(Op("note", "", note=what))

    def _path(self, fd: int) -> str:
        path = os.readlink(f"/proc/self/fd/{fd}")
        return self._aliases.get(path, path)

    @staticmethod
    def _abs(path: str | os.PathLike[str], dir_fd: int | None) -> str:
        if dir_fd is None:
            return os.path.abspath(os.fspath(path))
        return os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), os.fspath(path))

    def open(
        self,
        path: str | os.PathLike[str],
        flags: int,
        mode: int = 0o777,
        *,
        dir_fd: int | None = None,
    ) -> int:
        fd = os.open(path, flags, mode, dir_fd=dir_fd)
        with self._lock:
            self.ops.append(Op("open", self._abs(path, dir_fd), size=flags))
        return fd

    def write(self, fd: int, data: Any) -> int:
        with self._lock:
            n = os.write(fd, data)
            self.ops.append(Op("write", self._path(fd), bytes(data[:n])))
        return n

    def fsync(self, fd: int) -> None:
        path = self._path(fd)
        with self._lock:
            start = len(self.ops)
        os.fsync(fd)
        with self._lock:
            self.ops.append(Op("fsync", path, size=start))

    def fdatasync(self, fd: int) -> None:
        path = self._path(fd)
        with self._lock:
            # What the sync covers is what was written before it started.
            start = len(self.ops)
        os.fdatasync(fd)
        with self._lock:
            self.ops.append(Op("fsync", path, size=start))

    def ftruncate(self, fd: int, length: int) -> None:
        with self._lock:
            os.ftruncate(fd, length)
            self.ops.append(Op("ftruncate", self._path(fd), size=length))

    def replace(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str],
        *,
        src_dir_fd: int | None = None,
        dst_dir_fd: int | None = None,
    ) -> None:
        with self._lock:
            os.replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
            self.ops.append(
                Op("replace", self._abs(src, src_dir_fd), dest=self._abs(dst, dst_dir_fd))
            )

    def fsync_dir(self, path: str | os.PathLike[str]) -> None:
        super().fsync_dir(path)
        with self._lock:
            self.ops.append(Op("fsync_dir", os.path.abspath(os.fspath(path))))

    def link(self, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        # A log is written as an unnamed file (O_TMPFILE), then linked in: from then on
        # its earlier writes and syncs are the log's history, under the log's name.
        text = os.fspath(src)
        old = os.readlink(text) if text.startswith("/proc/self/fd/") else os.path.abspath(text)
        new = os.path.abspath(os.fspath(dst))
        with self._lock:
            super().link(src, dst)
            self._aliases[old] = new
            for op in self.ops:
                if op.path == old:
                    op.path = new
            self.ops.append(Op("link", old, dest=new))

    def unlink(self, path: str | os.PathLike[str], *, dir_fd: int | None = None) -> None:
        full = self._abs(path, dir_fd)
        os.unlink(path, dir_fd=dir_fd)
        with self._lock:
            self.ops.append(Op("unlink", full))
