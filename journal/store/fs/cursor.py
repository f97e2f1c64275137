"""Streaming, verifying reader of one session log.

Contract:
- The log is read in chunks (never whole) and split on ``b"\\n"`` only.
- Every line is verified: framing and CRC (see codec), decoding, ``session_id``
  matching the file, ``seq`` continuing 0, 1, 2, ... without gaps, and lifecycle
  order (see session.check_event).
- Trailing bytes without a newline are a *torn tail*: a writer puts each record
  down with one ``write()``, so a crash can only leave an unterminated last
  line. They are tolerated, reported in `LogCursor.torn` and never yielded
  (only with ``final=True``). A bad line that ends in a newline is corruption,
  wherever it is (the last line too): it raises `CorruptLineError` naming path,
  line and byte offset, unless the caller passed ``skip_corrupt=True``; then it
  is skipped and reported in `LogCursor.issues` (``p8j repair`` moves such lines
  aside). Events of unknown type are yielded as `UnknownEvent` and reported too.
- `LinesRemoved` (a repair's stand-in) holds ``seqs`` seqs and may set the
  lifecycle state (see session.check_event): the seqs it names are no gap.
- Memory is bounded by the chunk size plus the longest line; a line longer than
  ``max_line_bytes`` is corrupt.
- A cursor can be resumed: `read()` continues at the first byte it has not
  consumed, so a follower can call it again whenever the file grows. With
  ``final=False`` a read ends at the end of the log as its first short read saw
  it, so a torn tail is never joined to what a resumed writer puts in its place.
- `read_blocks()` yields the same events as `read()`, a non-empty list per
  block (a block of plain records of an active session is checked in bulk);
  it moves the cursor a block at a time, so it suits readers that take
  everything (a full fold), not ones that stop part-way.
- Blobs (see blobs.py): with ``resolve_blobs=True`` (the default) an event's
  blob references are replaced by their values, read from the ``blobs``
  directory beside ``sessions`` (or `blob_dir`); a missing or damaged blob
  keeps its placeholder and is reported in `issues` (``missing-blob``,
  ``bad-blob``), never raised.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, Protocol

import msgspec

from ...codec import decode_block, decode_line, first_bad_checksum
from ...errors import CorruptLineError, JournalIOError, P8jError, SessionStateError
from ...events import (
    AnyEvent,
    CommandRecorded,
    ExecutionRecorded,
    MessageRecorded,
    MetadataUpdated,
    UnknownEvent,
)
from ...session import check_event, seq_span
from .archived import open_log_readonly as open_log_readonly  # its home before lines.py
from .blobs import BlobStore
from .blobs import resolve as resolve_blobs

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "IssueKind",
    "LogCursor",
    "ReadIssue",
    "missing_start_error",
    "read_events",
]

DEFAULT_MAX_LINE_BYTES = 64 << 20
CHUNK = 1 << 20

# Legal in an active session and leaving it active: the reader's fast path.
_ACTIVE_RECORDS = frozenset({MessageRecorded, CommandRecorded, ExecutionRecorded, MetadataUpdated})

IssueKind = Literal[
    "torn-tail",
    "corrupt",
    "seq-gap",
    "lifecycle",
    "unknown-event",
    "too-long",
    "missing-blob",
    "bad-blob",
]
# Some malformed lines make the decoder raise these instead of msgspec.DecodeError
# (e.g. 100000 nested "[" -> RecursionError; invalid UTF-8 inside a string).
_DECODE_ERRORS = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)
# In every line that refers to blobs (a ref's path starts with a field name). A long
# needle: bytes.find skips through a block several times faster than with a short one.
_BLOBS_KEY = b',"blobs":[{"path":["'
_SEQ = operator.attrgetter("seq")
_SID = operator.attrgetter("session_id")


class ReadIssue(msgspec.Struct, frozen=True):
    """One problem met while reading a log: what, where, and the bytes."""

    kind: IssueKind
    path: str
    line: int
    offset: int
    message: str
    data: bytes = b""

    def describe(self) -> str:
        """One line for people: ``path:line (byte N): kind: message``."""
        return f"{self.path}:{self.line} (byte {self.offset}): {self.kind}: {self.message}"


def _clip(data: bytes) -> bytes:
    return data if len(data) <= 200 else data[:200]


class LogCursor:
    """Incremental verifying reader; see the module docstring for the contract."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        session_id: str | None = None,
        skip_corrupt: bool = False,
        offset: int = 0,
        line: int = 1,
        next_seq: int = 0,
        state: str | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        chunk_size: int = CHUNK,
        resolve_blobs: bool = True,
        blob_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self._blob_dir: Path | None = None
        if resolve_blobs:
            self._blob_dir = (
                Path(blob_dir) if blob_dir is not None else self.path.parent.parent / "blobs"
            )
        self._blob_store: BlobStore | None = None
        self._spath = str(self.path)
        self.session_id = session_id
        self.skip_corrupt = skip_corrupt
        self.offset = offset
        self._start = offset
        self.line = line
        self.next_seq = next_seq
        self.state = state
        self.max_line_bytes = max_line_bytes
        self.chunk_size = chunk_size
        self.issues: list[ReadIssue] = []
        self.torn: ReadIssue | None = None
        self._discarding = False

    @property
    def bytes_read(self) -> int:
        """Bytes of the lines consumed since this cursor was made (newlines included)."""
        return self.offset - self._start

    # -- problems -------------------------------------------------------------

    def _problem(
        self, kind: IssueKind, message: str, data: bytes, exc: BaseException | None = None
    ) -> None:
        """Report (when skipping) or raise a problem at the current line."""
        if not self.skip_corrupt:
            raise CorruptLineError(
                f"{kind}: {message}", path=self.path, line=self.line, offset=self.offset, data=data
            ) from exc
        self.issues.append(
            ReadIssue(kind, self._spath, self.line, self.offset, message, _clip(data))
        )

    def _torn(self, message: str, data: bytes) -> None:
        self.torn = ReadIssue(
            "torn-tail", self._spath, self.line, self.offset, message, _clip(data)
        )

    # -- reading --------------------------------------------------------------

    def _reset_torn(self) -> None:
        # A method, not an assignment in `read`: mypy would take `torn` as None for the
        # whole read loop, though `_block` sets it.
        self.torn = None

    def read(self, *, final: bool = True) -> Iterator[AnyEvent | UnknownEvent]:
        """Yield the verified events from the cursor's position to the end of the file.

        With ``final=True`` (a whole read) leftover bytes after the last newline
        are reported as a torn tail; with ``final=False`` (following a live log)
        they are left for the next call, since the writer may be mid-append.
        """
        for events in self._read(final, whole=False):
            yield from events

    def read_with_lines(
        self, *, final: bool = True
    ) -> Iterator[tuple[AnyEvent | UnknownEvent, bytes]]:
        """Like `read`, each event with its exact line, newline included (see lines.py)."""
        from .lines import read_with_lines  # loaded when used (tail, export): not by listing

        return read_with_lines(self, final=final)

    def read_blocks(self, *, final: bool = True) -> Iterator[list[AnyEvent | UnknownEvent]]:
        """Like `read`, a list of verified events at a time, for readers that take them all.

        The cursor moves a whole block at a time: stopping before the end loses
        the rest of the block the last list came from (`read` tracks every event).
        """
        for events in self._read(final, whole=True):
            if type(events) is list:
                if events:
                    yield events
                continue
            out: list[AnyEvent | UnknownEvent] = []
            try:
                out.extend(events)
            except P8jError:
                if out:
                    yield out  # the events before the bad line, as `read` hands them over
                raise
            if out:
                yield out

    def _read(
        self, final: bool, whole: bool
    ) -> Iterator[Iterator[AnyEvent | UnknownEvent] | list[AnyEvent | UnknownEvent]]:
        """The read loop: the events of each newline-terminated block, in order.

        Each block's events must be consumed before the next is asked for.
        """
        self._reset_torn()
        try:
            fd = open_log_readonly(self.path)
        except FileNotFoundError as exc:
            raise JournalIOError("no such log", path=self.path) from exc
        try:
            pending = b""
            pos = self.offset
            short = False
            while not short:
                try:
                    data = os.pread(fd, self.chunk_size, pos)
                except OSError as exc:
                    raise JournalIOError(f"read failed: {exc.strerror}", path=self.path) from exc
                if not data:
                    break
                pos += len(data)
                # A short read is the end of the log as it was. Following, stop there: reading
                # on would join a torn tail read now to bytes a resumed writer appended after
                # moving it aside (one line lost as corrupt); the next read starts at the line.
                short = not final and len(data) < self.chunk_size
                if self._discarding:
                    nl = data.find(b"\n")
                    if nl < 0:
                        self.offset += len(data)
                        continue
                    self.offset += nl + 1
                    self.line += 1
                    self._discarding = False
                    data = data[nl + 1 :]
                buf = pending + data if pending else data
                nl = buf.rfind(b"\n")
                if nl < 0:
                    pending = buf
                    if len(pending) > self.max_line_bytes:
                        self._problem(
                            "too-long",
                            f"line longer than {self.max_line_bytes} bytes",
                            pending[:200],
                        )
                        self._discarding = True
                        self.offset += len(pending)
                        pending = b""
                    continue
                pending = buf[nl + 1 :]
                yield self._block(buf[: nl + 1] if nl + 1 < len(buf) else buf, whole)
            if pending and final:
                self._torn("incomplete last line (no newline): a write was cut short", pending)
        finally:
            os.close(fd)

    def _block(
        self, block: bytes, whole: bool = False
    ) -> Iterator[AnyEvent | UnknownEvent] | list[AnyEvent | UnknownEvent]:
        """The events of a newline-terminated block: batch-decoded, or line by line.

        With `whole`, a block of plain records of an active session (nearly every
        block of a log) is checked in bulk and returned as a list.
        """
        lines = block.split(b"\n")
        lines.pop()  # block ends with a newline
        if len(block) > self.max_line_bytes and max(map(len, lines)) > self.max_line_bytes:
            return self._lines(lines)  # to name the too-long line, as split reads do
        if first_bad_checksum(lines) == len(lines):
            try:
                events = decode_block(block)
            except _DECODE_ERRORS:
                pass
            else:
                if self._blob_dir is not None and _BLOBS_KEY in block:
                    events = self._resolve_block(events, lines)
                if whole and self._plain(events):
                    self.offset += len(block)
                    self.line += len(events)
                    self.next_seq += len(events)
                    return events  # type: ignore[return-value]  # list is invariant
                return self._accept_block(events, lines)
        return self._lines(lines)

    def _lines(self, lines: list[bytes]) -> Iterator[AnyEvent | UnknownEvent]:
        """Decode and check line by line, naming the line of any problem."""
        for ln in lines:
            if len(ln) > self.max_line_bytes:
                self._problem("too-long", f"line longer than {self.max_line_bytes} bytes", ln[:200])
                self.offset += len(ln) + 1
                self.line += 1
                continue
            try:
                event = _decode(ln, self._spath, self.line, self.offset)
            except CorruptLineError as exc:
                # Ends in a newline, so no crash cut it short: corruption, even on the last line.
                self._problem("corrupt", exc.message, ln, exc)
                event = None
            if event is not None and self._accept(event, ln):
                if self._blob_dir is not None and getattr(event, "blobs", None):
                    event = self._resolve(event, self.line, self.offset)
                yield event
            self.offset += len(ln) + 1
            self.line += 1

    # -- blobs ----------------------------------------------------------------

    def _resolve(self, ev: AnyEvent | UnknownEvent, line: int, offset: int) -> AnyEvent:
        """`ev` with its blobs put back; problems are reported, never raised."""
        assert not isinstance(ev, UnknownEvent)
        if self._blob_store is None:
            assert self._blob_dir is not None
            self._blob_store = BlobStore(self._blob_dir)
        resolved, problems = resolve_blobs(ev, self._blob_store)
        for p in problems:
            self.issues.append(ReadIssue(p.kind, self._spath, line, offset, p.message))
        out: AnyEvent = resolved
        return out

    def _resolve_block(self, events: list[AnyEvent], lines: list[bytes]) -> list[AnyEvent]:
        out = list(events)
        offset, line = self.offset, self.line
        for i, (ev, ln) in enumerate(zip(events, lines, strict=True)):
            if getattr(ev, "blobs", None):
                out[i] = self._resolve(ev, line, offset)
            offset += len(ln) + 1
            line += 1
        return out

    def _plain(self, events: list[AnyEvent]) -> bool:
        """True if every event is a record of this active session, in seq order from next_seq.

        The bulk form of `_accept_block`'s fast path: C-level passes, no per-event bytecode.
        """
        n = len(events)
        if not n or self.state != "active":
            return False
        nxt = self.next_seq
        if events[0].seq != nxt or events[-1].seq != nxt + n - 1:
            return False
        if not _ACTIVE_RECORDS.issuperset(map(type, events)):
            return False
        if list(map(_SEQ, events)) != list(range(nxt, nxt + n)):
            return False
        sid = self.session_id
        return sid is None or all(map(sid.__eq__, map(_SID, events)))

    def _accept_block(
        self, events: list[AnyEvent], lines: list[bytes]
    ) -> Iterator[AnyEvent | UnknownEvent]:
        """Check and yield a batch-decoded block; the cursor tracks exactly what was consumed.

        The common event (a record of an active session, next seq, this session)
        is checked with locals only; anything else goes through `_accept`. If the
        consumer stops early, offset, line, seq and state stay at the start of the
        event it was handed last, so `read()` can continue there.
        """
        sid = self.session_id
        nxt = self.next_seq
        state = self.state
        done = 0  # lines accounted for in self.offset / self.line
        i = 0  # lines consumed (events handed over, or skipped)
        try:
            for ev in events:
                if (
                    ev.seq == nxt
                    and state == "active"
                    and type(ev) in _ACTIVE_RECORDS
                    and (sid is None or ev.session_id == sid)
                ):
                    yield ev
                    nxt += 1
                else:
                    self.offset += sum(map(len, lines[done:i])) + (i - done)
                    self.line += i - done
                    done = i
                    self.next_seq, self.state = nxt, state
                    if self._accept(ev, lines[i]):
                        yield ev
                    nxt, state = self.next_seq, self.state
                i += 1
        finally:
            self.offset += sum(map(len, lines[done:i])) + (i - done)
            self.line += i - done
            self.next_seq, self.state = nxt, state

    def _accept(self, ev: AnyEvent | UnknownEvent, ln: bytes) -> bool:
        """Check seq, session id and lifecycle; True if `ev` should be yielded."""
        if ev.seq != self.next_seq:
            if ev.seq < self.next_seq or not self.skip_corrupt:
                self._problem(
                    "seq-gap" if ev.seq > self.next_seq else "corrupt",
                    f"seq {ev.seq} where {self.next_seq} was expected",
                    ln,
                )
                return False
            self._problem("seq-gap", f"seq {ev.seq} where {self.next_seq} was expected", ln)
        if self.session_id is not None and ev.session_id != self.session_id:
            self._problem("corrupt", f"event of session {ev.session_id} in this log", ln)
            return False
        try:
            self.state = check_event(self.state, ev)
        except SessionStateError as exc:
            self._problem("lifecycle", exc.message, ln, exc)
            return False
        self.next_seq = ev.seq + seq_span(ev)
        if type(ev) is UnknownEvent:
            self.issues.append(
                ReadIssue(
                    "unknown-event",
                    self._spath,
                    self.line,
                    self.offset,
                    f"event type {ev.type!r} is unknown to this p8j (kept raw)",
                    _clip(ln),
                )
            )
        return True


