"""Hand-made imported sessions: drafted events (with origins) appended through the store seam."""

from __future__ import annotations

from typing import Any

import msgspec

from p8j.journal import Home
from p8j.journal.events import SCHEMA_VERSION, Event, Origin, SessionStarted, SourceInfo
from p8j.journal.ids import new_session_id
from p8j.journal.store.fs.store import FileStore

APPEND_TS = "2026-12-03T10:00:00.000000Z"  # when the "import" ran: later than every source time


def origin(ts: str | None, **fields: Any) -> Origin:
    """An Origin at source time `ts` (``None``: a record without a time)."""
    return Origin(ts=ts, **fields)


def draft(cls: type[Event], **fields: Any) -> Any:
    """An event of `cls` with a placeholder envelope (`write_session` fills it in)."""
    return cls(SCHEMA_VERSION, "", 0, "", **fields)


START_TS = "2026-11-01T09:00:00.000000Z"
STAMP_ID = "01900000-0000-7000-8000-000000000000"


def start(project: str = "proj", *, ts: str | None = START_TS, **kw: Any) -> Any:
    """A drafted SessionStarted of an imported session (source time `ts`)."""
    kw.setdefault("source", SourceInfo(agent="claude", source_id="src-1"))
    return draft(SessionStarted, project_name=project, origin=origin(ts), **kw)


def write_session(home: Home, drafts: list[Any], session_id: str | None = None) -> str:
    """Append `drafts` (the first a SessionStarted) as one session; return its id."""
    sid = session_id or new_session_id()
    events = [
        msgspec.structs.replace(ev, session_id=sid, seq=i, ts=APPEND_TS)
        for i, ev in enumerate(drafts)
    ]
    store = FileStore(home)
    writer = store.open_writer(sid, first=events[0])
    try:
        for ev in events[1:]:
            writer.append(ev)
    finally:
        writer.close()
    return sid


def stamped(drafts: list[Any], session_id: str = STAMP_ID) -> list[Any]:
    """`drafts` with their envelopes filled in (for folding without a store)."""
    return [
        msgspec.structs.replace(ev, session_id=session_id, seq=i, ts=APPEND_TS)
        for i, ev in enumerate(drafts)
    ]
