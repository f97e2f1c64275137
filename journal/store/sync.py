"""Pushing sessions from one store to another: verbatim, idempotent, incremental.

Contract (`push_session`, `push_store`):
- Only the seam is used (`SessionStore` on both sides), so any pair of backends
  works: the file store to a NATS JetStream store, to another home, to memory.
- Verbatim: a target session holds exactly the source's records (same session
  id, seq, ts, bytes), and the blobs they reference (copied before the record
  that needs them). A record the target's writer would not store byte for byte
  (its re-encoding differs, e.g. written by another encoder, or an event type
  this p8j does not know) stops that session's push, reported; nothing is
  stored in its place.
- Incremental: per session, the records the target already has are compared
  with the source's at the same seqs (byte equality), and only the ones after
  them are appended. A target that holds a different record at some seq, or
  more records than the source, has *diverged*: it is reported with that seq
  and never written. Pushing again after a complete push copies nothing.
- Cheap when nothing changed: a `Mark` (source and target positions after the
  last push, plus the source cursor's state) lets the next push skip a session
  with two `head` calls, and resume a grown one where it stopped without
  reading either log again. A mark is only a hint: if either log is not where
  it says (another epoch, another head), the push compares the logs instead.
- Whole records only: the source is read with ``final=False``, so a torn tail
  left by a crashed writer (or a record being written now) is never pushed;
  every pushed record passed the source cursor's checks (checksum, seq,
  session, lifecycle). A corrupt source record stops that session's push.
- Appends are batched (`StoreWriter.append_many`, up to `BATCH_EVENTS` records
  or `BATCH_BYTES`): one write or one round trip per batch instead of per
  record; the blobs of a batch's records are copied before the batch.
- The target's writer lease is taken only when there is something to copy, and
  released (the writer closed) before `push_session` returns. A target session
  someone else holds is reported ``busy`` (try again later); one that moved
  between the comparison and taking the lease is reported ``busy`` too.
- Failures are per session: `push_store` pushes every other session and
  reports each one's outcome. Only a source or a target that cannot be listed
  raises (a target is listed once first, so an unreachable server fails the
  pass at once instead of once per session).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from typing import Literal

import msgspec

from ..codec import encode_event
from ..errors import P8jError, SessionLockedError
from ..events import AnyEvent, BlobRef, Event, UnknownEvent
from .base import Position, SessionStore, StoreCursor, StoreWriter

__all__ = [
    "BATCH_BYTES",
    "BATCH_EVENTS",
    "Mark",
    "PushStatus",
    "SessionPush",
    "SyncReport",
    "push_session",
    "push_store",
]

# Records appended per `StoreWriter.append_many` (one write, or one NATS atomic batch: the
# server takes up to 1000 messages in one).
BATCH_EVENTS = 1000
BATCH_BYTES = 4 << 20

PushStatus = Literal["copied", "up-to-date", "diverged", "busy", "failed"]

_Record = tuple[AnyEvent | UnknownEvent, bytes]


class Mark(msgspec.Struct, frozen=True, array_like=True):
    """Where a session's last push left both logs, and the source cursor's state there."""

    source: Position
    target: Position
    line: int
    next_seq: int
    state: str | None


class SessionPush(msgspec.Struct):
    """One session's push: what happened, how many events and blobs were copied."""

    session_id: str
    status: PushStatus
    events: int = 0
    blobs: int = 0
    created: bool = False
    seq: int | None = None  # the seq a divergence or failure is about
    message: str = ""


class SyncReport(msgspec.Struct):
    """Every session's push of one pass, in session-id order."""

    sessions: list[SessionPush] = msgspec.field(default_factory=list)

    @property
    def events(self) -> int:
        """Events copied, in total."""
        return sum(s.events for s in self.sessions)

    @property
    def blobs(self) -> int:
        """Blobs copied, in total."""
        return sum(s.blobs for s in self.sessions)

    def count(self, status: PushStatus) -> int:
        """How many sessions ended with `status`."""
        return sum(1 for s in self.sessions if s.status == status)

    @property
    def ok(self) -> bool:
        """True if no session diverged or failed (``busy`` ones are retried later)."""
        return not any(s.status in ("diverged", "failed") for s in self.sessions)


