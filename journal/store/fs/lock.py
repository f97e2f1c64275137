"""One writer per session: an advisory flock() on ``<home>/locks/<id>.lock``.

Contract: the writer holds an exclusive, non-blocking flock for as long as the
session is open for append. The kernel drops it when the holder exits or dies,
so a lock is never stale; the file's content (``{"pid":..,"host":..}``) only
names the holder for error messages and for `p8j ls` (live vs. crashed).
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path

import msgspec

from ...errors import JournalIOError, SessionLockedError, UnsafePathError
from .layout import check_file

__all__ = ["LockHolder", "SessionLock", "lock_holder"]


class LockHolder(msgspec.Struct, frozen=True):
    """Who holds a session's write lock."""

    pid: int | None = None
    host: str | None = None


# O_NONBLOCK: a FIFO planted at the lock path must not hang the open.
_FLAGS = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


def _read_holder(fd: int) -> LockHolder:
    try:
        data = os.pread(fd, 4096, 0)
        return msgspec.json.decode(data, type=LockHolder)
    except (OSError, msgspec.DecodeError):
        return LockHolder()


def lock_holder(path: Path) -> LockHolder | None:
    """The live holder of the lock at `path`, or None if nobody holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise JournalIOError(f"cannot open lock: {exc.strerror}", path=path) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class SessionLock:
    """An acquired exclusive lock; `release()` (or process death) frees it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            fd = os.open(path, _FLAGS, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePathError("the lock is a symlink; refusing", path=path) from exc
            raise JournalIOError(f"cannot open lock: {exc.strerror}", path=path) from exc
        try:
            # Check what was opened before truncating it: a hard link or a file of
            # another user planted at the lock path must never be written through.
            check_file(path, os.fstat(fd))
        except BaseException:
            os.close(fd)
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                sid = path.name.removesuffix(".lock")
                raise SessionLockedError(
                    f"session {sid} is open for writing by pid {holder.pid} on host {holder.host}",
                    pid=holder.pid,
                    host=holder.host,
                    path=path,
                ) from exc
            raise JournalIOError(f"cannot lock: {exc.strerror}", path=path) from exc
        try:
            os.fchmod(fd, 0o600)
            me = msgspec.json.encode(LockHolder(pid=os.getpid(), host=socket.gethostname()))
            os.ftruncate(fd, 0)
            os.pwrite(fd, me, 0)
        except OSError as exc:
            os.close(fd)
            raise JournalIOError(f"cannot write lock: {exc.strerror}", path=path) from exc
        self._fd: int | None = fd

    def release(self) -> None:
        """Release the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            # Closing the descriptor drops the flock; the file stays (no unlink race).
            os.close(fd)

    @property
    def held(self) -> bool:
        """True until released."""
        return self._fd is not None
