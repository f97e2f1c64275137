"""The operating-system calls of the journal's write path, injectable for fault testing.

Contract: every call that changes a journal file or directory (open, write,
fsync, fdatasync, ftruncate, close, rename, link, unlink, and the fsync of a
directory) goes through a `Storage`. `REAL` is the operating system itself
(it looks the ``os`` functions up at each call, so monkeypatching ``os`` still
works); writers given no storage call ``os.write``/``os.fdatasync`` directly on
their hot path. Tests pass another `Storage` (``storage=`` on
`LogWriter`, `SessionManager` and `BlobStore`) to fail any call with ENOSPC or
EIO, or to record every call and rebuild what a power loss could leave.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["REAL", "Storage", "replace_file", "write_all"]


class Storage:
    """The write-path system calls; subclass and override to inject faults or record calls."""

    def open(
        self,
        path: str | os.PathLike[str],
        flags: int,
        mode: int = 0o777,
        *,
        dir_fd: int | None = None,
    ) -> int:
        """os.open."""
        return os.open(path, flags, mode, dir_fd=dir_fd)

    def write(self, fd: int, data: Any) -> int:
        """os.write (may write fewer bytes than asked)."""
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        """os.fsync."""
        os.fsync(fd)

    def fdatasync(self, fd: int) -> None:
        """os.fdatasync."""
        os.fdatasync(fd)

    def ftruncate(self, fd: int, length: int) -> None:
        """os.ftruncate."""
        os.ftruncate(fd, length)

    def close(self, fd: int) -> None:
        """os.close."""
        os.close(fd)

    def replace(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str],
        *,
        src_dir_fd: int | None = None,
        dst_dir_fd: int | None = None,
    ) -> None:
        """os.replace (an atomic rename)."""
        os.replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    def link(self, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        """linkat following a symlink `src` (``/proc/self/fd/N``); never replaces `dst`."""
        # With a dir fd os.link calls linkat(AT_SYMLINK_FOLLOW); plain link() would try
        # to link the /proc symlink itself (EXDEV).
        dfd = os.open(os.path.dirname(dst) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.link(src, os.path.basename(dst), dst_dir_fd=dfd, follow_symlinks=True)
        finally:
            os.close(dfd)

    def unlink(self, path: str | os.PathLike[str], *, dir_fd: int | None = None) -> None:
        """os.unlink."""
        os.unlink(path, dir_fd=dir_fd)

    def fsync_dir(self, path: str | os.PathLike[str]) -> None:
        """fsync a directory, so entries created or renamed in it survive power loss."""
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


REAL: Storage = Storage()


def write_all(storage: Storage, fd: int, data: bytes | bytearray | memoryview) -> None:
    """Write all of `data`, looping over short writes; a write of nothing is ENOSPC."""
    view = memoryview(data)
    while view:
        n = storage.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, "No space left on device (short write)")
        view = view[n:]


def replace_file(
    directory: Path,
    name: str,
    data: bytes | Iterable[bytes],
    *,
    storage: Storage = REAL,
    hold: list[int] | None = None,
) -> None:
    """Write ``directory/name`` crash-safely: temp file, fsync, rename over it, fsync dir.

    `data` is the bytes, or an iterable of parts written in order (so a large
    file need not be joined in memory). Raises OSError (or whatever producing a
    part raises); the temp file never outlives a failure, and the old file stays
    whole until the rename. With `hold`, the new file is flocked (exclusive) before
    it is renamed in, and the descriptor holding that lock is appended to `hold`
    for the caller to close: a session log's writers lock its inode, so none gets
    in between the rename and the caller's end.
    """
    tmp = directory / f".{name}.{os.urandom(6).hex()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = storage.open(tmp, flags, 0o600)
    renamed = False
    try:
        try:
            os.fchmod(fd, 0o600)  # O_CREAT's mode is masked by the umask
            for part in (data,) if isinstance(data, bytes) else data:
                write_all(storage, fd, part)
            storage.fsync(fd)
        finally:
            storage.close(fd)
        if hold is not None:
            hold.append(os.open(tmp, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW))
            fcntl.flock(hold[-1], fcntl.LOCK_EX | fcntl.LOCK_NB)
        storage.replace(tmp, directory / name)
        renamed = True
        storage.fsync_dir(directory)
    finally:
        if not renamed:
            with contextlib.suppress(OSError):
                storage.unlink(tmp)
