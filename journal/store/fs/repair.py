"""Repair of a damaged session log: keep every good event, move the bad lines aside.

Contract (`repair_session`, the library side of ``p8j repair``):
- It takes the session's write lock (a live writer makes it fail with
  `SessionLockedError`), also for a dry run.
- A line is *good* when it passes its checksum, decodes, belongs to the session
  and continues its seq and lifecycle (see session.check_event); every other
  line (corrupt, too long, a foreign session's, a repeated seq, illegal in the
  lifecycle) and an unterminated last line (a torn tail) is *bad*. Consecutive
  bad lines form a *run*.
- Good lines are kept byte for byte, with their seqs. Each run's bytes are
  copied to ``<home>/torn/<session-id>.<offset>.torn`` (``.1``, ``.2``... if
  taken; created exclusively, fsynced, the directory fsynced) before the log
  is rewritten crash-safely (`replace_file`: new file, fsync, rename, fsync
  dir): a crash leaves the old log or the new one, whole, and no byte is lost.
- Runs are recorded in `LinesRemoved` events (events.py). Where good events
  follow a run that held seqs (or a plain seq gap), one stands in for those
  seqs in place (ts = the previous event's, so time stays in order) and, if
  the removed lines changed the lifecycle (a lost SessionResumed, say), sets
  the state the next event needs. Runs that held no seq, and a damaged end,
  are recorded by one `LinesRemoved` appended at the end. Nothing is ever
  written to reopen a completed session: a session whose SessionEnded line was
  lost is active after the repair (resumable, as after a crash); one whose
  SessionEnded is intact stays completed.
- A log whose first line (its SessionStarted) is damaged cannot be rebuilt:
  `CorruptLineError`, nothing changed. A log with nothing bad is left alone
  (a second repair is a no-op). With ``dry_run=True`` nothing is written: the
  report says what would be done (sidecar names are predictions).
- After a repair the session's snapshot is deleted and the catalog refreshed.
- Memory is bounded by the chunk size plus the longest line up to the reader's
  line cap (longer lines are bad and are copied, never held).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import msgspec

from ...codec import decode_line, encode_event
from ...errors import CorruptLineError, JournalIOError, P8jError, SessionStateError
from ...events import (
    SCHEMA_VERSION,
    AnyEvent,
    LinesRemoved,
    RemovedLines,
    SessionEnded,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    UnknownEvent,
)
from ...session import check_event, check_transition, seq_span
from ...timefmt import now_ts
from .cursor import DEFAULT_MAX_LINE_BYTES
from .layout import Home
from .lock import hold_session
from .sidecars import free_sidecar_name, write_sidecar
from .syscalls import REAL, Storage, replace_file

__all__ = ["RepairReport", "repair_session"]

_CHUNK = 1 << 20
_DECODE_ERRORS = (CorruptLineError, RecursionError, UnicodeDecodeError)
_RESTORABLE = ("active", "paused")
_SETS_STATE = frozenset({SessionStarted, SessionPaused, SessionResumed, SessionEnded, LinesRemoved})


def _legal(state: str, ev: AnyEvent | UnknownEvent | type) -> bool:
    """True if `ev` (an event, or the type of one that keeps the state) is legal in `state`."""
    try:
        if isinstance(ev, type):
            return check_transition(state, ev) == state
        check_event(state, ev)
    except SessionStateError:
        return False
    return True


class RepairReport(msgspec.Struct, kw_only=True):
    """What `repair_session` did (or, with `dry_run`, would do) to one session log."""

    session_id: str
    path: str
    dry_run: bool
    changed: bool
    removed: list[RemovedLines]
    events_written: list[int]
    bytes_before: int
    bytes_after: int
    status: str | None


class _Run:
    """Consecutive bad lines: a byte range of the old log."""

    __slots__ = ("line", "lines", "offset", "problem", "record", "size")

    def __init__(self, line: int, offset: int, problem: str) -> None:
        self.line, self.offset, self.problem = line, offset, problem
        self.lines = 0
        self.size = 0
        self.record: RemovedLines | None = None


class _StandIn:
    """A LinesRemoved to write: its seq, how many seqs, ts, state and the runs it records."""

    __slots__ = ("runs", "seq", "seqs", "state", "ts")

    def __init__(self, seq: int, seqs: int, ts: str, state: str | None, runs: list[_Run]) -> None:
        self.seq, self.seqs, self.ts, self.state, self.runs = seq, seqs, ts, state, runs


def _raw_lines(fd: int, max_line: int) -> Iterator[tuple[int, int, bytes | None, bool]]:
    """(offset, length with newline, line without it or None if too long, complete?)."""
    pending = bytearray()
    too_long = False
    start = pos = 0
    while data := os.pread(fd, _CHUNK, pos):
        base, pos = pos, pos + len(data)
        i = 0
        while (nl := data.find(b"\n", i)) >= 0:
            line = None if too_long else (bytes(pending) + data[i:nl] if pending else data[i:nl])
            if line is not None and len(line) > max_line:
                line = None
            yield start, base + nl + 1 - start, line, True
            start, i, too_long = base + nl + 1, nl + 1, False
            pending.clear()
        if not too_long:
            pending += data[i:]
            if len(pending) > max_line:
                too_long = True
                pending.clear()
    if pos > start:
        yield start, pos - start, None if too_long else bytes(pending), False


class _Planner:
    """Classifies lines and plans the new log: copied ranges and stand-in events."""

    def __init__(self, path: Path, sid: str) -> None:
        self.path, self.sid = path, sid
        self.out: list[tuple[int, int] | _StandIn] = []
        self.runs: list[_Run] = []
        self.pending: list[_Run] = []  # runs no stand-in records yet
        self.open: _Run | None = None  # the run the next bad line extends
        self.state: str | None = None
        self.expected = 0
        self.last_ts = ""
        self.why = ""
        # The last stand-in whose state was left unset, while only events that keep the
        # state followed it (their types in `since`): a later event can still set it.
        self.revisable: _StandIn | None = None
        self.since: set[type] = set()

    def bad(self, line: int, offset: int, size: int, problem: str, data: bytes | None) -> None:
        if line == 1:
            raise CorruptLineError(
                f"cannot repair: line 1 (the session's SessionStarted) is damaged ({problem}); "
                "a session cannot be rebuilt without it",
                path=self.path,
                line=1,
                offset=0,
                data=data,
            )
        run = self.open
        if run is None:
            run = self.open = _Run(line, offset, problem)
            self.runs.append(run)
            self.pending.append(run)
        run.lines += 1
        run.size += size

    def line(self, line: int, offset: int, size: int, raw: bytes | None, complete: bool) -> None:
        if not complete:
            self.bad(line, offset, size, "torn-tail: no newline, a write was cut short", raw)
        elif raw is None:
            self.bad(line, offset, size, "too-long: over the reader's line cap", None)
        else:
            try:
                ev = decode_line(raw)
            except _DECODE_ERRORS as exc:
                why = exc.message if isinstance(exc, P8jError) else f"{type(exc).__name__}: {exc}"
                self.bad(line, offset, size, f"corrupt: {why}", raw)
                return
            if ev.session_id != self.sid:
                self.bad(line, offset, size, f"corrupt: event of session {ev.session_id}", raw)
            elif ev.seq < self.expected:
                why = f"corrupt: seq {ev.seq} where {self.expected} was expected"
                self.bad(line, offset, size, why, raw)
            elif not self.good(offset, size, ev):
                self.bad(line, offset, size, f"lifecycle: {self.why}", raw)

    def good(self, offset: int, size: int, ev: AnyEvent | UnknownEvent) -> bool:
        """Keep `ev` (after a stand-in if seqs are missing); False if it is illegal here."""
        gap = ev.seq - self.expected
        if self.state is None and gap:
            self.why = f"the first event has seq {ev.seq}, not 0"
            return False  # nothing may stand in before the start
        restored: str | None = None
        try:
            after = check_event(self.state, ev)
        except SessionStateError as exc:
            # Legal only if removed lines changed the state: a stand-in can restore
            # what the event needs (a new one, which needs a free seq, or the last
            # one if nothing since set the state), never out of completed.
            self.why = exc.message
            restored = self._restore(ev, gap)
            if restored is None:
                return False
            after = check_event(restored, ev) if gap > 0 else check_event(self.state, ev)
        if gap > 0:
            stand = _StandIn(self.expected, gap, self.last_ts, restored, self.pending)
            self.out.append(stand)
            self.pending = []
            before = self.state if restored is None else None
            self.revisable = stand if before in _RESTORABLE else None
            self.since = set()
        if self.revisable is not None:
            if after != self.state or type(ev) in _SETS_STATE:
                self.revisable = None  # the state is the event's now, not the stand-in's
            else:
                self.since.add(type(ev))
        last = self.out[-1] if self.out else None
        if isinstance(last, tuple) and last[0] + last[1] == offset:
            self.out[-1] = (last[0], last[1] + size)
        else:
            self.out.append((offset, size))
        self.open = None
        self.state = after
        self.expected = ev.seq + seq_span(ev)
        self.last_ts = ev.ts
        return True

    def _restore(self, ev: AnyEvent | UnknownEvent, gap: int) -> str | None:
        """The state a stand-in must set for `ev` to be legal (None: no stand-in can)."""
        if gap > 0:
            if self.state not in _RESTORABLE:
                return None
            candidates = [s for s in ("active", "paused") if _legal(s, ev)]
            return candidates[0] if candidates else None
        stand = self.revisable
        if stand is None:
            return None
        for state in ("active", "paused"):
            if (
                state != self.state
                and _legal(state, ev)
                and all(_legal(state, t) for t in self.since)
            ):
                stand.state = state  # not written yet: the plan is still in memory
                self.state = state
                self.revisable = None
                return state
        return None

    def finish(self, now: str) -> None:
        if self.state is None:
            raise CorruptLineError(
                "cannot repair: the log holds no events (no SessionStarted)", path=self.path
            )
        if self.pending:
            self.out.append(_StandIn(self.expected, 1, now, None, self.pending))
            self.pending = []


def _ranges(fd: int, offset: int, size: int) -> Iterator[bytes]:
    end = offset + size
    while offset < end:
        data = os.pread(fd, min(_CHUNK, end - offset), offset)
        if not data:
            raise OSError(5, "the log shrank while it was being repaired")
        offset += len(data)
        yield data


def _sidecar(home: Home, sid: str, run: _Run, fd: int, st_os: Storage, dry_run: bool) -> str:
    """Copy `run`'s bytes to a new file in torn/ (fsynced); return its name and set its record."""
    digest = hashlib.sha256()
    for part in _ranges(fd, run.offset, run.size):
        digest.update(part)
    if dry_run:
        name = free_sidecar_name(home, sid, run.offset)
    else:
        name = write_sidecar(home, sid, run.offset, _ranges(fd, run.offset, run.size), st_os)
    run.record = RemovedLines(
        run.line, run.offset, run.lines, run.size, digest.hexdigest(), name, run.problem
    )
    return name


