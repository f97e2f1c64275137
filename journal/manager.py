"""SessionManager: the library API an agent CLI embeds (names kept from the original design).

Contract:
- The manager owns at most one open session at a time (`current_session`),
  which it keeps in sync by folding every event it writes, so it always equals
  a replay of the log.
- Every `record_*` call appends exactly one event (see log.py for what
  "returned" guarantees in each durability mode) and returns its seq.
- `pause_session` and `end_session` fsync and release the session's write
  lock; `resume_session` takes it again, repairs a torn tail left by a crashed
  writer, and appends ``SessionResumed`` (``recovered=True`` after a crash).
- Starting or resuming a session while another is active pauses that one first.
- As a context manager, leaving the ``with`` block pauses a still-active
  session (so it can be resumed later) and closes the manager; call
  `end_session()` yourself to mark it completed.
- Thread-safe: calls from several threads of one process are serialised.
- The store (see store/select.py): `store` (a `SessionStore`, a URL or a path)
  > ``$P8J_STORE`` > the file store at `home`. Every write, read, fold, ref and
  listing goes through the store's seam. The snapshot and catalog caches live
  in the file store's home; other stores (memory) are folded and listed
  without caches, which changes speed only. `home` is the file store's home.
- Secrets: unless turned off (``redact=False``, or ``P8J_REDACT=0`` in the
  environment), every text of an event (message content and extra, commands,
  execution output, metadata keys and values, project name, cwd, reasons) is
  redacted before it is encoded (see secrets/stream.py); the event's
  ``redactions`` lists the rule ids that fired.
- Large payloads: a payload string over `blob_threshold` bytes (256 KiB by
  default; None turns blobs off) is stored as a blob, fsynced before its event
  is written (see blobs.py); the session in memory holds the value itself.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

from msgspec import UNSET

from . import checks
from .cache.catalog import SessionSummary, list_store_summaries
from .clock import now as _now
from .codec import check_nesting, decode_written
from .errors import (
    InvalidEventError,
    InvalidTypeError,
    RecordTooLargeError,
    SessionStateError,
    StoreConfigError,
)
from .events import (
    SCHEMA_VERSION,
    CommandRecorded,
    Event,
    ExecutionRecorded,
    MessageRecorded,
    MetadataUpdated,
    SessionEnded,
    SessionPaused,
    SessionResumed,
)
from .housekeeping import SessionUpkeep, resolve_in
from .ids import new_session_id
from .recording import (
    check_options,
    choose_store,
    open_for_append,
    restamp,
    settle,
    start_event,
    write_large,
)
from .secrets.config import default_redactor, redaction_enabled
from .secrets.stream import REDACTED_FIELDS, RedactStream
from .session import Session, apply, message_dict
from .store.base import SessionStore, StoreWriter
from .store.fs.blobs import BLOB_FIELDS, DEFAULT_BLOB_THRESHOLD
from .store.fs.layout import Home
from .store.fs.store import FileStore
from .store.fs.syscalls import Storage
from .store.fs.writer import DEFAULT_MAX_RECORD_BYTES, Durability

__all__ = ["SessionManager"]


class SessionManager(SessionUpkeep):
    """Start, record into, pause, resume and end journaled sessions; title, fork, delete them."""

    def __init__(
        self,
        home: str | os.PathLike[str] | Home | None = None,
        *,
        store: SessionStore | str | os.PathLike[str] | None = None,
        durability: Durability = "default",
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        batch_interval_ms: float = 50.0,
        batch_max_events: int = 1024,
        redact: bool | None = None,
        blob_threshold: int | None = DEFAULT_BLOB_THRESHOLD,
        storage: Storage | None = None,
    ) -> None:
        batch_interval_ms = check_options(
            home, durability, max_record_bytes, batch_interval_ms, batch_max_events, redact,
            blob_threshold, storage
        )  # fmt: skip
        self.store = choose_store(store, home, storage)
        # None: on unless P8J_REDACT=0. The stream is (re)built at each start/resume,
        # so edits to <home>/redact.json apply to the next session.
        self._redact_on = redaction_enabled() if redact is None else redact
        self._redact: RedactStream | None = None
        self._blob_threshold = blob_threshold or 0
        self._blobs = self.store.blobs if blob_threshold else None
        self.durability: Durability = durability
        self._writer_opts: dict[str, Any] = {
            "durability": durability,
            "max_record_bytes": max_record_bytes,
            "batch_interval_ms": batch_interval_ms,
            "batch_max_events": batch_max_events,
        }
        self._lock = threading.RLock()
        self._writer: StoreWriter | None = None
        self._session: Session | None = None
        self._history: int | None = None  # the window the current session was resumed with

    # -- state -----------------------------------------------------------------

    @property
    def home(self) -> Home:
        """The file store's home; StoreConfigError for a store kept elsewhere."""
        if isinstance(self.store, FileStore):
            return self.store.home
        raise StoreConfigError(f"{self.store!r} has no home directory (not a file store)")

    @property
    def current_session(self) -> Session | None:
        """The session this manager last started or resumed (None before that)."""
        return self._session

    def _active(
        self, action: str, states: tuple[str, ...] = ("active",)
    ) -> tuple[Session, StoreWriter]:
        session, writer = self._session, self._writer
        if session is None:
            raise SessionStateError(f"cannot {action}: no session has been started or resumed")
        if writer is None and session.status in states:
            # Left active by a writer that failed (or a resume that did not finish).
            raise SessionStateError(
                f"cannot {action}: session {session.session_id} is {session.status} but not "
                "open for writing here; resume it"
            )
        if session.status not in states or writer is None:
            raise SessionStateError(
                f"cannot {action}: session {session.session_id} is {session.status}"
            )
        return session, writer

    def _append(
        self,
        action: str,
        build: type[Event],
        states: tuple[str, ...] = ("active",),
        **fields: Any,
    ) -> int:
        with self._lock:
            session, writer = self._active(action, states)
            seq = session.last_seq + 1
            ts, when = _now()
            stream = self._redact
            if stream is not None and build.__name__ in REDACTED_FIELDS:
                fired = stream.fields(fields, REDACTED_FIELDS[build.__name__])
                if fired:
                    fields["redactions"] = fired
            event = build(SCHEMA_VERSION, session.session_id, seq, ts, **fields)
            folded: Event
            try:
                # `append_event` inlined (one call less on every record but messages).
                if self._blobs is not None and build in BLOB_FIELDS:
                    try:
                        folded = decode_written(writer.append(event, self._blob_threshold))
                    except RecordTooLargeError:
                        folded = write_large(writer, event, self._blobs, self._blob_threshold)
                else:
                    folded = decode_written(writer.append(event))
            except BaseException:
                settle(self.store, session, writer, event, when, False, self._history)
                raise
            try:
                apply(session, folded, when)
            except BaseException:
                settle(self.store, session, writer, event, when, True, self._history)
                raise
            return seq

    # -- lifecycle -------------------------------------------------------------

    def start_session(
        self,
        project_name: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        cwd: str | None = None,
    ) -> Session:
        """Create a new session, make it current, and return it."""
        metadata = checks.start_args(project_name, metadata, cwd)
        with self._lock:
            sid = new_session_id()
            stream = self._new_redact_stream()
            # Built, redacted and size-checked before anything is touched; stamped after the
            # pause, so the new session is more recently active than the one it paused.
            cap = self._writer_opts["max_record_bytes"]
            place = self.store.home.log_path(sid) if isinstance(self.store, FileStore) else None
            event = start_event(place, sid, project_name, metadata, cwd, stream, cap)
            self._pause_if_active()
            event = restamp(event)
            # The log appears with its start line, written and fsynced (see writer.py).
            writer = self.store.open_writer(sid, first=event, **self._writer_opts)
            try:
                assert writer.last_record is not None
                session = apply(None, decode_written(writer.last_record))
            except BaseException:
                # Nothing was acknowledged: leave no session the caller never got.
                writer.discard()
                raise
            self._writer = writer
            self._session = session
            self._redact = stream
            self._history = None
            return self._session

    def _new_redact_stream(self) -> RedactStream | None:
        """A fresh redaction stream for a session starting or resuming (None when off)."""
        if not self._redact_on:
            return None
        home = self.store.home.path if isinstance(self.store, FileStore) else None
        return RedactStream(default_redactor(home))

    def _pause_if_active(self) -> None:
        writer = self._writer
        if writer is not None and writer.failed:
            # It cannot write a pause; the log stays active, so it can be resumed later.
            self._close_writer()
        elif self._session is not None and self._session.status == "active" and writer:
            self.pause_session()

    def pause_session(self, reason: str | None = None) -> Session:
        """Pause the active session: fsync, release its lock; it can be resumed."""
        checks.opt_string(reason, "reason")
        with self._lock:
            session, writer = self._active("pause")
            writer.check()  # a log removed under the writer: say so, write no pause into it
            try:
                self._append("pause", SessionPaused, reason=reason)
            finally:
                if session.status == "paused":  # even if an exception came after the pause
                    self._close_writer()
            return session

    def end_session(self, reason: str | None = None) -> Session:
        """Complete the current session (active or paused); nothing may follow."""
        checks.opt_string(reason, "reason")
        with self._lock:
            session = self._session
            if session is None:
                raise SessionStateError("cannot end: no session has been started or resumed")
            if session.status == "completed":
                raise SessionStateError(f"cannot end: session {session.session_id} is completed")
            if session.status == "paused" or self._writer is None or self._writer.failed:
                if self._writer is not None:
                    self._close_writer()  # it holds the lock the reopen needs
                # Re-open the paused session's log just long enough to end it.
                writer, reopened, _ = open_for_append(
                    self.store, session.session_id, self._history, self._writer_opts
                )
                self._close_writer()
                self._writer, self._session = writer, reopened
            assert self._writer is not None
            self._writer.check()  # a log removed under the writer: say so, write no end into it
            try:
                self._append("end", SessionEnded, ("active", "paused"), reason=reason)
            finally:
                if self._session is not None and self._session.status == "completed":
                    self._close_writer()
            assert self._session is not None
            return self._session

    def resume_session(self, session_id: str, *, history: int | None = None) -> Session:
        """Re-open a paused (or crashed, still active) session by id, prefix or ``latest``.

        With `history`, the Session keeps only the last `history` entries of each
        history (see `Session.window`), and resuming costs that many entries plus
        the log after the snapshot cache, whatever the session's size.
        """
        checks.opt_integer(history, "history", minimum=0)  # a bad id: InvalidSessionIdError
        with self._lock:
            sid = resolve_in(self.store, session_id)  # latest: the most recently active
            cur = self._session
            if (
                cur is not None
                and cur.session_id == sid
                and self._writer
                and not self._writer.failed
                and cur.status == "active"
            ):
                raise SessionStateError(f"cannot resume: session {sid} is already active here")
            if cur is not None and cur.session_id == sid:
                self._close_writer()  # a failed writer of this session: reopen it below
            stream = self._new_redact_stream()
            # Open (lock, fold, check) first, so a refused resume leaves everything as it was.
            writer, session, repaired = open_for_append(self.store, sid, history, self._writer_opts)
            try:
                self._pause_if_active()
                self._close_writer()
            except BaseException:
                writer.close(sync=False)
                raise
            self._writer, self._session = writer, session
            self._redact = stream
            self._history = history
            recovered = session.status == "active"
            try:
                self._append(
                    "resume",
                    SessionResumed,
                    ("active", "paused"),
                    reason="crash-recovery" if recovered else None,
                    recovered=recovered,
                    repaired_bytes=repaired,
                    pid=os.getpid(),
                    host=socket.gethostname(),
                )
            except BaseException:
                self._close_writer()
                raise
            return session

    def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    # -- records ---------------------------------------------------------------

    def record_message(self, message: Mapping[str, Any]) -> int:
        """Append a conversation message (a dict with ``role`` and ``content``); return its seq."""
        if type(message) is not dict and not isinstance(message, Mapping):
            raise InvalidTypeError(f"a message must be a mapping, not {type(message).__name__}")
        role = message.get("role")
        if not isinstance(role, str):
            error = InvalidEventError if role is None else InvalidTypeError
            raise error("a message needs a string 'role'")
        content = message.get("content", UNSET)
        if len(message) == (1 if content is UNSET else 2):
            extra: dict[str, Any] = {}
        else:
            extra = {k: v for k, v in message.items() if k != "role" and k != "content"}
            checks.keys(extra, "a message")
            check_nesting(extra, "a message's fields")
        if type(content) is not str:
            check_nesting(content, "a message's content")
        fired: list[str] = []
        # The hot path: `_append` and `apply` inlined (same checks and result), one clock read.
        with self._lock:
            session, writer = self._session, self._writer
            if session is None or writer is None or session.status != "active":
                session, writer = self._active("record a message")
            seq = session.last_seq + 1
            ts, when = _now()
            stream = self._redact
            if stream is not None:
                role, content, extra, fired = stream.message(role, content, extra)
            event = MessageRecorded(
                SCHEMA_VERSION,
                session.session_id,
                seq,
                ts,
                role=role,
                content=content,
                extra=extra,
                redactions=fired,
            )
            try:
                try:
                    line = writer.append(event, self._blob_threshold)
                except RecordTooLargeError:
                    if self._blobs is None:
                        raise
                    folded = write_large(writer, event, self._blobs, self._blob_threshold)
                    assert isinstance(folded, MessageRecorded)
                    entry = message_dict(folded)
                else:
                    if type(content) is str and type(role) is str and not extra:
                        # Plain strings read back as themselves: skip decoding the line again.
                        entry = {"role": role, "content": content}
                    else:
                        entry = message_dict(decode_written(line))  # type: ignore[arg-type]
                # The fold: stores, then one list append, nothing that can raise between.
                session.last_seq = seq
                session.last_event_time = when
                session.conversation_history.append(entry)
            except BaseException:
                settle(self.store, session, writer, event, when, False, self._history)
                raise
            return seq

    def record_command(self, command: str, cwd: str | None = None) -> int:
        """Append a shell command; return its seq."""
        checks.string(command, "command")
        checks.opt_string(cwd, "cwd")
        return self._append("record a command", CommandRecorded, command=command, cwd=cwd)

    def record_execution(
        self,
        command: str,
        exit_code: int | None = None,
        output: str = "",
        duration_s: float | None = None,
        started_at: datetime | str | None = None,
    ) -> int:
        """Append a command execution and its result; return its seq."""
        exit_code, duration_s, started = checks.execution_args(
            command, exit_code, output, duration_s, started_at
        )
        return self._append(
            "record an execution",
            ExecutionRecorded,
            command=command,
            exit_code=exit_code,
            output=output,
            started_at=started,
            duration_s=duration_s,
        )

    def update_metadata(self, changes: Mapping[str, Any] | None = None, /, **kw: Any) -> int:
        """Merge keys into the session's metadata; return the event's seq."""
        merged = checks.mapping(changes, "metadata changes")
        merged.update(kw)
        check_nesting(merged, "metadata")
        with self._lock:
            session = self._session
            if session is not None and session.status == "paused":
                raise SessionStateError(
                    f"cannot update metadata: session {session.session_id} is paused; "
                    "resume it first"
                )
            return self._append("update metadata", MetadataUpdated, changes=merged)

    # -- durability ------------------------------------------------------------

    def save_session(self) -> None:
        """Flush and fsync the current session's log (no-op when nothing is open)."""
        with self._lock:
            if self._writer is not None:
                self._writer.sync()

    async def save_session_async(self) -> None:
        """`save_session` without blocking the event loop."""
        import asyncio  # here, not at module level: it costs every CLI start ~17 ms

        await asyncio.to_thread(self.save_session)

    # -- listing ---------------------------------------------------------------

    def list_sessions(self) -> list[SessionSummary]:
        """Summaries of every session in the store, newest first."""
        return list_store_summaries(self.store)

    async def list_all_sessions_async(self) -> list[str]:
        """Ids of every session in the store (oldest first), without blocking the loop."""
        import asyncio

        return await asyncio.to_thread(self.store.session_ids)

    # -- closing ---------------------------------------------------------------

    def close(self) -> None:
        """Pause an active session and release everything; idempotent."""
        with self._lock:
            try:
                self._pause_if_active()  # a writer that failed is closed without a pause
            finally:
                self._close_writer()

    def __enter__(self) -> SessionManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