class _Diverged(Exception):
    def __init__(self, seq: int | None, message: str) -> None:
        self.seq = seq
        self.message = message


class _Busy(Exception):
    pass


def _source_cursor(source: SessionStore, sid: str, mark: Mark | None) -> StoreCursor:
    if mark is None:
        return source.open_cursor(sid, resolve_blobs=False)
    return source.open_cursor(
        sid,
        position=mark.source,
        line=mark.line,
        next_seq=mark.next_seq,
        state=mark.state,
        resolve_blobs=False,
    )


def _compare(source_records: Iterator[_Record], target: SessionStore, sid: str) -> Position:
    """Check the target's records against the source's, in step; return the target's end."""
    cursor = target.open_cursor(sid, resolve_blobs=False)
    for tev, tline in cursor.read_with_lines():
        sline = next(source_records, None)
        if sline is None:
            raise _Diverged(tev.seq, f"the target has seq {tev.seq}, which the source has not")
        if sline[1] != tline:
            raise _Diverged(tev.seq, f"the target's seq {tev.seq} differs from the source's")
    return cursor.position


def _plan(
    source: SessionStore, target: SessionStore, sid: str, mark: Mark | None, src_head: Position
) -> tuple[StoreCursor, Iterator[_Record], Position | None]:
    """The source cursor and records still to copy, and where the target must stand (None: new)."""
    if not target.exists(sid):
        cursor = _source_cursor(source, sid, None)
        return cursor, cursor.read_with_lines(final=False), None
    if mark is not None and mark.source.same_log(src_head) and mark.source <= src_head:
        tgt_head = target.head(sid)
        if tgt_head == mark.target:
            cursor = _source_cursor(source, sid, mark)
            return cursor, cursor.read_with_lines(final=False), tgt_head
    cursor = _source_cursor(source, sid, None)
    records = cursor.read_with_lines(final=False)
    return cursor, records, _compare(records, target, sid)


def _verbatim(event: AnyEvent | UnknownEvent, line: bytes) -> Event:
    """The event, if the target's writer will store it as exactly `line`; else _Diverged."""
    if isinstance(event, UnknownEvent):
        raise _Diverged(event.seq, f"seq {event.seq} is of an event type unknown to this p8j")
    if encode_event(event) != line:
        raise _Diverged(event.seq, f"seq {event.seq} would not be stored byte for byte")
    return event


