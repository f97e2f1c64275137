"""The Session model and its pure fold.

Contract: `fold(events, initial)` is a pure function: it reads no files, mutates
neither its inputs nor `initial`, and folding the same events twice gives equal
Sessions. ``fold(a + b) == fold(b, initial=fold(a))`` for every split point.

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

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Literal

import msgspec

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
from .timefmt import parse_ts

__all__ = [
    "Session",
    "Status",
    "apply",
    "check_event",
    "check_history",
    "check_transition",
    "fold",
    "message_dict",
    "seq_span",
]

Status = Literal["active", "paused", "completed"]

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


class Session(msgspec.Struct, kw_only=True):
    """A snapshot of one session, as of its event `last_seq`.

    The three histories are whole unless it was loaded with a ``history`` window
    (``resume_session(id, history=N)``, ``load_session(..., history=N)``): then
    each holds its last N entries (plus what a manager has recorded since), and
    `conversation_omitted`, `commands_omitted` and `executions_omitted` count the
    earlier ones left in the log (so entry ``i`` of a list is entry
    ``omitted + i`` of the session).
    """

    session_id: str
    project_name: str
    start_time: datetime
    status: Status = "active"
    end_time: datetime | None = None
    conversation_history: list[dict[str, Any]] = []
    command_history: list[str] = []
    execution_histories: list[dict[str, Any]] = []
    metadata: dict[str, Any] = {}
    last_seq: int = -1
    last_event_time: datetime | None = None
    cwd: str | None = None
    host: str | None = None
    unknown_events: list[dict[str, Any]] = []
    conversation_omitted: int = 0
    commands_omitted: int = 0
    executions_omitted: int = 0
    # Set by loaders, not by the fold: the SHA-256 names of payloads stored as blobs that
    # could not be put back (missing or damaged); their placeholders stand in the histories.
    missing_blobs: list[str] = []
    # Set by `SessionTitled` (empty until one is recorded), and by a fork's start event.
    title: str = ""
    forked_from: str | None = None
    forked_at_seq: int | None = None

    @property
    def message_count(self) -> int:
        """Messages in the session, loaded or omitted."""
        return self.conversation_omitted + len(self.conversation_history)

    @property
    def command_count(self) -> int:
        """Commands in the session, loaded or omitted."""
        return self.commands_omitted + len(self.command_history)

    @property
    def execution_count(self) -> int:
        """Executions in the session, loaded or omitted."""
        return self.executions_omitted + len(self.execution_histories)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (datetimes as RFC 3339 strings; omitted counts only if > 0)."""
        result: dict[str, Any] = msgspec.to_builtins(self)
        # A whole session's dict stays what it was before windows (and missing_blobs) existed.
        for key in _OMIT_WHEN_EMPTY:
            if not result[key]:
                del result[key]
        for key in _OMIT_WHEN_NONE:
            if result[key] is None:
                del result[key]
        return result

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        """Rebuild a Session from `to_dict()` output."""
        return msgspec.convert(data, cls)

    def copy(self) -> Session:
        """A copy whose lists and metadata can change without touching this one."""
        return msgspec.structs.replace(
            self,
            conversation_history=list(self.conversation_history),
            command_history=list(self.command_history),
            execution_histories=list(self.execution_histories),
            metadata=dict(self.metadata),
            unknown_events=list(self.unknown_events),
            missing_blobs=list(self.missing_blobs),
        )

    def window(self, history: int) -> Session:
        """This session with only the last `history` entries of each history kept."""
        check_history(history)
        kept: dict[str, Any] = {}
        for name, omitted in _WINDOWED:
            entries: list[Any] = getattr(self, name)
            cut = max(0, len(entries) - history)
            kept[name] = entries[cut:]
            kept[omitted] = getattr(self, omitted) + cut
        return msgspec.structs.replace(
            self, metadata=dict(self.metadata), unknown_events=list(self.unknown_events), **kept
        )


_OMIT_WHEN_EMPTY = (
    "conversation_omitted",
    "commands_omitted",
    "executions_omitted",
    "missing_blobs",
    "title",
)
_OMIT_WHEN_NONE = ("forked_from", "forked_at_seq")  # a fork at seq 0 is still a fork
_WINDOWED = (
    ("conversation_history", "conversation_omitted"),
    ("command_history", "commands_omitted"),
    ("execution_histories", "executions_omitted"),
)


def check_history(history: int | None) -> None:
    """Raise ValueError unless `history` (a window size) is None or an int >= 0."""
    if history is not None and (type(history) is not int or history < 0):
        raise ValueError(f"history must be an int >= 0 or None, not {history!r}")


def message_dict(event: MessageRecorded) -> dict[str, Any]:
    """The message dict a MessageRecorded event was recorded from."""
    message: dict[str, Any] = {"role": event.role}
    if event.content is not msgspec.UNSET:
        message["content"] = event.content
    if event.extra:
        message.update(event.extra)
    return message


