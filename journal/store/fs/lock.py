"""One writer per session: an exclusive flock() on the session's log file itself.

Contract:
- The writer holds an exclusive, non-blocking flock on its own descriptor of
  ``<home>/sessions/<id>.jsonl`` for as long as the session is open for append,
  and checks after locking that the path still names the inode it locked (see
  writer.py). The kernel drops the lock when the holder exits or dies, so a
  lock is never stale. Removing or recreating any coordination file or folder
  (``rm -rf <home>/locks``) never admits a second writer: the lock lives on
  the log's inode, not on a name.
- ``<home>/locks/<id>.lock`` is the informational record of the holder
  (``{"pid":..,"host":..}``), written once the log is locked, for error
  messages and for `p8j ls` (live vs. crashed). It is also flocked first
  (as p8j did before the lock moved to the log), so older writers and the
  lock-file probe `lock_holder` keep seeing a held session.
- `log_holder` tells live from crashed by probing the log's flock; the probe
  takes a shared lock for an instant, so a writer opening that session at the
  very same moment may be refused once with `SessionLockedError`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import msgspec

from ...errors import JournalIOError, SessionLockedError, UnsafePathError
from .layout import Home, check_file

__all__ = [
    "LockHolder",
    "SessionLock",
    "hold_session",
    "lock_holder",
    "lock_log",
    "log_holder",
    "refuse_unsafe_lock",
]


class LockHolder(msgspec.Struct, frozen=True):
    """Who holds a session's write lock."""

    pid: int | None = None
    host: str | None = None


# O_NONBLOCK: a FIFO planted at the lock path must not hang the open.
_FLAGS = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
_PROBE = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


def _read_holder(fd: int) -> LockHolder:
    try:
        data = os.pread(fd, 4096, 0)
        return msgspec.json.decode(data, type=LockHolder)
    except (OSError, msgspec.DecodeError):
        return LockHolder()


def _recorded_holder(path: Path) -> LockHolder:
    """The holder named in the lock file at `path` (empty if it is gone or unreadable)."""
    try:
        fd = os.open(path, _PROBE)
    except OSError:
        return LockHolder()
    try:
        return _read_holder(fd)
    finally:
        os.close(fd)


def _probe(fd: int) -> bool:
    """True if another descriptor holds an exclusive flock on `fd`'s file."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def lock_holder(path: Path) -> LockHolder | None:
    """The live holder of the lock file at `path`, or None if nobody holds it."""
    try:
        fd = os.open(path, _PROBE)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise JournalIOError(f"cannot open lock: {exc.strerror}", path=path) from exc
    try:
        return _read_holder(fd) if _probe(fd) else None
    finally:
        os.close(fd)


def log_holder(home: Home, session_id: str) -> LockHolder | None:
    """The live writer of `session_id` (probed on its log), or None if nobody writes it."""
    path = home.log_path(session_id)
    try:
        fd = os.open(path, _PROBE)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise JournalIOError(f"cannot open the log: {exc.strerror}", path=path) from exc
    try:
        held = _probe(fd)
    finally:
        os.close(fd)
    return _recorded_holder(home.lock_path(session_id)) if held else None


def _locked_error(session_id: str, holder: LockHolder, path: Path) -> SessionLockedError:
    if holder.pid is None:
        who = "another process (its lock record is gone)"
    else:
        who = f"pid {holder.pid} on host {holder.host}"
    return SessionLockedError(
        f"session {session_id} is open for writing by {who}",
        pid=holder.pid,
        host=holder.host,
        path=path,
    )


def lock_log(fd: int, path: Path, lock_path: Path, session_id: str) -> None:
    """Take the exclusive flock on a log's descriptor, or raise SessionLockedError."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise _locked_error(session_id, _recorded_holder(lock_path), path) from exc
        raise JournalIOError(f"cannot lock: {exc.strerror}", path=path) from exc


class SessionLock:
    """An acquired exclusive lock on the lock file; `release()` (or process death) frees it.

    `record()` writes this process as the holder; the writer calls it only once
    it also holds the log's own lock.
    """

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
                raise _locked_error(path.name.removesuffix(".lock"), holder, path) from exc
            raise JournalIOError(f"cannot lock: {exc.strerror}", path=path) from exc
        self._fd: int | None = fd

    def record(self) -> None:
        """Write this process (pid, host) into the lock file as the holder."""
        fd = self._fd
        if fd is None:
            return
        try:
            os.fchmod(fd, 0o600)
            me = msgspec.json.encode(LockHolder(pid=os.getpid(), host=socket.gethostname()))
            os.ftruncate(fd, 0)
            os.pwrite(fd, me, 0)
        except OSError as exc:
            self.release()
            raise JournalIOError(f"cannot write lock: {exc.strerror}", path=self.path) from exc

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


def refuse_unsafe_lock(path: Path) -> None:
    """Refuse a lock file that is a symlink, FIFO or hard link before SessionLock writes it."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise JournalIOError(f"cannot stat the lock: {exc.strerror}", path=path) from exc
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePathError("the lock file is a symlink; refusing to write through it", path=path)
    check_file(path, st)


@contextlib.contextmanager
def hold_session(home: Home, session_id: str) -> Iterator[tuple[int, list[int]]]:
    """Keep every writer out of a session while its log is rewritten or removed.

    Takes the lock file (so older p8j writers are kept out too) and the flock on the
    log's own inode, as writers do (SessionLockedError while one has it open), and
    records this process as the holder. Yields the log's read-only descriptor and a
    list: a rewrite appends the descriptor of the new log, flocked before it is
    renamed in (see syscalls.replace_file's `hold`), so no writer gets in between the
    rename and the end of the block. Everything is released on exit.
    """
    home.check()
    lock_path = home.lock_path(session_id)
    refuse_unsafe_lock(lock_path)
    lock = SessionLock(lock_path)
    held: list[int] = []
    try:
        path = home.log_path(session_id)
        try:
            fd = home.open_file("sessions", path.name, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError as exc:
            raise JournalIOError("no such session log", path=path) from exc
        except OSError as exc:
            raise JournalIOError(f"cannot open the log: {exc.strerror}", path=path) from exc
        held.append(fd)
        check_file(path, os.fstat(fd))
        lock_log(fd, path, lock_path, session_id)
        lock.record()
        yield fd, held
    finally:
        for held_fd in held:
            os.close(held_fd)
        lock.release()
