"""Where the events that are not messages sit in a conversation: for replay's inline markers.

Contract: `imported_records` reads a session (skip-and-report, bounded like
`load_session`: ``upto_seq``, ``until``) and returns its `RecordImported`
events, each with the number of messages before it (its place in the
conversation). `child_sessions` gives the summaries of the sessions whose
``parent_id`` is the given one (from the catalog), oldest first.
"""

from __future__ import annotations

import os
from datetime import datetime

from p8j.journal import Home, MessageRecorded, RecordImported
from p8j.journal.cache.catalog import SessionSummary, list_summaries
from p8j.journal.housekeeping import resolve_in
from p8j.journal.store.base import SessionStore

from .bounded import read_bounded
from .load import open_reader, reader_store

__all__ = ["child_sessions", "imported_records"]


def imported_records(
    session_id: str,
    home: str | os.PathLike[str] | Home | None = None,
    *,
    upto_seq: int | None = None,
    until: datetime | str | None = None,
    store: SessionStore | None = None,
) -> list[tuple[int, RecordImported]]:
    """The session's imported records, each with how many messages come before it."""
    store = reader_store(home, store)
    sid = resolve_in(store, session_id, archived=True)
    reader = open_reader(store, sid, skip_corrupt=True)
    before = 0
    out: list[tuple[int, RecordImported]] = []
    for event in read_bounded(reader, upto_seq=upto_seq, until=until):
        if type(event) is MessageRecorded:
            before += 1
        elif type(event) is RecordImported:
            assert isinstance(event, RecordImported)
            out.append((before, event))
    return out


def child_sessions(home: Home | SessionStore, session_id: str) -> list[SessionSummary]:
    """The sessions whose parent is `session_id`, oldest first."""
    found = [s for s in list_summaries(home) if s.parent_id == session_id]
    return sorted(found, key=lambda s: (s.start_time or "", s.session_id))
