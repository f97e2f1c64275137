"""`FileStore`: the seam's file-system backend, wrapping the home, writer, cursor, lock and blobs.

Contract: behaviour and on-disk format are exactly those of layout.py,
writer.py, cursor.py, lock.py and blobs.py (this module adds no state of its
own). Positions are ``Position(inode, byte offset)``: a log's epoch is its
inode, which a rewrite (a new file renamed over the log) changes.
- A `FileCursor` checks before each read that the log still has its epoch
  (one lstat) and raises `StalePositionError` once it was replaced; a
  replacement between that check and the read is not noticed (the caches'
  tail checksum covers that for them).
- `rewrite` writes a temporary file in the sessions directory, fsyncs it,
  renames it over the log and fsyncs the directory, under the session's lock:
  a crash leaves the old log or the new one, whole.
- Watching is `FileWatch` (watch.py) on the sessions directory.
- `holder` probes the flock on the log itself (the writer's lock), so a removed
  ``locks/`` folder does not make a live session look crashed.
- Beyond the seam it offers what `HomeStore` (base.py) names for readers' fast
  paths: its home (where the derived caches live), archived sessions (read
  through the same verifying reader), raw line scans for search (rawlines.py)
  and a blob presence check.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...codec import DEFAULT_MAX_RECORD_BYTES
from ...errors import JournalIOError, P8jError, StalePositionError, UnsafePathError
from ...events import AnyEvent, Event, UnknownEvent
from ..base import LineTest, Position, StoreEntry
from .archived import archived_ids, has_log
from .blobs import BlobStore
from .cursor import LogCursor
from .entries import FileEntries, FileEntry, scan_entries
from .layout import Home, check_file, resolve_session_ref
from .syscalls import REAL, Storage, replace_file

if TYPE_CHECKING:
    # The write side, the lock, watching and raw scans load when used: a reader that
    # only lists (`p8j ls`) needs none of them.
    from .lock import LockHolder
    from .watch import FileWatch
    from .writer import Durability, LogWriter

__all__ = ["ArchivedCursor", "FileCursor", "FileEntries", "FileEntry", "FileStore", "FileWriter"]


def _head(home: Home, session_id: str, path: Path | None = None) -> Position:
    path = home.log_path(session_id) if path is None else path
    try:
        st = os.lstat(path)
    except FileNotFoundError as exc:
        raise JournalIOError("no such session log", path=path) from exc
    except OSError as exc:
        raise JournalIOError(f"cannot stat: {exc.strerror}", path=path) from exc
    if stat.S_ISLNK(st.st_mode):  # as the reader says it (cursor.open_log_readonly)
        raise UnsafePathError("refusing to follow a symlink", path=path)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError("not a regular file", path=path)
    return Position(st.st_ino, st.st_size)


class FileWriter:
    """A `LogWriter` behind the seam: positions instead of byte counts."""

    def __init__(self, writer: LogWriter) -> None:
        self.log = writer
        self.session_id = writer.session_id
        # Every record goes through here: the log's own method, not a call that calls it.
        self.append = writer.append  # type: ignore[method-assign]
        # The writer holds the lock, and p8j replaces a log only under it: the inode stays.
        self._epoch = os.lstat(writer.path).st_ino

    @property
    def durability(self) -> Durability:
        """The writer's durability mode."""
        return self.log.durability

    @property
    def position(self) -> Position:
        """The end of the log after the last record appended (or repaired)."""
        return Position(self._epoch, self.log.size)

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self.log.closed

    @property
    def failed(self) -> bool:
        """True once an I/O failure made the writer refuse appends."""
        return self.log.failed

    @property
    def last_record(self) -> bytes | None:
        """The last line committed (with its newline)."""
        return self.log.last_line

    def check(self) -> None:
        """Raise (and fail) unless the log is still the file this writer holds."""
        self.log.check()

    def fail(self, reason: str) -> None:
        """Refuse every later append (see writer.py)."""
        self.log.fail(reason)

    def append(self, event: Event, limit: int = 0) -> bytes:
        """Append one event as one line; return the line (see writer.py)."""
        return self.log.append(event, limit)

    def append_many(self, events: Sequence[Event], limit: int = 0) -> list[bytes]:
        """Append events as lines with one write; return the lines (see writer.py)."""
        return self.log.append_many(events, limit)

    def sync(self) -> None:
        """fdatasync the log now."""
        self.log.sync()

    def repair_tail(self, good_end: Position) -> int:
        """Move the bytes after `good_end` into ``torn/`` and truncate; return how many."""
        if good_end.epoch != self._epoch:
            raise StalePositionError(
                "the position is of an earlier incarnation of the log", path=self.log.path
            )
        return self.log.repair_tail(good_end.offset)

    def discard(self) -> None:
        """Remove the log, then close without syncing (a creation that failed)."""
        if not self.log.closed:
            with contextlib.suppress(OSError):
                os.unlink(self.log.path)
        self.log.close(sync=False)

    def close(self, *, sync: bool = True) -> None:
        """Sync (unless told not to), close and release the lock; idempotent."""
        self.log.close(sync=sync)


