"""`RecordCursor`: the verifying reader for stores that keep whole records, not a byte stream.

Contract: the checks and reporting of `LogCursor` (cursor.py) over a sequence
of records that a backend hands out whole (memory, a message stream): each
record is checked for framing and checksum, decoding, session id, ``seq``
continuing without gaps and lifecycle order; a bad record raises
`CorruptLineError` naming the record (``line``) and its offset, or, with
``skip_corrupt``, is skipped and listed in `issues`. Unknown event types are
yielded as `UnknownEvent` and listed. Records are whole, so there is never a
torn tail (`torn` stays None and `final` changes nothing). Blob references are
resolved from the store's blobs unless ``resolve_blobs=False``; a missing or
damaged blob is listed in `issues`, never raised. A reader that stops part-way
resumes at the record it was handed last, as `LogCursor` does.

Fast path: runs of plain records of an active session (the bulk of any log)
are verified in chunks with C-level passes (`first_bad_checksum`, one
`decode_block`, then seq, session id and type checked over the whole chunk);
a chunk with anything else (a bad record, a lifecycle event, a blob
reference, an unknown type) is checked record by record as before, so errors
and issues are the same either way.

Backends subclass it and supply `_fetch` (the records from an index on,
raising `StalePositionError` once the log was replaced) and `_offset_of`.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import cast

import msgspec

from ..codec import decode_block, decode_line, first_bad_checksum
from ..errors import CorruptLineError, SessionStateError
from ..events import (
    AnyEvent,
    CommandRecorded,
    ExecutionRecorded,
    MessageRecorded,
    MetadataUpdated,
    UnknownEvent,
)
from ..session import check_transition
from .base import Blobs, Position
from .fs.blobs import BlobStore, resolve
from .fs.cursor import IssueKind, ReadIssue

__all__ = ["RecordCursor"]

# Legal in an active session and leaving it active: the fast path's events.
_ACTIVE_RECORDS = frozenset({MessageRecorded, CommandRecorded, ExecutionRecorded, MetadataUpdated})
_DECODE_ERRORS = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)
# In every record that refers to blobs (as fs/cursor.py's needle).
_BLOBS_KEY = b',"blobs":[{"path":["'
_SEQ = operator.attrgetter("seq")
_SID = operator.attrgetter("session_id")
_CHUNK = 1024  # records verified at once on the fast path


class RecordCursor:
    """A resumable, verifying reader of whole records (see the module docstring)."""

    def __init__(
        self,
        path: str,
        session_id: str | None,
        epoch: int,
        blobs: Blobs,
        *,
        index: int = 0,
        line: int = 1,
        next_seq: int = 0,
        state: str | None = None,
        skip_corrupt: bool = False,
        resolve_blobs: bool = True,
    ) -> None:
        self.path = path
        self.session_id = session_id
        self.epoch = epoch
        self._index = index
        self.line = line
        self.next_seq = next_seq
        self.state = state
        self.skip_corrupt = skip_corrupt
        self._blobs = blobs if resolve_blobs else None
        self.issues: list[ReadIssue] = []
        self.torn: ReadIssue | None = None
        # `bytes_read`, counted when asked: the bytes consumed before the current fetch,
        # and that fetch's records (from index `_batch_at`), so reading costs nothing.
        self._consumed = 0
        self._batch: list[bytes] = []
        self._batch_at = index

    def _fetch(self, index: int) -> list[bytes]:
        """The records from `index` on (a backend's hook)."""
        raise NotImplementedError

    def _offset_of(self, index: int) -> int:
        """The offset at which record `index` starts (a backend's hook)."""
        raise NotImplementedError

    @property
    def offset(self) -> int:
        """Where the next read starts, as an offset (`LogCursor.offset`)."""
        return self._offset_of(self._index)

    @property
    def position(self) -> Position:
        """Where the next read starts."""
        return Position(self.epoch, self.offset)

    @property
    def bytes_read(self) -> int:
        """Bytes of the records consumed since this cursor was made, each + 1 for a newline.

        What the records take as lines of a file (the file store's log size), whatever
        the backend's offsets count (a message stream's are sequence numbers).
        """
        done = self._index - self._batch_at
        return self._consumed + sum(map(len, self._batch[:done])) + done

    def _problem(
        self, kind: IssueKind, message: str, data: bytes, exc: BaseException | None
    ) -> None:
        if not self.skip_corrupt:
            raise CorruptLineError(
                f"{kind}: {message}", path=self.path, line=self.line, offset=self.offset, data=data
            ) from exc
        self.issues.append(ReadIssue(kind, self.path, self.line, self.offset, message, data[:200]))

    def _decode(self, record: bytes) -> AnyEvent | UnknownEvent | None:
        try:
            return decode_line(record, path=self.path, lineno=self.line, offset=self.offset)
        except CorruptLineError as exc:
            self._problem("corrupt", exc.message, record, exc)
        except (RecursionError, UnicodeDecodeError, msgspec.DecodeError) as exc:
            self._problem("corrupt", f"not a valid event: {type(exc).__name__}", record, exc)
        return None

    def _check(self, record: bytes) -> AnyEvent | UnknownEvent | None:
        """The verified event of `record`, or None if it is skipped (and reported)."""
        ev = self._decode(record)
        if ev is None:
            return None
        if ev.seq != self.next_seq:
            kind: IssueKind = "seq-gap" if ev.seq > self.next_seq else "corrupt"
            self._problem(kind, f"seq {ev.seq} where {self.next_seq} was expected", record, None)
            if kind == "corrupt":
                return None
        if self.session_id is not None and ev.session_id != self.session_id:
            self._problem("corrupt", f"event of session {ev.session_id} in this log", record, None)
            return None
        try:
            self.state = check_transition(self.state, type(ev))
        except SessionStateError as exc:
            self._problem("lifecycle", exc.message, record, exc)
            return None
        self.next_seq = ev.seq + 1
        if type(ev) is UnknownEvent:
            message = f"event type {ev.type!r} is unknown to this p8j (kept raw)"
            self.issues.append(
                ReadIssue("unknown-event", self.path, self.line, self.offset, message, record[:200])
            )
        elif self._blobs is not None and getattr(ev, "blobs", None):
            # resolve() only calls get(): any Blobs will do.
            ev, problems = resolve(ev, cast(BlobStore, self._blobs))
            for p in problems:
                self.issues.append(ReadIssue(p.kind, self.path, self.line, self.offset, p.message))
        return ev

    def _plain(self, records: list[bytes]) -> list[AnyEvent] | None:
        """The events of `records` if all are plain records of this active session, next seq on.

        None when any is not (or fails its checksum or decoding): the caller
        then checks them one by one, which names the record and reports issues.
        """
        if self.state != "active" or first_bad_checksum(records) != len(records):
            return None
        block = b"\n".join(records)
        # A raw newline inside a record would shift the decoded lines against the records.
        if block.count(b"\n") != len(records) - 1 or (
            self._blobs is not None and _BLOBS_KEY in block
        ):
            return None
        try:
            events = decode_block(block + b"\n")
        except _DECODE_ERRORS:
            return None
        nxt, n, sid = self.next_seq, len(records), self.session_id
        if (
            len(events) != n
            or not _ACTIVE_RECORDS.issuperset(map(type, events))
            or list(map(_SEQ, events)) != list(range(nxt, nxt + n))
            or (sid is not None and not all(map(sid.__eq__, map(_SID, events))))
        ):
            return None
        return events

    def _chunks(self) -> Iterator[tuple[list[AnyEvent] | None, list[bytes]]]:
        """The fetched records in chunks, each with its events if verified in bulk, else None.

        A chunk with None is checked record by record by the caller (`_check`),
        which names any problem and advances the cursor's state itself.
        """
        self._consumed = self.bytes_read
        records = self._fetch(self._index)
        self._batch, self._batch_at = records, self._index
        i, n = 0, len(records)
        while i < n:
            if self.state == "active":
                chunk = records[i : i + _CHUNK]
                events = self._plain(chunk)
                i += len(chunk)
                if events is not None:
                    yield events, chunk
                    continue
                yield None, chunk
            else:
                yield None, records[i : i + 1]
                i += 1

    def read(self, *, final: bool = True) -> Iterator[AnyEvent | UnknownEvent]:
        """Verified events from the position to the end."""
        # One generator (not one feeding another): a replay resumes it once per event.
        # The cursor's state (seq, lifecycle) moves before an event is handed out,
        # its index and line after the caller took it.
        for events, chunk in self._chunks():
            if events is not None:
                for ev in events:
                    self.next_seq = ev.seq + 1
                    yield ev
                    self._index += 1
                    self.line += 1
                continue
            for record in chunk:
                checked = self._check(record)
                if checked is not None:
                    yield checked
                self._index += 1
                self.line += 1

    def read_with_lines(
        self, *, final: bool = True
    ) -> Iterator[tuple[AnyEvent | UnknownEvent, bytes]]:
        """Like `read`, each event with its record as stored, plus a newline."""
        for events, chunk in self._chunks():
            if events is not None:
                for ev, record in zip(events, chunk, strict=True):
                    self.next_seq = ev.seq + 1
                    yield ev, record + b"\n"
                    self._index += 1
                    self.line += 1
                continue
            for record in chunk:
                checked = self._check(record)
                if checked is not None:
                    yield checked, record + b"\n"
                self._index += 1
                self.line += 1

    def read_blocks(self, *, final: bool = True) -> Iterator[list[AnyEvent | UnknownEvent]]:
        """Like `read`, everything at once (a list, when there is anything)."""
        events = list(self.read(final=final))
        if events:
            yield events