def _event(sid: str, stand: _StandIn, now: str) -> bytes:
    records = [r.record for r in stand.runs if r.record is not None]
    return encode_event(
        LinesRemoved(
            SCHEMA_VERSION,
            sid,
            stand.seq,
            stand.ts,
            seqs=stand.seqs,
            state=stand.state,
            removed=records,
            repaired_at=now,
        )
    )


def repair_session(
    home: Home, session_id: str, *, dry_run: bool = False, storage: Storage | None = None
) -> RepairReport:
    """Move a session log's bad lines aside and record them; see the module docstring."""
    st_os = storage if storage is not None else REAL
    path = home.log_path(session_id)
    # Writers lock the log's inode (and the lock file): hold both for the whole repair,
    # and the new log from before its rename (see lock.hold_session).
    with hold_session(home, session_id) as (fd, held):
        st = os.fstat(fd)
        plan = _Planner(path, session_id)
        now = now_ts()
        try:
            for no, (offset, size, raw, complete) in enumerate(
                _raw_lines(fd, DEFAULT_MAX_LINE_BYTES), 1
            ):
                plan.line(no, offset, size, raw, complete)
            plan.finish(now)
            return _apply(home, session_id, plan, (fd, st, held), now, st_os, dry_run)
        except OSError as exc:
            raise JournalIOError(f"repair failed: {exc.strerror or exc}", path=path) from exc