class FileCursor(LogCursor):
    """A `LogCursor` that knows its log's epoch and reports its `Position`."""

    def __init__(self, path: str | os.PathLike[str], *, epoch: int, **kw: Any) -> None:
        super().__init__(path, **kw)
        self.epoch = epoch

    @property
    def position(self) -> Position:
        """Where the next read starts."""
        return Position(self.epoch, self.offset)

    def _check_epoch(self) -> None:
        try:
            ino = os.lstat(self.path).st_ino
        except FileNotFoundError as exc:
            raise JournalIOError("no such log", path=self.path) from exc
        except OSError as exc:
            raise JournalIOError(f"cannot stat: {exc.strerror}", path=self.path) from exc
        if ino != self.epoch:
            raise StalePositionError("the log was replaced (rewritten) since", path=self.path)

    def read(self, *, final: bool = True) -> Iterator[AnyEvent | UnknownEvent]:
        """Verified events from the position on; StalePositionError if the log was replaced."""
        self._check_epoch()
        return super().read(final=final)

    def read_blocks(self, *, final: bool = True) -> Iterator[list[AnyEvent | UnknownEvent]]:
        """Like `read`, a list at a time."""
        self._check_epoch()
        return super().read_blocks(final=final)

    def read_with_lines(
        self, *, final: bool = True
    ) -> Iterator[tuple[AnyEvent | UnknownEvent, bytes]]:
        """Like `read`, each event with its exact line (see lines.py)."""
        self._check_epoch()
        return super().read_with_lines(final=final)


class ArchivedCursor(LogCursor):
    """A `LogCursor` over an archived log (decompressed by the reader); epoch 0."""

    @property
    def position(self) -> Position:
        """Where the next read starts (an archive is never appended to)."""
        return Position(0, self.offset)


class FileStore:
    """The journal files of one home behind the store seam."""

    def __init__(
        self, home: str | os.PathLike[str] | Home | None = None, *, storage: Storage | None = None
    ) -> None:
        self.home = home if isinstance(home, Home) else Home(home)
        self.storage = storage
        self._blobs = BlobStore(self.home.blobs_dir, storage=storage)

    def __repr__(self) -> str:
        return f"FileStore({str(self.home.path)!r})"

    @property
    def url(self) -> str:
        """``file://`` and the home's absolute path."""
        return self.home.path.absolute().as_uri()

    @property
    def blobs(self) -> BlobStore:
        """``<home>/blobs``."""
        return self._blobs

    # -- listing ---------------------------------------------------------------------------

    def entries(self) -> Iterator[StoreEntry]:
        """Every ``<id>.jsonl`` in the sessions directory (one scandir, no stat)."""
        found = self.entry_map()
        return (e for e in map(found.entry, found.epochs) if e is not None)

    def entry_map(self) -> FileEntries:
        """The sessions directory read once, entries taken by id (entries.py)."""
        return scan_entries(self.home.sessions_dir)

    def session_ids(self) -> list[str]:
        """Ids of every session, sorted."""
        return self.home.session_ids()

    def resolve(self, ref: str) -> str:
        """A full id, a unique prefix, or ``latest`` -> the session id."""
        return resolve_session_ref(self.home, ref)

    def exists(self, session_id: str) -> bool:
        """True if the session's log is a file."""
        return self.home.log_path(session_id).is_file()

    def head(self, session_id: str) -> Position:
        """``Position(inode, size)`` of the log."""
        return _head(self.home, session_id)

    def holder(self, session_id: str) -> LockHolder | None:
        """The live writer of the session (the flock on its log), or None."""
        from .lock import log_holder

        return log_holder(self.home, session_id)

    # -- writing and reading ---------------------------------------------------------------

    def open_writer(
        self,
        session_id: str,
        *,
        first: Event | None = None,
        durability: Durability = "default",
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        batch_interval_ms: float = 50.0,
        batch_max_events: int = 1024,
    ) -> FileWriter:
        """Lock the session and open its log for appending (see writer.py)."""
        from .writer import LogWriter

        writer = LogWriter(
            self.home,
            session_id,
            create=first is not None,
            first=first,
            durability=durability,
            max_record_bytes=max_record_bytes,
            batch_interval_ms=batch_interval_ms,
            batch_max_events=batch_max_events,
            storage=self.storage,
        )
        try:
            return FileWriter(writer)
        except OSError as exc:
            writer.close(sync=False)
            raise JournalIOError(f"cannot stat: {exc.strerror}", path=writer.path) from exc

    def open_cursor(
        self,
        session_id: str,
        *,
        position: Position | None = None,
        line: int = 1,
        next_seq: int = 0,
        state: str | None = None,
        skip_corrupt: bool = False,
        resolve_blobs: bool = True,
    ) -> FileCursor:
        """A verifying reader of the log from `position` (see cursor.py)."""
        path = self.home.log_path(session_id)
        head = _head(self.home, session_id, path)
        if position is not None and not position.same_log(head):
            raise StalePositionError(
                "the position is of an earlier incarnation of the log", path=path
            )
        return FileCursor(
            path,
            epoch=head.epoch,
            session_id=session_id,
            skip_corrupt=skip_corrupt,
            offset=position.offset if position is not None else 0,
            line=line,
            next_seq=next_seq,
            state=state,
            resolve_blobs=resolve_blobs,
            blob_dir=self.home.blobs_dir,
        )

    # -- rewriting and removing ------------------------------------------------------------

    def rewrite(
        self, session_id: str, records: Iterable[bytes], *, expected: Position | None = None
    ) -> Position:
        """Replace the log by `records` crash-safely, with every writer kept out."""
        from .lock import hold_session

        st_os = self.storage if self.storage is not None else REAL
        path = self.home.log_path(session_id)
        _head(self.home, session_id)  # no such log: nothing to lock or replace
        with hold_session(self.home, session_id) as (_, held):
            if expected is not None and _head(self.home, session_id) != expected:
                raise StalePositionError("the log moved since the rewrite was planned", path=path)
            try:
                parts = (record + b"\n" for record in records)
                replace_file(self.home.sessions_dir, path.name, parts, storage=st_os, hold=held)
            except OSError as exc:
                raise JournalIOError(f"rewrite failed: {exc.strerror or exc}", path=path) from exc
            return _head(self.home, session_id)

    def remove(self, session_id: str) -> None:
        """Delete the session's log (its lock file stays: no unlink race with a locker)."""
        from .lock import hold_session

        path = self.home.log_path(session_id)
        st_os = self.storage if self.storage is not None else REAL
        _head(self.home, session_id)
        with hold_session(self.home, session_id):
            try:
                check_file(path, os.lstat(path))
                st_os.unlink(path)
                st_os.fsync_dir(self.home.sessions_dir)
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    raise JournalIOError("no such session log", path=path) from exc
                raise JournalIOError(f"cannot remove: {exc.strerror}", path=path) from exc

    # -- watching --------------------------------------------------------------------------

    def watch(
        self,
        session_ids: Sequence[str] | None = None,
        *,
        stop: threading.Event | None = None,
        debounce_ms: int = 20,
        step_ms: int = 2,
    ) -> FileWatch:
        """An inotify watch on the sessions directory (see watch.py)."""
        from .watch import FileWatch

        if not self.home.sessions_dir.is_dir():
            raise JournalIOError("no sessions directory", path=self.home.sessions_dir)
        return FileWatch(
            self.home.sessions_dir,
            session_ids,
            stop=stop,
            debounce_ms=debounce_ms,
            step_ms=step_ms,
        )

    # -- beyond the seam: what `HomeStore` offers readers (base.py) -------------------------

    def archived_ids(self) -> list[str]:
        """Ids of the archived sessions (``<home>/archive``), sorted; checks the home."""
        return archived_ids(self.home)

    def is_archived(self, session_id: str) -> bool:
        """True if the session has no log but something stands where its archive goes."""
        return not self.exists(session_id) and has_log(self.home, session_id)

    def open_archived(
        self, session_id: str, *, skip_corrupt: bool = False, resolve_blobs: bool = True
    ) -> ArchivedCursor:
        """A verifying reader of the session's archive (store/fs/archived.py)."""
        return ArchivedCursor(
            self.home.log_path(session_id),
            session_id=session_id,
            skip_corrupt=skip_corrupt,
            resolve_blobs=resolve_blobs,
            blob_dir=self.home.blobs_dir,
        )

    def scan_lines(
        self, session_id: str, test: LineTest, *, offset: int = 0
    ) -> Iterator[tuple[int, bytes]]:
        """The lines from `offset` on that `test` may accept (rawlines.py)."""
        from .rawlines import candidate_lines, log_file

        return candidate_lines(log_file(self.home, session_id), test, offset=offset)

    def lines_at(
        self, session_id: str, places: Sequence[tuple[int, int]]
    ) -> Iterator[tuple[int, bytes]]:
        """The lines at (offset, length) places (rawlines.py)."""
        from .rawlines import lines_at

        return lines_at(self.home.log_path(session_id), places)

    def blob_intact(self, sha256: str, size: int) -> bool:
        """True if the blob's file is a regular file of `size` bytes (one lstat, no hash)."""
        try:
            st = os.lstat(self._blobs.path(sha256))
        except (OSError, P8jError):
            return False
        return stat.S_ISREG(st.st_mode) and st.st_size == size
