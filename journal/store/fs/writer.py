"""The append-only write path of one session log.

Contract:
- One writer per session: it holds an exclusive flock on its own descriptor
  of the log (see lock.py) while open, and appends only to the inode it locked
  and checked: after locking, the path must still name that inode, with one
  link, regular and ours (else `UnsafePathError`).
- A log never exists without its complete ``SessionStarted`` line: creating
  one writes that line into an unnamed file in ``sessions/`` (``O_TMPFILE``;
  where the file system lacks it, a hidden ``.<id>.<random>.new`` file),
  fsyncs it, locks it and only then links it in as ``<id>.jsonl`` (never
  replacing an existing log), then fsyncs the directory.
- Each event is one complete line written by a single ``write()`` on an
  ``O_APPEND`` descriptor (`append_many`: all of its lines in one ``write()``,
  committed or rolled back together). When `LogWriter.append` returns, the line is in the
  kernel's page cache: it survives ``kill -9`` of the writer.
- Durability modes (per writer):
  ``default``: no fsync per event; `sync()` (called at pause, end and save)
  fdatasyncs. On power loss, events since the last sync may be lost.
  ``fsync``: fdatasync before `append` returns; survives power loss.
  ``batch``: group commit: fdatasync when `batch_max_events` events are pending,
  or at most `batch_interval_ms` after the first pending one (a background
  thread). On power loss, up to that many events / that much time may be lost;
  never a torn record in the middle, and never a gap.
- Files are 0600 whatever the umask. A record over `max_record_bytes` raises
  `RecordTooLargeError` before anything is written. (The manager first moves
  payload strings over its blob threshold into blobs, so the cap only refuses
  what cannot move, e.g. huge metadata.)
- Exceptions: a line is *committed* once `last_line` is it and `size` counts
  it; until then any exception (OSError, KeyboardInterrupt) truncates the file
  back to the last record boundary: the line is in the file whole or not at
  all. One after the commit (in the fdatasync of ``fsync`` mode, the lock wait
  of ``batch`` mode) leaves it committed; the caller folds it (see the
  manager) and a later sync covers it. After a failed fsync, or a rollback
  that could not finish, the writer refuses further appends (Linux may drop
  the dirty pages, so a retried fsync could lose data); reopen to continue.
- A log removed, moved or replaced under a live writer is noticed before the
  next write once per `CHECK_BYTES` appended (every append in ``fsync`` mode) and
  at every `sync()`/`check()` (pause, end, save): the writer then refuses
  appends and raises `JournalIOError` saying so, rather than write into a file
  nobody will read.
- `repair_tail` moves a torn tail (bytes after the last good record) into
  ``<home>/torn/<id>.<offset>.torn`` (fsynced) before truncating, so appends
  always continue on a clean line boundary and no byte is destroyed. A
  sidecar that could not be written whole is removed again (the bytes are
  still in the log), and empty sidecars older versions left are cleaned up.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
import time
from collections.abc import Sequence
from typing import Literal, NoReturn

from ...codec import DEFAULT_MAX_RECORD_BYTES, encode_event
from ...errors import JournalIOError, RecordTooLargeError, UnsafePathError
from ...events import Event
from .layout import Home, check_file
from .lock import SessionLock, lock_log, refuse_unsafe_lock
from .sidecars import drop_empty_sidecars, write_sidecar
from .syscalls import REAL, Storage, write_all

__all__ = ["CHECK_BYTES", "DEFAULT_MAX_RECORD_BYTES", "Durability", "LogWriter"]

Durability = Literal["default", "fsync", "batch"]
DURABILITY_MODES: tuple[str, ...] = ("default", "fsync", "batch")
# Bytes appended between two checks that the log is still in place (an fstat and an
# lstat, ~2 us): a size compare per append, and a check every few hundred records.
CHECK_BYTES = 64 << 10
_APPEND = os.O_WRONLY | os.O_APPEND  # every descriptor a writer appends through
# Errors of an O_TMPFILE open on a file system (or kernel) without it.
_NO_TMPFILE = (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT)


def _io_error(what: str, exc: OSError, path: os.PathLike[str] | str) -> JournalIOError:
    err = JournalIOError(f"{what} failed: {exc.strerror or exc}", path=path)
    err.__cause__ = exc
    return err


class LogWriter:
    """The single appender of one session's log (holds its lock while open).

    With ``create=True``, `first` (the ``SessionStarted`` event) is the log's
    first line, published with it; `last_line` is the last line committed.
    """

    def __init__(
        self,
        home: Home,
        session_id: str,
        *,
        create: bool,
        first: Event | None = None,
        durability: Durability = "default",
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        batch_interval_ms: float = 50.0,
        batch_max_events: int = 1024,
        storage: Storage | None = None,
    ) -> None:
        if durability not in DURABILITY_MODES:
            raise ValueError(f"durability must be one of {DURABILITY_MODES}, not {durability!r}")
        if create and first is None:
            raise ValueError("creating a log needs its first event (a log never exists empty)")
        self.home = home
        self.session_id = session_id
        self.path = home.log_path(session_id)
        self.durability = durability
        self.max_record_bytes = max_record_bytes
        self.last_line: bytes | None = None
        self._batch_interval = batch_interval_ms / 1000.0
        self._batch_max = batch_max_events
        self._failed: JournalIOError | None = None
        self._pending = 0
        self._cond = threading.Condition()
        self._flusher: threading.Thread | None = None
        self._closed = False
        self._check_bytes = 0 if durability == "fsync" else CHECK_BYTES
        # Every call that changes the file goes through `storage` (fault injection in
        # tests); without one, the hot path calls os.write/os.fdatasync itself.
        self._injected = storage
        self._os = storage if storage is not None else REAL
        home.ensure()
        refuse_unsafe_lock(home.lock_path(session_id))
        self._lock = SessionLock(home.lock_path(session_id))
        try:
            if first is not None and create:
                self._fd = self._create(self._first_line(first))
            else:
                self._fd = self._open()
            self._ident = _ident(os.fstat(self._fd))
            self.size = os.fstat(self._fd).st_size
            self._check_at = self.size + self._check_bytes
            self._lock.record()
        except BaseException:
            if hasattr(self, "_fd"):
                if create:  # published, but the session never began: take it back
                    with contextlib.suppress(OSError):
                        self._os.unlink(self.path)
                os.close(self._fd)
            self._lock.release()
            raise
        if durability == "batch":
            self._flusher = threading.Thread(
                target=self._flush_loop, name=f"p8j-batch-{session_id[:8]}", daemon=True
            )
            self._flusher.start()

    # -- opening ---------------------------------------------------------------

    def _first_line(self, first: Event) -> bytes:
        line = encode_event(first)
        if len(line) > self.max_record_bytes:
            raise RecordTooLargeError(
                f"{type(first).__name__} record is {len(line)} bytes; "
                f"the cap is {self.max_record_bytes}",
                path=self.path,
            )
        return line

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = self.home.open_file("sessions", self.path.name, flags, 0o600, opener=self._os.open)
        except FileNotFoundError as exc:
            raise JournalIOError("no such session log", path=self.path) from exc
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePathError(
                    "refusing to write through a symlink", path=self.path
                ) from exc
            raise _io_error("open", exc, self.path) from exc
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                check_file(self.path, st)  # names what it is
            os.set_blocking(fd, True)
            # Lock first, then check: a second writer is told the session is locked, and
            # what is checked (one link, still at the path) can no longer change under us.
            lock_log(fd, self.path, self.home.lock_path(self.session_id), self.session_id)
            self._check_named(fd, "while it was being opened")
        except OSError as exc:
            os.close(fd)
            raise _io_error("open", exc, self.path) from exc
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _create(self, line: bytes) -> int:
        """Write `line` into a new unnamed file, fsync, lock, and link it in as the log."""
        st_os = self._os
        tmp: str | None = None
        try:
            try:
                fd = self.home.open_file(
                    "sessions", ".", os.O_TMPFILE | _APPEND, 0o600, opener=st_os.open
                )
            except OSError as exc:
                if exc.errno not in _NO_TMPFILE:
                    raise
                tmp = f".{self.session_id}.{os.urandom(6).hex()}.new"
                fd = self.home.open_file(
                    "sessions", tmp, _APPEND | os.O_CREAT | os.O_EXCL, 0o600, opener=st_os.open
                )
        except OSError as exc:
            raise _io_error("create", exc, self.path) from exc
        linked = False
        try:
            os.set_blocking(fd, True)
            os.fchmod(fd, 0o600)  # O_CREAT's mode is masked by the umask
            lock_log(fd, self.path, self.home.lock_path(self.session_id), self.session_id)
            write_all(st_os, fd, line)
            st_os.fsync(fd)
            src = f"/proc/self/fd/{fd}" if tmp is None else self.path.parent / tmp
            try:
                st_os.link(src, self.path)  # never replaces: EEXIST if a log is there
            except FileExistsError as exc:
                raise JournalIOError("session log already exists", path=self.path) from exc
            linked = True
            if tmp is not None:
                st_os.unlink(self.path.parent / tmp)
                tmp = None
            st_os.fsync_dir(self.path.parent)
        except BaseException as exc:
            if linked:  # complete, but nobody was told the session began: take it back
                with contextlib.suppress(OSError):
                    st_os.unlink(self.path)
            os.close(fd)
            if isinstance(exc, OSError):
                raise _io_error("create", exc, self.path) from exc
            raise
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    st_os.unlink(self.path.parent / tmp)
        self.last_line = line
        # Appends must go through the log's name: inotify tells a directory's watchers
        # (`p8j tail`) of a file's writes by the name it was opened by, and an O_TMPFILE
        # has none. The lock file's flock, held since __init__, keeps other writers out
        # while the log's own flock moves to the new descriptor.
        made = _ident(os.fstat(fd))
        os.close(fd)
        try:
            fd = self._open()
            if _ident(os.fstat(fd)) != made:
                os.close(fd)
                raise UnsafePathError(
                    "the session log was replaced as it was created", path=self.path
                )
        except BaseException:
            with contextlib.suppress(OSError):
                st_os.unlink(self.path)
            raise
        return fd

    def _check_named(self, fd: int, when: str) -> None:
        """Raise unless the log path names `fd`'s inode, a regular file of ours with one link."""
        mine = os.fstat(fd)
        try:
            named = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            gone = "removed" if mine.st_nlink == 0 else "moved away"
            raise JournalIOError(f"the session log was {gone} {when}", path=self.path) from None
        if _ident(named) != _ident(mine):
            raise UnsafePathError(f"the session log was replaced {when}", path=self.path)
        check_file(self.path, mine)

    def check(self) -> None:
        """Raise (and refuse further appends) unless the log is still in place; see the contract."""
        if self._failed is not None or self._closed:
            self._refuse()
        self._check_at = self.size + self._check_bytes
        try:
            self._check_named(self._fd, "while the session was open")
        except (JournalIOError, UnsafePathError) as exc:
            self.fail(exc.message + " (what was written since is not in the log)")
            raise
        except OSError as exc:
            raise _io_error("check of the log", exc, self.path) from exc

    def fail(self, reason: str) -> None:
        """Refuse every later append (with `reason`) until the session is reopened."""
        if self._failed is None:
            self._failed = JournalIOError(reason, path=self.path)

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
        if len(line) > (limit or self.max_record_bytes):
            self._too_large(event, line, limit)
        self._write(line, line, 1)
        return line

    def append_many(self, events: Sequence[Event], limit: int = 0) -> list[bytes]:
        """Write `events` as lines with one ``write()``; return them once all are in the file.

        Every line is checked against the cap before anything is written; the
        write is committed (or rolled back) whole, as one `append`'s line is.
        """
        if self._failed is not None or self._closed:
            self._refuse()
        lines = [encode_event(event) for event in events]
        cap = limit or self.max_record_bytes
        for event, line in zip(events, lines, strict=True):
            if len(line) > cap:
                self._too_large(event, line, limit)
        if lines:
            self._write(b"".join(lines) if len(lines) > 1 else lines[0], lines[-1], len(lines))
        return lines

    def _too_large(self, event: Event, line: bytes, limit: int) -> NoReturn:
        raise RecordTooLargeError(
            f"{type(event).__name__} record is {len(line)} bytes; "
            f"the cap is {limit or self.max_record_bytes}",
            path=self.path,
        )

    def _write(self, data: bytes, last: bytes, count: int) -> None:
        """Write `data` (`count` whole lines, the last one `last`) and commit it, or roll back."""
        size = len(data)
        if self.size >= self._check_at:
            self.check()
        try:
            write = os.write if self._injected is None else self._injected.write
            written = write(self._fd, data)
            while written < size:
                # A short write means the disk or a limit is full; finish or roll back.
                n = write(self._fd, memoryview(data)[written:])
                if n <= 0:
                    raise OSError(28, "No space left on device (short write)")
                written += n
            # The commit: two stores, nothing that can raise between them.
            self.last_line = last
            self.size += size
        except OSError as exc:
            self._rollback()
            raise _io_error("write", exc, self.path) from exc
        except BaseException:
            # Interrupted (KeyboardInterrupt...) between writes: never leave half a line.
            self._rollback()
            raise
        if self.durability == "default":
            return
        if self.durability == "fsync":
            self._fdatasync()
        elif self.durability == "batch":
            with self._cond:
                self._pending += count
                if self._pending >= self._batch_max:
                    self._fdatasync()
                    self._pending = 0
                elif self._pending == count:
                    self._cond.notify()

    def _refuse(self) -> None:
        """Raise why this writer takes no more appends (failed earlier, or closed)."""
        if self._failed is not None:
            raise JournalIOError(
                f"the log stopped accepting writes ({self._failed.message}); reopen the session",
                path=self.path,
            )
        raise JournalIOError("the log writer is closed", path=self.path)

    def _rollback(self) -> None:
        try:
            self._os.ftruncate(self._fd, self.size)
        except OSError as exc:
            self._failed = _io_error("truncate after a failed write", exc, self.path)
        except BaseException:
            # Interrupted again: the file may end in part of a line; a reopen repairs it.
            self.fail("a write was interrupted and could not be rolled back")
            raise

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
        """Check the log is in place, then fdatasync it (every mode); raises JournalIOError."""
        if self._failed is not None:
            raise self._failed
        self.check()
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
                if _ident(os.fstat(rfd)) != self._ident:
                    raise UnsafePathError("the log was replaced while open", path=self.path)
                torn = os.pread(rfd, self.size - good_end, good_end)
            finally:
                os.close(rfd)
            drop_empty_sidecars(self.home, self.session_id, st_os)
            write_sidecar(self.home, self.session_id, good_end, [torn], st_os)
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


def _ident(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino
