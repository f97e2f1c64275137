"""Removing, naming and forking sessions: explicit operations on whole logs, never automatic.

Contract:
- Every operation that changes an existing log holds the session against writers
  (`hold_session`: the lock file and the flock on the log's inode) and refuses a
  session a live writer has open with `SessionLockedError`. Forking only reads
  its parent, so a live session can be forked.
- `delete_session` removes, in this order: the log (unlinked, then the sessions
  directory fsynced), then what only that log gave meaning to: its snapshot
  cache, its repair sidecars (``<home>/torn/<id>.*``) and its lock file, and
  refreshes the catalog. The log goes first because it alone decides whether the
  session exists: a crash after it leaves only orphans keyed by a session id
  that no longer exists, which `p8j gc` finds and removes; a crash before it
  leaves the session whole (deleting a sidecar first could lose repair evidence
  of a session that stays). The report lists only what was removed; an error
  part way raises, so nothing half-deleted is reported as done. Blobs are shared
  between sessions (content-addressed): `p8j gc` removes the ones no log needs.
- `title_session` appends a `SessionTitled` event to a session nobody writes.
  A completed log is rewritten whole with the line added (a new inode, as
  ``p8j redact`` does), because the catalog trusts a completed log by its inode;
  any other log gets the line appended and fsynced. A log with a torn tail or
  damaged lines is refused (`p8j repair` or a resume first).
- ``latest`` (`resolve_session_ref`, `latest_session`) names the most recently active
  session: the one whose last event is the latest (ties: the newer id), as Claude
  Code's ``--continue`` and ``/resume`` choose, read from the catalog. The store's
  own ``layout.resolve_session_ref`` knows only ids, so it means the newest started.
- `fork_session` writes a new session holding the parent's conversation,
  commands, executions, metadata updates and title up to `at_seq` (or the last
  event at or before `until`; default: the end), renumbered from seq 1, after a
  `SessionStarted` carrying ``forked_from`` / ``forked_at_seq`` and the parent's
  project, metadata, cwd and start time, and before a `SessionPaused`: ready to
  resume. Blob references are copied as they are (blobs are shared). The new
  log is written to a temporary file and linked in whole, so a crash leaves no
  half fork.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .cache.catalog import list_summaries
from .cache.snapshots import snapshot_path
from .clock import now
from .codec import encode_event
from .errors import (
    CorruptLineError,
    InvalidEventError,
    JournalIOError,
    P8jError,
    SessionNotFoundError,
    SessionStateError,
)
from .events import (
    SCHEMA_VERSION,
    CommandRecorded,
    Event,
    ExecutionRecorded,
    MessageRecorded,
    MetadataUpdated,
    SessionPaused,
    SessionStarted,
    SessionTitled,
    UnknownEvent,
)
from .ids import new_session_id
from .session import Session, apply, fold
from .store.base import SessionStore, StoreWriter
from .store.fs import layout
from .store.fs.cursor import LogCursor
from .store.fs.layout import Home, check_file
from .store.fs.lock import hold_session
from .store.fs.sidecars import sidecars
from .store.fs.store import FileStore
from .store.fs.syscalls import REAL, Storage, replace_file, write_all
from .timefmt import format_ts, parse_ts

if TYPE_CHECKING:
    pass

__all__ = [
    "DeleteReport",
    "RemovedFile",
    "SessionUpkeep",
    "check_title",
    "delete_session",
    "fork_session",
    "latest_session",
    "resolve_in",
    "resolve_session_ref",
    "title_session",
]

TITLE_MAX_CHARS = 1000
# What a fork copies: the history and its names; lifecycle events are the fork's own.
_COPIED = (MessageRecorded, CommandRecorded, ExecutionRecorded, MetadataUpdated, SessionTitled)


class RemovedFile(msgspec.Struct, frozen=True):
    """One file `delete_session` or `p8j gc` removed (or would remove)."""

    kind: str
    path: str
    size: int


class DeleteReport(msgspec.Struct, frozen=True):
    """What deleting a session removed (or, with `dry_run`, would remove)."""

    session_id: str
    dry_run: bool
    removed: list[RemovedFile]

    @property
    def bytes_freed(self) -> int:
        """Bytes of every file removed (or to be removed)."""
        return sum(f.size for f in self.removed)


def _size(path: Path) -> int | None:
    try:
        return os.lstat(path).st_size
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise JournalIOError(f"cannot stat: {exc.strerror}", path=path) from exc


def _unlink(path: Path, storage: Storage) -> bool:
    try:
        storage.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise JournalIOError(f"cannot remove: {exc.strerror}", path=path) from exc
    return True


def _derived(home: Home, session_id: str) -> list[tuple[str, Path]]:
    """What goes after the log: its snapshot, sidecars and lock file (those that exist)."""
    found = [("snapshot", snapshot_path(home, session_id))]
    found += [("sidecar", p) for p in sidecars(home, session_id)]
    found.append(("lock", home.lock_path(session_id)))
    return found


def delete_session(
    home: Home, session_id: str, *, dry_run: bool = False, storage: Storage | None = None
) -> DeleteReport:
    """Remove a session's log, snapshot, sidecars and lock file (see the module docstring)."""
    st_os = storage if storage is not None else REAL
    log = home.log_path(session_id)
    removed: list[RemovedFile] = []
    with hold_session(home, session_id) as (fd, _):
        check_file(log, os.fstat(fd))
        removed.append(RemovedFile("log", str(log), os.fstat(fd).st_size))
        later = [(k, p, s) for k, p in _derived(home, session_id) if (s := _size(p)) is not None]
        if dry_run:
            removed += [RemovedFile(k, str(p), s) for k, p, s in later]
            return DeleteReport(session_id, True, removed)
        if not _unlink(log, st_os):
            raise JournalIOError("the log vanished while it was held", path=log)
        try:
            st_os.fsync_dir(home.sessions_dir)
        except OSError as exc:
            raise JournalIOError(f"cannot sync: {exc.strerror}", path=home.sessions_dir) from exc
        for kind, path, size in later:
            if _unlink(path, st_os):
                removed.append(RemovedFile(kind, str(path), size))
    with contextlib.suppress(P8jError):
        list_summaries(home)  # forget it in the catalog now, not at the next listing
    return DeleteReport(session_id, False, removed)


def latest_session(home: Home) -> str:
    """The id of the most recently active session (its last event); SessionNotFoundError if none."""
    summaries = list_summaries(home)  # applies the home rule (Home.check) first
    if not summaries:
        raise SessionNotFoundError(f"no sessions in {home.path}")
    # RFC 3339 UTC strings of one width order as the instants they name.
    latest = max(summaries, key=lambda s: (s.last_activity or s.start_time or "", s.session_id))
    return latest.session_id


def resolve_session_ref(home: Home, ref: str, *, archived: bool = False) -> str:
    """A full id, a unique prefix, or ``latest`` (most recently active) -> the session id.

    With `archived`, an archived session's id or prefix resolves too (read-only use).
    """
    if ref == "latest":
        return latest_session(home)
    return layout.resolve_session_ref(home, ref, archived=archived)


def resolve_in(store: SessionStore, ref: str, *, archived: bool = False) -> str:
    """`ref` in `store`: in a home, ``latest`` is the most recently active session (above).

    With `archived` (read-only callers), an archived session of a home resolves too.
    """
    if isinstance(store, FileStore):
        return resolve_session_ref(store.home, ref, archived=archived)
    return store.resolve(ref)


def _read_whole(home: Home, session_id: str) -> tuple[list[Event | UnknownEvent], LogCursor]:
    """Every event of a log strictly (blobs left as references); refuse a damaged one."""
    cursor = LogCursor(home.log_path(session_id), session_id=session_id, resolve_blobs=False)
    events: list[Event | UnknownEvent] = list(cursor.read())
    if cursor.torn is not None:
        raise CorruptLineError(
            "the log ends in a torn line; resume the session or run p8j repair first",
            path=cursor.path,
            line=cursor.torn.line,
            offset=cursor.torn.offset,
        )
    return events, cursor


def check_title(title: object) -> str:
    """`title` as stored: a str of 1 to TITLE_MAX_CHARS characters, not only spaces."""
    if not isinstance(title, str):
        raise InvalidEventError(f"a title must be a str, not {type(title).__name__}")
    if not title.strip() or len(title) > TITLE_MAX_CHARS:
        raise InvalidEventError(f"a title must be 1 to {TITLE_MAX_CHARS} characters, not blank")
    return title


def title_session(
    home: Home, session_id: str, title: str, *, storage: Storage | None = None
) -> SessionTitled:
    """Record a `SessionTitled` in a session nobody writes; return the event written."""
    check_title(title)
    st_os = storage if storage is not None else REAL
    log = home.log_path(session_id)
    with hold_session(home, session_id) as (_, held):
        events, cursor = _read_whole(home, session_id)
        session = fold(events)
        ts, _when = now()
        if ts < format_ts(session.last_event_time or session.start_time):
            ts = format_ts(session.last_event_time or session.start_time)  # time stays in order
        event = SessionTitled(SCHEMA_VERSION, session_id, cursor.next_seq, ts, title=title)
        line = encode_event(event)
        try:
            if session.status == "completed":
                replace_file(log.parent, log.name, _with_line(log, line), storage=st_os, hold=held)
            else:
                fd = home.open_file("sessions", log.name, os.O_WRONLY | os.O_APPEND)
                try:
                    write_all(st_os, fd, line)
                    st_os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise JournalIOError(f"cannot write the title: {exc.strerror}", path=log) from exc
    with contextlib.suppress(P8jError):
        list_summaries(home)
    return event


def _with_line(log: Path, line: bytes) -> list[bytes]:
    with open(log, "rb") as f:
        return [f.read(), line]


def _fork_point(
    events: list[Event | UnknownEvent], at_seq: int | None, until: datetime | None
) -> int:
    last = events[-1].seq
    if at_seq is not None:
        if type(at_seq) is not int or not 0 <= at_seq <= last:
            raise InvalidEventError(f"--at must be a seq from 0 to {last}, not {at_seq!r}")
        return at_seq
    if until is not None:
        kept = [e.seq for e in events if parse_ts(e.ts) <= until]
        if not kept:
            raise InvalidEventError(f"the session began after {format_ts(until)}")
        return kept[-1]
    return last


def fork_session(
    home: Home,
    session_id: str,
    *,
    at_seq: int | None = None,
    until: datetime | None = None,
    storage: Storage | None = None,
) -> str:
    """Copy a session's history up to a point into a new, paused session; return its id."""
    st_os = storage if storage is not None else REAL
    cursor = LogCursor(home.log_path(session_id), session_id=session_id, resolve_blobs=False)
    events: list[Event | UnknownEvent] = list(cursor.read(final=False))
    if not events or not isinstance(events[0], SessionStarted):
        raise CorruptLineError("no SessionStarted record", path=cursor.path, line=1, offset=0)
    point = _fork_point(events, at_seq, until)
    parent = events[0]
    sid = new_session_id()
    start = msgspec.structs.replace(
        parent,
        session_id=sid,
        host=socket.gethostname(),
        pid=os.getpid(),
        forked_from=session_id,
        forked_at_seq=point,
    )
    lines = [encode_event(start)]
    seq, ts = 0, parent.ts
    for event in events[1:]:
        if event.seq > point:
            break
        if isinstance(event, _COPIED):
            seq += 1
            ts = event.ts
            lines.append(encode_event(msgspec.structs.replace(event, session_id=sid, seq=seq)))
    pause_ts = max(now()[0], ts)
    pause = SessionPaused(SCHEMA_VERSION, sid, seq + 1, pause_ts, reason=f"forked at {point}")
    lines.append(encode_event(pause))
    _link_new(home, sid, lines, st_os)
    return sid


def _link_new(home: Home, sid: str, lines: list[bytes], storage: Storage) -> None:
    """Write a new log whole under a temporary name and link it in (never over a log)."""
    home.ensure()
    path = home.log_path(sid)
    tmp = home.sessions_dir / f".{sid}.{os.urandom(6).hex()}.new"
    try:
        replace_file(home.sessions_dir, tmp.name, lines, storage=storage)
        try:
            storage.link(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                storage.unlink(tmp)
        storage.fsync_dir(home.sessions_dir)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise JournalIOError("session log already exists", path=path) from exc
        raise JournalIOError(f"cannot write the fork: {exc.strerror}", path=path) from exc


class SessionUpkeep:
    """SessionManager's naming, forking and removing calls (a mixin; see SessionManager)."""

    _lock: threading.RLock
    _session: Session | None
    _writer: StoreWriter | None

    if TYPE_CHECKING:

        @property
        def home(self) -> Home: ...

        def _append(
            self, action: str, build: type[Event], states: tuple[str, ...] = ..., **fields: Any
        ) -> int: ...

    def set_title(self, title: str, session_id: str | None = None) -> int:
        """Title the current session, or one nobody writes (id, prefix, ``latest``); its seq."""
        check_title(title)
        with self._lock:
            current = self._session
            sid = current.session_id if current is not None else None
            if session_id is not None:
                sid = resolve_session_ref(self.home, session_id)
            elif sid is None:
                raise SessionStateError("cannot set a title: no session was started or resumed")
            if current is not None and sid == current.session_id and self._writer is not None:
                return self._append("set a title", SessionTitled, title=title)
            event = title_session(self.home, sid, title)
            if current is not None and sid == current.session_id:
                apply(current, event)  # keep the snapshot equal to a replay of the log
            return event.seq

    def delete_session(self, session_id: str, *, dry_run: bool = False) -> DeleteReport:
        """Remove a session nobody writes (id, prefix or ``latest``); see housekeeping.py."""
        with self._lock:
            sid = resolve_session_ref(self.home, session_id)
            report = delete_session(self.home, sid, dry_run=dry_run)
            if not dry_run and self._session is not None and self._session.session_id == sid:
                self._session = None
            return report

    def fork_session(
        self, session_id: str, *, at_seq: int | None = None, until: datetime | None = None
    ) -> str:
        """A new paused session holding a session's history up to a point; its id (resumable)."""
        sid = resolve_session_ref(self.home, session_id)
        return fork_session(self.home, sid, at_seq=at_seq, until=until)