def _start(event: SessionStarted) -> Session:
    return Session(
        session_id=event.session_id,
        project_name=event.project_name,
        start_time=parse_ts(event.ts),
        metadata=dict(event.metadata),
        last_seq=event.seq,
        last_event_time=None,
        cwd=event.cwd,
        host=event.host,
        forked_from=event.forked_from,
        forked_at_seq=event.forked_at_seq,
    )


def apply(
    session: Session | None, event: Event | UnknownEvent, when: datetime | None = None
) -> Session:
    """Apply one event to `session` IN PLACE (or create it); return the session.

    This is the fold's step; it is exposed for owners of a Session (the manager)
    that keep it current event by event. Use `fold` for a pure fold. `when`, if
    given, must be ``parse_ts(event.ts)``: a writer that has the datetime the ts
    was formatted from passes it to skip re-parsing.
    """
    session = _step(session, event)
    session.last_event_time = parse_ts(event.ts) if when is None else when
    return session


def _step(session: Session | None, event: Event | UnknownEvent) -> Session:
    state = None if session is None else session.status
    after = check_event(state, event)
    if session is None:
        assert isinstance(event, SessionStarted)
        session = _start(event)
    elif session.session_id != event.session_id:
        raise SessionStateError(
            f"event for session {event.session_id} applied to session {session.session_id}"
        )
    t = type(event)
    if t is MessageRecorded:
        assert isinstance(event, MessageRecorded)
        session.conversation_history.append(message_dict(event))
    elif t is CommandRecorded:
        assert isinstance(event, CommandRecorded)
        session.command_history.append(event.command)
    elif t is ExecutionRecorded:
        assert isinstance(event, ExecutionRecorded)
        session.execution_histories.append(
            {
                "command": event.command,
                "exit_code": event.exit_code,
                "output": event.output,
                "started_at": event.started_at,
                "duration_s": event.duration_s,
                "ts": event.ts,
            }
        )
    elif t is MetadataUpdated:
        assert isinstance(event, MetadataUpdated)
        session.metadata.update(event.changes)
    elif t is SessionPaused:
        session.status = "paused"
    elif t is SessionResumed:
        session.status = "active"
    elif t is SessionEnded:
        session.status = "completed"
        session.end_time = parse_ts(event.ts)
    elif t is SessionTitled:
        assert isinstance(event, SessionTitled)
        session.title = event.title
    elif t is UnknownEvent:
        assert isinstance(event, UnknownEvent)
        session.unknown_events.append(event.raw)
    elif t is LinesRemoved:
        # No history effect: what the removed lines held is lost (kept in <home>/torn/).
        session.status = after  # type: ignore[assignment]  # check_event: active|paused|completed
    session.last_seq = event.seq + seq_span(event) - 1
    return session


def fold(events: Iterable[Event | UnknownEvent], initial: Session | None = None) -> Session:
    """Fold events into a Session, starting from a copy of `initial`; pure."""
    session = None if initial is None else initial.copy()
    it = iter(events)
    if session is None:
        for first in it:
            session = _step(None, first)
            break
        else:
            raise SessionStateError("no events to fold: a session starts with SessionStarted")
        last: Event | UnknownEvent | None = first
    else:
        last = None
    last = _fold_into(session, it, last)
    if last is not None:
        # Parsed once per fold, not per event: it is the hot loop of every replay.
        session.last_event_time = parse_ts(last.ts)
    return session


def _fold_into(
    session: Session, events: Iterator[Event | UnknownEvent], last: Event | UnknownEvent | None
) -> Event | UnknownEvent | None:
    """`_step` over `events` with the common records inlined; return the last event."""
    # The three records that make up nearly every log are applied here with
    # locals; everything else (and every error) goes through `_step`.
    sid = session.session_id
    status = session.status
    messages = session.conversation_history.append
    commands = session.command_history.append
    executions = session.execution_histories.append
    unset = msgspec.UNSET
    for last in events:
        if last.session_id != sid or status != "active":
            _step(session, last)
            status = session.status
        elif isinstance(last, MessageRecorded):
            message: dict[str, Any] = {"role": last.role}
            if last.content is not unset:
                message["content"] = last.content
            if last.extra:
                message.update(last.extra)
            messages(message)
        elif isinstance(last, CommandRecorded):
            commands(last.command)
        elif isinstance(last, ExecutionRecorded):
            executions(
                {
                    "command": last.command,
                    "exit_code": last.exit_code,
                    "output": last.output,
                    "started_at": last.started_at,
                    "duration_s": last.duration_s,
                    "ts": last.ts,
                }
            )
        else:
            _step(session, last)
            status = session.status
    if last is not None:
        session.last_seq = last.seq + seq_span(last) - 1
    return last
