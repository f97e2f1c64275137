"""The Session model and its pure fold.

Contract: `fold(events, initial)` is a pure function: it reads no files, mutates
neither its inputs nor `initial`, and folding the same events twice gives equal
Sessions. ``fold(a + b) == fold(b, initial=fold(a))`` for every split point.

The lifecycle rules the fold enforces are in journal/lifecycle.py (re-exported here).
Imported records and the fidelity fields are read as journal/fidelity.py says.
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
    SourceInfo,
    UnknownEvent,
    Usage,
    UsageRecorded,
)
from .fidelity import UsageTally, add_usage, compaction_entry, context_change, event_time
from .lifecycle import check_event, check_transition, seq_span
from .timefmt import parse_ts

__all__ = [
    "Session",
    "Status",
    "apply",
    "check_event",
    "check_history",
    "check_transition",
    "execution_dict",
    "fold",
    "message_dict",
    "seq_span",
]

Status = Literal["active", "paused", "completed"]


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
    # Fidelity (imported sessions, or embedders that set the fields; see journal/fidelity.py).
    # A child session (a sub-agent): its parent and the tool call there that spawned it.
    parent_id: str | None = None
    parent_call_id: str | None = None
    source: SourceInfo | None = None
    # Token usage, deduplicated by response id (`UsageTally`); None until a record has some.
    usage: UsageTally | None = None
    # Per-turn context in force (cwd, git_branch, model) and each change, in order:
    # {"seq", "ts", "message_index" (messages before it), and the keys that changed}.
    context: dict[str, str] = {}
    context_changes: list[dict[str, Any]] = []
    # Each SessionCompacted: {"seq", "ts", "message_index", "trigger", "tokens_before",
    # "summary", "replacement"} (the keys the event sets). `compacted_at`: the index of the
    # first message of the context after the last compaction (see `since_compaction`).
    compactions: list[dict[str, Any]] = []
    compacted_at: int | None = None
    records_imported: int = 0
    # Each command with a call id (a tool call): {"seq", "message_index", "command_index",
    # "call_id", "tool"}, so a reader can show it in the conversation where it happened.
    tool_calls: list[dict[str, Any]] = []

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
            usage=None if self.usage is None else self.usage.copy(),
            context=dict(self.context),
            context_changes=list(self.context_changes),
            compactions=list(self.compactions),
            tool_calls=list(self.tool_calls),
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
        return msgspec.structs.replace(self._copy_small(), **kept)

    def _copy_small(self) -> Session:
        """A copy sharing the three histories (the caller replaces them)."""
        return msgspec.structs.replace(
            self,
            metadata=dict(self.metadata),
            unknown_events=list(self.unknown_events),
            usage=None if self.usage is None else self.usage.copy(),
            context=dict(self.context),
            context_changes=list(self.context_changes),
            compactions=list(self.compactions),
            tool_calls=list(self.tool_calls),
        )

    def since_compaction(self) -> Session:
        """This session with the conversation cut to the context after its last compaction.

        The messages before `compacted_at` count as omitted (as a ``history``
        window does); commands and executions stay whole. A session never
        compacted comes back whole. What the agent put in place of the earlier
        messages is the first message kept (Claude's summary,
        ``compaction_summary``) or the last compaction's ``replacement``
        (`compacted_context` gives both as one list).
        """
        cut = 0 if self.compacted_at is None else self.compacted_at - self.conversation_omitted
        cut = max(0, cut)
        return msgspec.structs.replace(
            self._copy_small(),
            conversation_history=self.conversation_history[cut:],
            command_history=list(self.command_history),
            execution_histories=list(self.execution_histories),
            conversation_omitted=self.conversation_omitted + cut,
        )

    def compacted_context(self) -> list[Any]:
        """The messages the model saw after the last compaction: its replacement, then the rest."""
        replacement: Any = self.compactions[-1].get("replacement") if self.compactions else None
        head = list(replacement) if isinstance(replacement, list) else []
        return head + self.since_compaction().conversation_history


_OMIT_WHEN_EMPTY = (
    "conversation_omitted",
    "commands_omitted",
    "executions_omitted",
    "missing_blobs",
    "title",
    # Fidelity fields: a native session's dict stays what it was before they existed.
    "context",
    "context_changes",
    "compactions",
    "records_imported",
    "tool_calls",
)
_OMIT_WHEN_NONE = (
    "forked_from",
    "forked_at_seq",  # a fork at seq 0 is still a fork
    "parent_id",
    "parent_call_id",
    "source",
    "usage",
    "compacted_at",
)
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
    """The message dict a MessageRecorded event was recorded from.

    A message flagged `injected`, `compaction_summary` or `sidechain` has that key
    set to True too (a message without them has none of these keys).
    """
    message: dict[str, Any] = {"role": event.role}
    if event.content is not msgspec.UNSET:
        message["content"] = event.content
    if event.extra:
        message.update(event.extra)
    if event.injected:
        message["injected"] = True
    if event.compaction_summary:
        message["compaction_summary"] = True
    if event.sidechain:
        message["sidechain"] = True
    return message


def execution_dict(event: ExecutionRecorded) -> dict[str, Any]:
    """An execution as `Session.execution_histories` holds it (call_id, status, stderr if set)."""
    entry: dict[str, Any] = {
        "command": event.command,
        "exit_code": event.exit_code,
        "output": event.output,
        "started_at": event.started_at,
        "duration_s": event.duration_s,
        "ts": event.ts if event.origin is None else event_time(event) or event.ts,
    }
    if event.call_id is not None:
        entry["call_id"] = event.call_id
    if event.status is not None:
        entry["status"] = event.status
    if event.stderr:
        entry["stderr"] = event.stderr
    return entry


def _start(event: SessionStarted) -> Session:
    return Session(
        session_id=event.session_id,
        project_name=event.project_name,
        start_time=parse_ts(event_time(event) or event.ts),
        metadata=dict(event.metadata),
        last_seq=event.seq,
        last_event_time=None,
        cwd=event.cwd,
        host=event.host,
        forked_from=event.forked_from,
        forked_at_seq=event.forked_at_seq,
        parent_id=event.parent_id,
        parent_call_id=event.parent_call_id,
        source=event.source,
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
    if getattr(event, "origin", None) is None and when is not None:
        session.last_event_time = when
    else:
        found = event_time(event)
        if found is not None:  # a timeless event leaves the last time as it was
            session.last_event_time = parse_ts(found)
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
    # Only an imported event (origin) or a message naming its model can change the
    # context: the others, nearly every event recorded live, skip the call (+3% a record).
    if (getattr(event, "origin", None) is not None or getattr(event, "model", None)) and (
        t is not LinesRemoved and isinstance(event, Event)
    ):
        _note_context(session, event)
    if t is MessageRecorded:
        assert isinstance(event, MessageRecorded)
        if event.compaction_summary:
            session.compacted_at = session.message_count
        if event.usage is not None:
            _count_usage(session, event, event.usage, event.response_id)
        session.conversation_history.append(message_dict(event))
    elif t is CommandRecorded:
        assert isinstance(event, CommandRecorded)
        if event.call_id is not None:
            session.tool_calls.append(
                {
                    "seq": event.seq,
                    "message_index": session.message_count,
                    "command_index": session.command_count,
                    "call_id": event.call_id,
                    "tool": event.tool,
                }
            )
        session.command_history.append(event.command)
    elif t is ExecutionRecorded:
        assert isinstance(event, ExecutionRecorded)
        session.execution_histories.append(execution_dict(event))
    elif t is SessionCompacted:
        assert isinstance(event, SessionCompacted)
        session.compactions.append(compaction_entry(event, session.message_count))
        session.compacted_at = session.message_count
    elif t is UsageRecorded:
        assert isinstance(event, UsageRecorded)
        _count_usage(session, event, event.usage, event.response_id)
    elif t is RecordImported:
        session.records_imported += 1
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


def _note_context(session: Session, event: Event) -> None:
    """Record a change of cwd / git branch / model (an event's `origin`, a message's model)."""
    entry = context_change(session.context, event, session.message_count)
    if entry is not None:
        session.context_changes.append(entry)


def _count_usage(session: Session, event: Event, usage: Usage, response_id: str | None) -> None:
    if session.usage is None:
        session.usage = UsageTally()
    # The model in effect: `_note_context` has just taken the event's own, if it names one.
    model = session.context.get("model")
    add_usage(session.usage, usage, response_id=response_id, model=model, ts=event_time(event))


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
        timed: Event | UnknownEvent | None = first if event_time(first) is not None else None
    else:
        timed = None
    timed = _fold_into(session, it, timed)
    if timed is not None:
        # Parsed once per fold, not per event: it is the hot loop of every replay.
        found = event_time(timed)
        assert found is not None
        session.last_event_time = parse_ts(found)
    return session


def _fold_into(
    session: Session, events: Iterator[Event | UnknownEvent], timed: Event | UnknownEvent | None
) -> Event | UnknownEvent | None:
    """`_step` over `events` with the common records inlined; return the last event with a time.

    (An imported record without a source time is timeless: see journal/fidelity.py.)
    """
    # The three records that make up nearly every log are applied here with
    # locals; everything else (imported records, fidelity fields, every error)
    # goes through `_step`.
    sid = session.session_id
    status = session.status
    messages = session.conversation_history.append
    commands = session.command_history.append
    executions = session.execution_histories.append
    unset = msgspec.UNSET
    last: Event | UnknownEvent | None = None
    for last in events:
        if last.session_id != sid or status != "active":
            _step(session, last)
            status = session.status
        elif isinstance(last, MessageRecorded):
            if (
                last.origin is None
                and last.usage is None
                and last.model is None
                and not (last.injected or last.compaction_summary or last.sidechain)
            ):
                message: dict[str, Any] = {"role": last.role}
                if last.content is not unset:
                    message["content"] = last.content
                if last.extra:
                    message.update(last.extra)
                messages(message)
                timed = last
                continue
            _step(session, last)
        elif isinstance(last, CommandRecorded):
            if last.origin is None and last.call_id is None:
                commands(last.command)
                timed = last
                continue
            _step(session, last)
        elif isinstance(last, ExecutionRecorded):
            if last.origin is None:
                executions(execution_dict(last))
                timed = last
                continue
            _step(session, last)
        else:
            _step(session, last)
            status = session.status
        if event_time(last) is not None:
            timed = last
    if last is not None:
        session.last_seq = last.seq + seq_span(last) - 1
    return timed