class _Copier:
    """Copies one session's remaining records into the target, holding its lease meanwhile."""

    def __init__(
        self, source: SessionStore, target: SessionStore, sid: str, copied_blobs: set[str]
    ) -> None:
        self.source = source
        self.target = target
        self.sid = sid
        self.copied_blobs = copied_blobs
        self.events = 0
        self.blobs = 0
        self.created = False
        self.writer: StoreWriter | None = None

    def _blobs(self, event: Event) -> None:
        refs: list[BlobRef] = getattr(event, "blobs", None) or []
        for ref in refs:
            if ref.sha256 in self.copied_blobs:
                continue
            data = self.source.blobs.get(ref.sha256, ref.size)
            if self.target.blobs.put(data) != ref.sha256:  # pragma: no cover - get() checks it
                raise P8jError(f"blob {ref.sha256} changed while it was copied")
            self.copied_blobs.add(ref.sha256)
            self.blobs += 1

    def _open(self, first: Event, expected: Position | None) -> StoreWriter:
        if expected is None:
            writer = self.target.open_writer(self.sid, first=first)
            self.events += 1
            self.created = True
            return writer
        writer = self.target.open_writer(self.sid)
        if writer.position != expected:
            writer.close(sync=False)
            raise _Busy(f"the target's log of {self.sid} moved while it was compared")
        return writer

    def copy(self, records: Iterable[_Record], expected: Position | None) -> Position | None:
        """Append `records` in batches; return the target's end after them (None if none)."""
        pending: list[Event] = []
        size = 0
        try:
            for event, line in records:
                ev = _verbatim(event, line)
                self._blobs(ev)
                if self.writer is None:
                    self.writer = self._open(ev, expected)
                    if expected is None:
                        continue
                pending.append(ev)
                size += len(line)
                if len(pending) >= BATCH_EVENTS or size >= BATCH_BYTES:
                    self._flush(pending)
                    size = 0
        except (_Diverged, P8jError):
            # What went before the record that stops the push still goes, as unbatched.
            if pending:
                self._flush(pending)
            raise
        if pending:
            self._flush(pending)
        return self.writer.position if self.writer is not None else None

    def _flush(self, pending: list[Event]) -> None:
        assert self.writer is not None
        batch = pending[:]
        pending.clear()  # never sent twice: a failed batch's error ends the copy
        self.writer.append_many(batch)
        self.events += len(batch)

    def close(self) -> None:
        """Make the appended records durable and release the lease (idempotent)."""
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close()


def push_session(
    source: SessionStore,
    target: SessionStore,
    session_id: str,
    mark: Mark | None = None,
    *,
    copied_blobs: set[str] | None = None,
) -> tuple[SessionPush, Mark | None]:
    """Push one session's missing records to `target`; return its outcome and its new mark.

    The mark is None when the session could not be brought level (diverged,
    busy, failed): the next push compares the logs again.
    """
    copier = _Copier(source, target, session_id, set() if copied_blobs is None else copied_blobs)
    out = SessionPush(session_id, "up-to-date")
    try:
        src_head = source.head(session_id)
        if (
            mark is not None
            and mark.source == src_head
            and target.exists(session_id)
            and target.head(session_id) == mark.target
        ):
            return out, mark
        cursor, records, expected = _plan(source, target, session_id, mark, src_head)
        end = copier.copy(records, expected)
        copier.close()
        if end is None and expected is None:
            # The source had nothing whole to push (a log still being created).
            return out, None
        out.status = "copied" if copier.events else "up-to-date"
        new_end = end if end is not None else expected
        assert new_end is not None
        new = Mark(cursor.position, new_end, cursor.line, cursor.next_seq, cursor.state)
        return _counted(out, copier), new
    except _Diverged as exc:
        out.status, out.seq, out.message = "diverged", exc.seq, exc.message
    except (_Busy, SessionLockedError) as exc:
        out.status, out.message = "busy", str(exc)
    except P8jError as exc:
        out.status, out.message = "failed", str(exc)
    finally:
        copier.close()
    return _counted(out, copier), None


def _counted(out: SessionPush, copier: _Copier) -> SessionPush:
    out.events, out.blobs, out.created = copier.events, copier.blobs, copier.created
    if copier.events and out.status == "up-to-date":
        out.status = "copied"
    return out


def push_store(
    source: SessionStore,
    target: SessionStore,
    marks: MutableMapping[str, Mark] | None = None,
    *,
    session_ids: Iterable[str] | None = None,
) -> SyncReport:
    """Push every session of `source` (or those named) to `target`, updating `marks`."""
    marks = {} if marks is None else marks
    ids = sorted(set(session_ids)) if session_ids is not None else source.session_ids()
    if ids:
        target.session_ids()  # reachable? (JournalIOError once, not once per session)
    report = SyncReport()
    copied_blobs: set[str] = set()
    for sid in ids:
        push, mark = push_session(source, target, sid, marks.get(sid), copied_blobs=copied_blobs)
        if mark is None:
            marks.pop(sid, None)
        else:
            marks[sid] = mark
        report.sessions.append(push)
    return report
