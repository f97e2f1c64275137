"""Integrity check of session logs: framing, checksums, seq, lifecycle order.

Contract: `verify_session` reads a whole log with the verifying reader in
skip-and-report mode (it never stops at the first problem and never writes) and
returns a `VerifyReport`. Errors make ``ok`` false: corrupt lines (framing,
checksum, decoding, a foreign session id), seq gaps or repeats, lifecycle
violations (anything before ``SessionStarted`` or after ``SessionEnded``), lines
over the size limit, an empty log, and a log that cannot be opened or is unsafe
(a symlink, not a regular file). A bad line that ends in a newline is
``corrupt`` wherever it is, the last line too: only an unterminated last line
is a torn tail. Warnings leave ``ok`` true: a torn tail (the last write of a
writer that died; moved aside when the session is resumed), events of a type
this p8j does not know, and ``repaired`` (a `LinesRemoved` event: lines
``p8j repair`` moved aside earlier). A torn tail or an empty log of a session
whose writer is live is a write in progress, not a problem. The lifecycle rules
are session.check_event's (`LinesRemoved` is legal in any state after the start,
also after ``SessionEnded``). A log with errors has the state ``damaged``
(unless its writer is live), as in `p8j ls`. Logs are read through the store
seam (any `SessionStore`; a `Home` means its file store, whose archived
sessions are read through their archives); ``size_bytes`` is the log's size
in bytes (the file store: its file's; other stores: its records read, each + 1
for a newline, as a file would hold them).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import msgspec

from p8j.journal import P8jError
from p8j.journal.events import LinesRemoved
from p8j.journal.store.base import ReadIssue, SessionStore, StoreCursor, is_home_store
from p8j.journal.store.select import as_store

from .listing import Where, session_state

__all__ = ["VerifyIssue", "VerifyReport", "verify_session", "verify_sessions"]

_WARNING_KINDS = frozenset({"torn-tail", "unknown-event"})


class VerifyIssue(msgspec.Struct, frozen=True):
    """One problem: its kind, where (1-based line, byte offset), what, and the bytes."""

    kind: str
    line: int | None
    offset: int | None
    message: str
    data: str = ""


class VerifyReport(msgspec.Struct, kw_only=True):
    """The verdict on one session log."""

    session_id: str
    path: str
    ok: bool
    status: str | None
    state: str | None
    events: int
    last_seq: int
    size_bytes: int
    errors: list[VerifyIssue]
    warnings: list[VerifyIssue]


def _shown(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def _issue(issue: ReadIssue) -> VerifyIssue:
    return VerifyIssue(issue.kind, issue.line, issue.offset, issue.message, _shown(issue.data))


def _open(store: SessionStore, session_id: str) -> tuple[StoreCursor | None, str, P8jError | None]:
    """The reader of a session (its archive if it has only one), its place, or why not."""
    try:
        cursor = store.open_cursor(session_id, skip_corrupt=True)
    except P8jError as exc:
        if not is_home_store(store):
            return None, f"{store.url}#{session_id}", exc
        path = os.fspath(store.home.log_path(session_id))
        if store.is_archived(session_id):
            return store.open_archived(session_id, skip_corrupt=True), path, None
        return None, path, exc
    return cursor, os.fspath(cursor.path), None


def _size(store: SessionStore, session_id: str, cursor: StoreCursor | None) -> int:
    if cursor is not None and not is_home_store(store):
        # Offsets may not count bytes (NATS: sequence numbers): the records read, as lines.
        return cursor.bytes_read
    try:  # the file's size: a torn tail's bytes too
        return store.head(session_id).offset
    except P8jError:
        return 0


def verify_session(home: Where, session_id: str) -> VerifyReport:
    """Check one session's log from end to end; never raises for a bad log."""
    store = as_store(home)
    cursor, path, failed = _open(store, session_id)
    errors: list[VerifyIssue] = []
    warnings: list[VerifyIssue] = []
    events = 0
    try:
        if failed is not None:
            raise failed
        assert cursor is not None
        for ev in cursor.read(final=True):
            events += 1
            if type(ev) is LinesRemoved:
                warnings.append(_repaired(ev, cursor))
    except P8jError as exc:
        errors.append(VerifyIssue("unreadable", exc.line, exc.offset, exc.message))
    status = cursor.state if cursor is not None else None
    size = _size(store, session_id, cursor)
    state = None
    if status is not None:
        state = session_state(store, session_id, status)[0]
    live = state == "live" or (status is None and _lock_held(store, session_id))
    for issue in cursor.issues if cursor is not None else ():
        (warnings if issue.kind in _WARNING_KINDS else errors).append(_issue(issue))
    if cursor is not None and cursor.torn is not None and not live:
        torn = cursor.torn
        warnings.append(
            VerifyIssue(
                "torn-tail",
                torn.line,
                torn.offset,
                f"{size - torn.offset} bytes after the last complete line ({torn.message}); "
                "they are moved aside when the session is resumed",
                _shown(torn.data),
            )
        )
    if events == 0 and not errors and not live:
        errors.append(VerifyIssue("empty", 1, 0, "the log holds no events (no SessionStarted)"))
    if errors and not live:
        state = "damaged"
    return VerifyReport(
        session_id=session_id,
        path=path,
        ok=not errors,
        status=status,
        state=state,
        events=events,
        last_seq=(cursor.next_seq if cursor is not None else 0) - 1,
        size_bytes=size,
        errors=errors,
        warnings=warnings,
    )


def _repaired(ev: LinesRemoved, cursor: StoreCursor) -> VerifyIssue:
    """The warning for a repair's stand-in (the cursor is at its line while it is handed over)."""
    lines = sum(r.lines for r in ev.removed)
    seqs = f"seq {ev.seq}" if ev.seqs == 1 else f"seqs {ev.seq}-{ev.seq + ev.seqs - 1}"
    when = f" at {ev.repaired_at}" if ev.repaired_at else ""
    return VerifyIssue(
        "repaired",
        cursor.line,
        cursor.position.offset,
        f"p8j repair{when} moved {lines} line(s) aside; this LinesRemoved stands for {seqs}",
    )


def _lock_held(store: SessionStore, session_id: str) -> bool:
    return session_state(store, session_id, "active")[0] == "live"


def verify_sessions(home: Where, session_ids: Iterable[str]) -> Iterator[VerifyReport]:
    """Verify each session in turn."""
    store = as_store(home)
    for sid in session_ids:
        yield verify_session(store, sid)
