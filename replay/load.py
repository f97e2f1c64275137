"""Load a session from its log, as of any point (time travel), with skip-and-report.

Contract: `load_session` streams the log through the verifying reader and the
pure fold; it never writes. ``upto_seq`` keeps events with ``seq <= upto_seq``;
``until`` keeps events with ``ts <= until``. Reading stops at the first event
past the bound. ``history=N`` keeps the last N entries of each history
(`Session.window`); for the whole session it reads only that much of the
snapshot cache. With ``skip_corrupt=True`` bad lines are skipped and listed in
the returned `LoadReport`; a torn tail is always tolerated and reported. A
payload stored as a blob that cannot be put back (missing, damaged) keeps its
placeholder, is reported, and is named in `Session.missing_blobs`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime

import msgspec

from p8j.journal import (
    AnyEvent,
    Home,
    LogCursor,
    ReadIssue,
    Session,
    SessionNotFoundError,
    SessionStateError,
    UnknownEvent,
    checks,
    fold,
    resolve_session_ref,
)
from p8j.journal.cache.snapshots import fold_log
from p8j.journal.store.fs.archived import has_log
from p8j.journal.store.fs.blobs import missing_blob_hashes
from p8j.journal.store.fs.cursor import missing_start_error
from p8j.journal.store.fs.layout import check_home_arg

from .bounded import read_bounded

__all__ = ["LoadReport", "check_bounds", "load_session", "load_session_with_report"]


class LoadReport(msgspec.Struct):
    """What loading met: problems skipped, a torn tail, events read, bytes covered."""

    session_id: str
    path: str
    issues: list[ReadIssue]
    torn: ReadIssue | None
    events: int
    offset: int


def _home(home: str | os.PathLike[str] | Home | None) -> Home:
    return home if isinstance(home, Home) else Home(home)


def check_bounds(upto_seq: object, until: object) -> tuple[int | None, str | None]:
    """Check `upto_seq` (an int >= 0) and `until` (aware datetime or RFC 3339); normalise both.

    `until` comes back in p8j's fixed-width ts form: only then does string order
    equal time order ("...07:00:00Z" sorts after "...07:00:00.5Z"). Raises
    InvalidEventError (InvalidTypeError for a wrong type) before anything is read.
    """
    seq = checks.opt_integer(upto_seq, "upto_seq", minimum=0)
    return seq, None if until is None else checks.timestamp(until, "until")


def load_session_with_report(
    session_id: str,
    home: str | os.PathLike[str] | Home | None = None,
    *,
    upto_seq: int | None = None,
    until: datetime | str | None = None,
    skip_corrupt: bool = False,
    history: int | None = None,
) -> tuple[Session, LoadReport]:
    """Load a session (id, unique prefix or ``latest``) and report what was met."""
    check_home_arg(home)
    upto_seq, bound = check_bounds(upto_seq, until)
    checks.boolean(skip_corrupt, "skip_corrupt")
    checks.opt_integer(history, "history", minimum=0)
    h = _home(home)
    sid = resolve_session_ref(h, session_id, archived=True)
    path = h.log_path(sid)
    if not has_log(h, sid):
        raise SessionNotFoundError(f"no session {sid} in {h.path}")
    if upto_seq is None and bound is None:
        # The whole session: from the snapshot cache when it is fresh (journal/snapshots.py).
        session, cursor, count = fold_log(h, sid, skip_corrupt=skip_corrupt, history=history)
        session.missing_blobs = missing_blob_hashes(cursor.issues)
        report = LoadReport(sid, str(path), list(cursor.issues), cursor.torn, count, cursor.offset)
        return session, report
    cursor = LogCursor(path, session_id=sid, skip_corrupt=skip_corrupt)
    count = 0

    def events() -> Iterator[AnyEvent | UnknownEvent]:
        nonlocal count
        for ev in read_bounded(cursor, upto_seq=upto_seq, until=bound):
            count += 1
            yield ev

    try:
        session = fold(events())
    except SessionStateError:
        if cursor.next_seq == 0:  # not even a complete SessionStarted
            raise missing_start_error(cursor) from None
        raise
    if history is not None:
        session = session.window(history)
    session.missing_blobs = missing_blob_hashes(cursor.issues)
    report = LoadReport(sid, str(path), list(cursor.issues), cursor.torn, count, cursor.offset)
    return session, report


def load_session(
    session_id: str,
    home: str | os.PathLike[str] | Home | None = None,
    upto_seq: int | None = None,
    *,
    until: datetime | str | None = None,
    skip_corrupt: bool = False,
    history: int | None = None,
) -> Session:
    """Rebuild a Session from its log, optionally as of `upto_seq` or `until`."""
    return load_session_with_report(
        session_id,
        home,
        upto_seq=upto_seq,
        until=until,
        skip_corrupt=skip_corrupt,
        history=history,
    )[0]
