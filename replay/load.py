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
``context="compacted"`` gives the conversation the model saw after the last
compaction (`Session.since_compaction`: earlier messages count as omitted;
the replacement history, if the agent recorded one, is in
``session.compactions[-1]["replacement"]`` and `Session.compacted_context`
joins both); ``"all"`` (the default) the whole history.

The log is reached through a store (`p8j.journal.store`): `store` (a
`SessionStore`, a URL or a path) when given, else the file store at `home`
(``$P8J_HOME``, the platform's data dir). ``$P8J_STORE`` is not consulted
here: a reader names what it reads (the manager's `store` is what to pass).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime

import msgspec

from p8j.journal import (
    AnyEvent,
    Home,
    JournalIOError,
    Session,
    SessionNotFoundError,
    SessionStateError,
    UnknownEvent,
    checks,
)
from p8j.journal.cache.snapshots import fold_log
from p8j.journal.housekeeping import resolve_in
from p8j.journal.session import fold
from p8j.journal.store.base import (
    ReadIssue,
    SessionStore,
    StoreCursor,
    is_home_store,
    missing_blob_hashes,
    missing_start_error,
)
from p8j.journal.store.select import file_store

from .bounded import read_bounded

__all__ = [
    "CONTEXTS",
    "LoadReport",
    "check_bounds",
    "check_log",
    "load_report",
    "load_session",
    "load_session_with_report",
    "reader_store",
]


CONTEXTS = ("all", "compacted")


def check_context(context: object) -> None:
    """ValueError unless `context` is one of `CONTEXTS`."""
    if context not in CONTEXTS:
        raise ValueError(f"context must be one of {', '.join(CONTEXTS)}, not {context!r}")


class LoadReport(msgspec.Struct):
    """What loading met: problems skipped, a torn tail, events read, bytes covered."""

    session_id: str
    path: str
    issues: list[ReadIssue]
    torn: ReadIssue | None
    events: int
    offset: int


def reader_store(
    home: str | os.PathLike[str] | Home | None,
    store: SessionStore | str | os.PathLike[str] | None = None,
) -> SessionStore:
    """The store a reader reads: `store` (object, URL, path) if given, else the files at `home`."""
    if store is None:
        return file_store(home)
    from p8j.journal.store.select import open_store

    return open_store(store)


def check_log(store: SessionStore, sid: str) -> None:
    """SessionNotFoundError if `sid` has no log; UnsafePathError if it is no regular file."""
    try:
        store.head(sid)
    except JournalIOError as exc:
        where = store.home.path if is_home_store(store) else store.url
        raise SessionNotFoundError(f"no session {sid} in {where}") from exc


def load_report(sid: str, cursor: StoreCursor, events: int) -> LoadReport:
    """What `cursor` met reading `events` events of session `sid`."""
    path = os.fspath(cursor.path)
    return LoadReport(sid, path, list(cursor.issues), cursor.torn, events, cursor.position.offset)


def open_reader(store: SessionStore, sid: str, *, skip_corrupt: bool) -> StoreCursor:
    """A verifying reader of `sid`: the store's cursor, or (archived) the archive's."""
    if is_home_store(store) and store.is_archived(sid):
        # The same verifying reader, over the decompressed archive (store/fs/archived.py).
        return store.open_archived(sid, skip_corrupt=skip_corrupt)
    check_log(store, sid)
    return store.open_cursor(sid, skip_corrupt=skip_corrupt)


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
    store: SessionStore | str | os.PathLike[str] | None = None,
    context: str = "all",
) -> tuple[Session, LoadReport]:
    """Load a session (id, unique prefix or ``latest``) and report what was met."""
    check_context(context)
    if context == "compacted":
        whole, report = load_session_with_report(
            session_id, home, upto_seq=upto_seq, until=until, skip_corrupt=skip_corrupt, store=store
        )
        cut = whole.since_compaction()
        return (cut if history is None else cut.window(history)), report
    st = reader_store(home, store)
    upto_seq, bound = check_bounds(upto_seq, until)
    checks.boolean(skip_corrupt, "skip_corrupt")
    checks.opt_integer(history, "history", minimum=0)
    sid = resolve_in(st, session_id, archived=True)
    if upto_seq is None and bound is None and not is_archived(st, sid):
        check_log(st, sid)
        # The whole session: from the snapshot cache when it is fresh (journal/snapshots.py).
        session, cursor, count = fold_log(st, sid, skip_corrupt=skip_corrupt, history=history)
        session.missing_blobs = missing_blob_hashes(cursor.issues)
        return session, load_report(sid, cursor, count)
    reader = open_reader(st, sid, skip_corrupt=skip_corrupt)
    session, count = _fold_bounded(reader, upto_seq, bound, history)
    return session, load_report(sid, reader, count)


def is_archived(store: SessionStore, sid: str) -> bool:
    """True if `sid` is an archived session of a home (no log, an archive)."""
    return is_home_store(store) and store.is_archived(sid)


def _fold_bounded(
    cursor: StoreCursor, upto_seq: int | None, bound: str | None, history: int | None
) -> tuple[Session, int]:
    """Fold `cursor`'s events up to the bounds; the session and how many events it read."""
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
    return session, count


def load_session(
    session_id: str,
    home: str | os.PathLike[str] | Home | None = None,
    upto_seq: int | None = None,
    *,
    until: datetime | str | None = None,
    skip_corrupt: bool = False,
    history: int | None = None,
    store: SessionStore | str | os.PathLike[str] | None = None,
    context: str = "all",
) -> Session:
    """Rebuild a Session from its log, optionally as of `upto_seq` or `until`."""
    return load_session_with_report(
        session_id,
        home,
        upto_seq=upto_seq,
        until=until,
        skip_corrupt=skip_corrupt,
        history=history,
        store=store,
        context=context,
    )[0]
