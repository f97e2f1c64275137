"""The append-only write path of one session log.

Contract:
- One writer per session, enforced by `SessionLock` (held while open).
- Each event is one complete line written by a single ``write()`` on an
  ``O_APPEND`` descriptor. When `LogWriter.append` returns, the line is in the
  kernel's page cache: it survives ``kill -9`` of the writer.
- Durability modes (per writer):
  ``default``: no fsync per event; `sync()` (called at pause, end and save)
  fdatasyncs. On power loss, events since the last sync may be lost.
  ``fsync``: fdatasync before `append` returns; survives power loss.
  ``batch``: group commit: fdatasync when `batch_max_events` events are pending,
  or at most `batch_interval_ms` after the first pending one (a background
  thread). On power loss, up to that many events / that much time may be lost;
  never a torn record in the middle, and never a gap.
- Creating a log fsyncs its directory. Files are 0600 whatever the umask.
- A record larger than `max_record_bytes` raises `RecordTooLargeError` before
  anything is written. (The manager first moves payload strings over its blob
  threshold into blobs, so the cap only refuses what cannot move, e.g. huge
  metadata.)
- On a failed or short write the file is truncated back to the last record
  boundary and `JournalIOError` is raised: nothing is acknowledged that is not
  in the file. After a failed fsync the writer refuses further appends (Linux
  may drop the dirty pages, so retrying fsync could silently lose data); reopen
  the session to continue.
- `repair_tail` moves a torn tail (bytes after the last good record) into
  ``<home>/torn/<id>.<offset>.torn`` (fsynced) before truncating, so appends
  always continue on a clean line boundary and no byte is destroyed.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from pathlib import Path
from typing import Literal

from ...codec import encode_event
from ...errors import JournalIOError, RecordTooLargeError, UnsafePathError
from ...events import Event
from .layout import Home, check_file
from .lock import SessionLock
from .syscalls import REAL, Storage

__all__ = ["DEFAULT_MAX_RECORD_BYTES", "Durability", "LogWriter"]

Durability = Literal["default", "fsync", "batch"]
DURABILITY_MODES: tuple[str, ...] = ("default", "fsync", "batch")
DEFAULT_MAX_RECORD_BYTES = 1 << 20


def _io_error(what: str, exc: OSError, path: os.PathLike[str] | str) -> JournalIOError:
    err = JournalIOError(f"{what} failed: {exc.strerror or exc}", path=path)
    err.__cause__ = exc
    return err


class LogWriter:
    """The single appender of one session's log (holds its lock while open)."""

    def __init__(
        self,
        home: Home,
        session_id: str,
        *,
        create: bool,
        durability: Durability = "default",
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        batch_interval_ms: float = 50.0,
        batch_max_events: int = 1024,
        storage: Storage | None = None,
    ) -> None:
        if durability not in DURABILITY_MODES:
            raise ValueError(f"durability must be one of {DURABILITY_MODES}, not {durability!r}")
        self.home = home
        self.session_id = session_id
        self.path = home.log_path(session_id)
        self.durability = durability
        self.max_record_bytes = max_record_bytes
        self._batch_interval = batch_interval_ms / 1000.0
        self._batch_max = batch_max_events
        self._failed: JournalIOError | None = None
        self._pending = 0
        self._cond = threading.Condition()
        self._flusher: threading.Thread | None = None
        self._closed = False
        # Every call that changes the file goes through `storage` (fault injection in
        # tests); without one, the hot path calls os.write/os.fdatasync itself.
        self._injected = storage
        self._os = storage if storage is not None else REAL
        home.ensure()
        _refuse_unsafe_lock(home.lock_path(session_id))
        self._lock = SessionLock(home.lock_path(session_id))
        try:
            self._fd = self._open(create)
            self.size = os.fstat(self._fd).st_size
        except BaseException:
            self._lock.release()
            raise
        if durability == "batch":
            self._flusher = threading.Thread(
                target=self._flush_loop, name=f"p8j-batch-{session_id[:8]}", daemon=True
            )
            self._flusher.start()

    def _open(self, create: bool) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        if create:
            flags |= os.O_CREAT | os.O_EXCL
        try:
            fd = self.home.open_file("sessions", self.path.name, flags, 0o600, opener=self._os.open)
        except FileExistsError as exc:
            raise JournalIOError("session log already exists", path=self.path) from exc
        except FileNotFoundError as exc:
            raise JournalIOError("no such session log", path=self.path) from exc
        except OSError as exc:
            if exc.errno == 40:  # ELOOP
                raise UnsafePathError(
                    "refusing to write through a symlink", path=self.path
                ) from exc
            raise _io_error("open", exc, self.path) from exc
        try:
            check_file(self.path, os.fstat(fd))
            os.set_blocking(fd, True)
            if create:
                os.fchmod(fd, 0o600)
                self._os.fsync(fd)
                self._os.fsync_dir(self.path.parent)
        except OSError as exc:
            self._abandon(fd, create)
            raise _io_error("open", exc, self.path) from exc
        except BaseException:
            self._abandon(fd, create)
            raise
        return fd

    def _abandon(self, fd: int, created: bool) -> None:
        """Close a log that failed to open; one this writer just created is removed again."""
        os.close(fd)
        if created:
            # Empty: no session began, so nothing is lost (and no empty log is left).
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    # -- appends ---------------------------------------------------------------

    def append(self, event: Event, limit: int = 0) -> bytes:
        """Write one event as one line and return the line, once it is in the file.

        See the module docstring for what "in the file" means per durability mode.
        A `limit` (bytes) below the cap refuses smaller records too (the manager
        then moves their payload into blobs).
        """
        if self._failed is not None or self._closed:
            self._refuse()
        line = encode_event(event)
        size = len(line)
        if size > (limit or self.max_record_bytes):
            raise RecordTooLargeError(
                f"{type(event).__name__} record is {size} bytes; "
                f"the cap is {limit or self.max_record_bytes}",
                path=self.path,
            )
        try:
            write = os.write if self._injected is None else self._injected.write
            written = write(self._fd, line)
            while written < size:
                # A short write means the disk or a limit is full; finish or roll back.
                n = write(self._fd, memoryview(line)[written:])
                if n <= 0:
                    raise OSError(28, "No space left on device (short write)")
                written += n
        except OSError as exc:
            self._rollback()
            raise _io_error("write", exc, self.path) from exc
        except BaseException:
            # Interrupted (KeyboardInterrupt...) between writes: never leave half a line.
            self._rollback()
            raise
        self.size += size
        if self.durability == "default":
            return line
        if self.durability == "fsync":
            self._fdatasync()
        elif self.durability == "batch":
            with self._cond:
                self._pending += 1
                if self._pending >= self._batch_max:
                    self._fdatasync()
                    self._pending = 0
                elif self._pending == 1:
                    self._cond.notify()
        return line

    def _refuse(self) -> None:
        """Raise why this writer takes no more appends (failed earlier, or closed)."""
        if self._failed is not None:
            raise JournalIOError(
                "the log stopped accepting writes after an earlier I/O failure "
                f"({self._failed.message}); reopen the session",
                path=self.path,
            )
        raise JournalIOError("the log writer is closed", path=self.path)

    def _rollback(self) -> None:
        try:
            self._os.ftruncate(self._fd, self.size)
        except OSError as exc:
            self._failed = _io_error("truncate after a failed write", exc, self.path)

    def _fdatasync(self) -> None:
        try:
            if self._injected is None:
                os.fdatasync(self._fd)
            else:
                self._injected.fdatasync(self._fd)
        except OSError as exc:
            self._failed = _io_error("fdatasync", exc, self.path)
            raise self._failed from exc

    def _flush_loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and self._pending == 0:
                    self._cond.wait()
                if self._closed:
                    return  # close() syncs what is pending
                deadline = time.monotonic() + self._batch_interval
                while self._pending and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if self._closed or self._failed is not None:
                    return
                if not self._pending:
                    continue
                self._pending = 0
            # fsync outside the lock so appends are not held up by the disk.
            try:
                self._fdatasync()
            except JournalIOError:
                return

    def sync(self) -> None:
        """fdatasync the log now (every mode); raises JournalIOError on failure."""
        if self._failed is not None:
            raise self._failed
        with self._cond:
            self._fdatasync()
            self._pending = 0

    # -- repair ----------------------------------------------------------------

    def repair_tail(self, good_end: int) -> int:
        """Move bytes after `good_end` into a sidecar and truncate; return how many."""
        if self.size <= good_end:
            return 0
        st_os = self._os
        try:
            rfd = self.home.open_file("sessions", self.path.name, os.O_RDONLY)
            try:
                mine, theirs = os.fstat(self._fd), os.fstat(rfd)
                if (mine.st_dev, mine.st_ino) != (theirs.st_dev, theirs.st_ino):
                    raise UnsafePathError("the log was replaced while open", path=self.path)
                torn = os.pread(rfd, self.size - good_end, good_end)
            finally:
                os.close(rfd)
            # O_EXCL, never O_TRUNC: a name planted in torn/ (a hard link to another
            # file, say) is left alone, not truncated.
            fd, n = -1, 0
            while fd < 0:
                suffix = f".{n}" if n else ""
                try:
                    fd = self.home.open_file(
                        "torn",
                        f"{self.session_id}.{good_end}{suffix}.torn",
                        os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                        0o600,
                        opener=st_os.open,
                    )
                except FileExistsError:
                    n += 1
            try:
                os.set_blocking(fd, True)
                os.fchmod(fd, 0o600)
                view = memoryview(torn)
                while view:
                    view = view[st_os.write(fd, view) :]
                st_os.fsync(fd)
            finally:
                os.close(fd)
            st_os.fsync_dir(self.home.torn_dir)
            st_os.ftruncate(self._fd, good_end)
            st_os.fsync(self._fd)
        except OSError as exc:
            raise _io_error("torn-tail repair", exc, self.path) from exc
        moved = self.size - good_end
        self.size = good_end
        return moved

    # -- closing ---------------------------------------------------------------

    def close(self, *, sync: bool = True) -> None:
        """Sync (unless told not to), close the file and release the lock; idempotent."""
        if self._closed:
            return
        try:
            if sync and self._failed is None:
                self.sync()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            if self._flusher is not None:
                self._flusher.join(timeout=5)
            os.close(self._fd)
            self._lock.release()

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self._closed

    @property
    def failed(self) -> bool:
        """True once an I/O failure made the writer refuse appends (reopen to continue)."""
        return self._failed is not None


def _refuse_unsafe_lock(path: Path) -> None:
    """Refuse a lock file that is a symlink, FIFO or hard link before SessionLock writes it."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _io_error("stat of the lock", exc, path) from exc
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePathError("the lock file is a symlink; refusing to write through it", path=path)
    check_file(path, st)