def _apply(
    home: Home,
    sid: str,
    plan: _Planner,
    log: tuple[int, os.stat_result, list[int]],
    now: str,
    st_os: Storage,
    dry_run: bool,
) -> RepairReport:
    """Write the sidecars and the new log as planned (unless `dry_run`); report."""
    fd, st, held = log
    stands = [item for item in plan.out if isinstance(item, _StandIn)]
    if stands and not dry_run:
        home.ensure()
    for run in plan.runs:
        _sidecar(home, sid, run, fd, st_os, dry_run)
    lines = {id(s): _event(sid, s, now) for s in stands}
    after = sum(len(lines[id(i)]) if isinstance(i, _StandIn) else i[1] for i in plan.out)

    def parts() -> Iterator[bytes]:
        for item in plan.out:
            if isinstance(item, _StandIn):
                yield lines[id(item)]
            else:
                yield from _ranges(fd, *item)
        now_st = os.fstat(fd)
        if (now_st.st_size, now_st.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            raise OSError(5, "the log changed while it was being repaired")

    if stands and not dry_run:
        # The caches key on the log's identity, so the renamed-in log is never mistaken for
        # the old one: nothing derived needs dropping.
        replace_file(home.sessions_dir, home.log_path(sid).name, parts(), storage=st_os, hold=held)
    return RepairReport(
        session_id=sid,
        path=str(home.log_path(sid)),
        dry_run=dry_run,
        changed=bool(stands) and not dry_run,
        removed=[r.record for r in plan.runs if r.record is not None],
        events_written=[s.seq for s in stands],
        bytes_before=st.st_size,
        bytes_after=after if stands else st.st_size,
        status=plan.state,
    )
