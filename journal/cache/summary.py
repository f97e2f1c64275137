"""`SessionSummary` and `summarize`: the pure fold behind listings (contract: catalog.py's).

`step` folds one event into a summary in place; `summarize` folds a whole log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from ..events import (
    CommandRecorded,
    ExecutionRecorded,
    LinesRemoved,
    MessageRecorded,
    MetadataUpdated,
    SessionEnded,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    SessionTitled,
    UnknownEvent,
    UsageRecorded,
)
from ..fidelity import UsageTally, add_usage, event_time
from .titles import first_line, title_from_message

__all__ = ["SessionSummary", "step", "summarize"]


class SessionSummary(msgspec.Struct, kw_only=True, gc=False):
    """What listing shows about one session, without folding it whole."""

    session_id: str
    project_name: str = ""
    status: str = "active"
    start_time: str | None = None
    end_time: str | None = None
    last_activity: str | None = None
    message_count: int = 0
    command_count: int = 0
    execution_count: int = 0
    title: str = ""
    size_bytes: int = 0
    last_seq: int = -1
    problems: int = 0
    metadata: dict[str, Any] = {}
    cwd: str | None = None
    forked_from: str | None = None
    # Where `title` came from: "titled" (a SessionTitled: messages no longer name it),
    # "user" (the first user text), "other" (a stand-in until a user text comes), "".
    title_source: str = ""
    # A child session (a sub-agent): its parent and the tool call that spawned it.
    parent_id: str | None = None
    parent_call_id: str | None = None
    # An imported session's agent (`SourceInfo.agent`), and the model last in effect.
    agent: str | None = None
    model: str | None = None
    usage: UsageTally | None = None


def _usage(s: SessionSummary, ev: Any) -> None:
    """Count a message's or report's usage, for the model in effect (journal/fidelity.py)."""
    if s.usage is None:
        s.usage = UsageTally()
    add_usage(s.usage, ev.usage, response_id=ev.response_id, model=s.model, ts=event_time(ev))


def step(s: SessionSummary, ev: Any) -> None:
    """Fold one event into `s` (in place)."""
    t = type(ev)
    origin = getattr(ev, "origin", None)
    if origin is not None and origin.model is not None:
        s.model = origin.model
    if t is MessageRecorded:
        s.message_count += 1
        if s.title_source in ("", "other"):
            title_from_message(s, ev)
        if ev.model is not None:
            s.model = ev.model
        if ev.usage is not None:
            _usage(s, ev)
    elif t is CommandRecorded:
        s.command_count += 1
    elif t is ExecutionRecorded:
        s.execution_count += 1
    elif t is SessionStarted:
        s.project_name = ev.project_name
        s.start_time = event_time(ev) or ev.ts
        s.status = "active"
        s.metadata = dict(ev.metadata)
        s.cwd = ev.cwd
        s.forked_from = ev.forked_from
        s.parent_id = ev.parent_id
        s.parent_call_id = ev.parent_call_id
        s.agent = None if ev.source is None else ev.source.agent
    elif t is UsageRecorded:
        if ev.model is not None:
            s.model = ev.model
        _usage(s, ev)
    elif t is MetadataUpdated:
        s.metadata.update(ev.changes)
    elif t is SessionPaused:
        s.status = "paused"
    elif t is SessionResumed:
        s.status = "active"
    elif t is SessionEnded:
        s.status = "completed"
        s.end_time = ev.ts
    elif t is SessionTitled:
        s.title = first_line(ev.title)
        s.title_source = "titled"
    elif t is UnknownEvent:
        pass
    elif t is LinesRemoved:
        # A repair's stand-in: it may restore the state the removed lines left.
        s.status = ev.state or s.status
        s.last_seq = ev.seq + ev.seqs - 1
        s.last_activity = ev.ts
        return
    s.last_seq = ev.seq
    when = event_time(ev)
    if when is not None:  # a timeless event (journal/fidelity.py) leaves the last one
        s.last_activity = when


def summarize(events: Iterable[Any], session_id: str) -> SessionSummary:
    """Pure fold of events into a SessionSummary."""
    s = SessionSummary(session_id=session_id)
    for ev in events:
        step(s, ev)
    return s