def _decode(ln: bytes, path: str, line: int, offset: int) -> AnyEvent | UnknownEvent:
    """decode_line, with every decoder failure (not only DecodeError) as CorruptLineError."""
    try:
        return decode_line(ln, path=path, lineno=line, offset=offset)
    except (RecursionError, UnicodeDecodeError) as exc:
        why = f"not a valid event: {type(exc).__name__}: {exc}"
        raise CorruptLineError(why, path=path, line=line, offset=offset, data=ln) from exc


def read_events(
    path: str | os.PathLike[str], *, skip_corrupt: bool = False, session_id: str | None = None
) -> tuple[list[AnyEvent | UnknownEvent], LogCursor]:
    """Read a whole log; return its events and the cursor (issues, torn tail, offset)."""
    cursor = LogCursor(path, skip_corrupt=skip_corrupt, session_id=session_id)
    return list(cursor.read()), cursor


class _Read(Protocol):
    """What `missing_start_error` needs of a reader (a `LogCursor` or any store cursor)."""

    @property
    def path(self) -> str | os.PathLike[str]: ...

    torn: ReadIssue | None
    issues: list[ReadIssue]


def missing_start_error(cursor: _Read) -> CorruptLineError:
    """The error for a log that holds no complete SessionStarted record (read by `cursor`).

    That is what a crash inside `start_session` leaves (an empty or torn first
    line): the session never began, so it cannot be loaded or resumed.
    """
    problem = cursor.torn if cursor.torn is not None and cursor.torn.line == 1 else None
    if problem is None:
        problem = next((i for i in cursor.issues if i.line == 1), None)
    if problem is not None:
        kind = "torn" if problem.kind == "torn-tail" else problem.kind
        why = f"line 1 is {kind}: {problem.message}"
    else:
        why = "the log is empty"
    return CorruptLineError(
        f"no complete SessionStarted record ({why}); the session's creation was cut short",
        path=os.fspath(cursor.path),
        line=1,
        offset=0,
        data=problem.data if problem is not None else None,
    )
