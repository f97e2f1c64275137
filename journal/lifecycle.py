"""Session lifecycle: which event is legal in which state, and the state after it.

Lifecycle (enforced by `check_transition`, used by both the fold and the reader)::

    (none) --SessionStarted--> active
    active --SessionPaused--> paused --SessionResumed--> active
    active --SessionResumed--> active      (crash recovery: the writer died)
    active|paused --SessionEnded--> completed   (terminal: nothing may follow but LinesRemoved)
    active|paused|completed --LinesRemoved--> its `state` if set, else unchanged
    active|paused|completed --SessionTitled--> unchanged (sets `title`; the latest wins)

Messages, commands and executions are legal only while active; metadata
updates while active or paused. `LinesRemoved` (written by ``p8j repair`` in
place of damaged lines) stands for ``seqs`` seqs, and may set the state the
removed lines left (active or paused), never out of completed: `check_event`
and `seq_span` apply those two rules; the fold has no history effect from it.
"""

from __future__ import annotations

from typing import Any

from .errors import SessionStateError
from .events import (
    CommandRecorded,
    Event,
    ExecutionRecorded,
    LinesRemoved,
    MessageRecorded,
    MetadataUpdated,
    RecordImported,
    SessionCompacted,
    SessionEnded,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    SessionTitled,
    UnknownEvent,
    UsageRecorded,
)

__all__ = ["check_event", "check_transition", "seq_span"]

# event type -> (states it is legal in, state after it; None = unchanged)
_RULES: dict[type[Event], tuple[frozenset[str | None], str | None]] = {
    SessionStarted: (frozenset({None}), "active"),
    MessageRecorded: (frozenset({"active"}), None),
    CommandRecorded: (frozenset({"active"}), None),
    ExecutionRecorded: (frozenset({"active"}), None),
    MetadataUpdated: (frozenset({"active", "paused"}), None),
    SessionPaused: (frozenset({"active"}), "paused"),
    SessionResumed: (frozenset({"active", "paused"}), "active"),
    SessionEnded: (frozenset({"active", "paused"}), "completed"),
    LinesRemoved: (frozenset({"active", "paused", "completed"}), None),
    # Naming is bookkeeping, not conversation: a finished session can be named too.
    SessionTitled: (frozenset({"active", "paused", "completed"}), None),
    SessionCompacted: (frozenset({"active"}), None),
    UsageRecorded: (frozenset({"active"}), None),
    RecordImported: (frozenset({"active", "paused", "completed"}), None),
}
_RESTORABLE = frozenset({"active", "paused"})


def check_transition(state: str | None, event_type: type[Any]) -> str | None:
    """Return the state after an event of `event_type` in `state`, or raise SessionStateError.

    Unknown events (from a newer p8j) are legal anywhere after the start and
    change nothing.
    """
    if event_type is UnknownEvent:
        if state is None:
            raise SessionStateError("an unknown event is illegal: the session is not started")
        return state
    allowed, after = _RULES[event_type]
    if state not in allowed:
        shown = "not started" if state is None else state
        raise SessionStateError(f"{event_type.__name__} is illegal: the session is {shown}")
    return state if after is None else after


def check_event(state: str | None, event: Event | UnknownEvent) -> str | None:
    """Like `check_transition`, for the event itself: applies `LinesRemoved`'s state and seqs."""
    if type(event) is not LinesRemoved:
        return check_transition(state, type(event))
    assert isinstance(event, LinesRemoved)
    after = check_transition(state, LinesRemoved)
    if type(event.seqs) is not int or event.seqs < 1:
        raise SessionStateError(f"LinesRemoved must stand for at least one seq, not {event.seqs}")
    if event.state is None:
        return after
    if event.state not in _RESTORABLE or state == "completed":
        raise SessionStateError(
            f"LinesRemoved cannot make a {state} session {event.state}: "
            "it restores only active or paused, never out of completed"
        )
    return event.state


def seq_span(event: Event | UnknownEvent) -> int:
    """How many seqs `event` holds: `LinesRemoved.seqs`, else 1 (the next seq is seq + span)."""
    return event.seqs if type(event) is LinesRemoved else 1
