"""The Session model and its pure fold."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from journal_helpers import json_values

from p8j.journal import (
    SCHEMA_VERSION,
    CommandRecorded,
    Event,
    ExecutionRecorded,
    LinesRemoved,
    MessageRecorded,
    MetadataUpdated,
    Session,
    SessionEnded,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    SessionStateError,
    UnknownEvent,
)
from p8j.journal.session import apply, check_event, check_transition, fold
from p8j.journal.timefmt import format_ts, parse_ts

SID = "01a20c6a-1677-71ff-911a-7d8a8490bda4"
T0 = datetime(2026, 11, 24, 7, 0, 0, tzinfo=timezone.utc)

texts = st.text(max_size=20)
metadata = st.dictionaries(st.text(max_size=8), json_values, max_size=3)


@st.composite
def event_logs(draw: st.DrawFn) -> list[Event | UnknownEvent]:
    """A lifecycle-valid event sequence of one session, every kind of event mixed in."""
    t = T0 + timedelta(microseconds=draw(st.integers(0, 10**9)))
    out: list[Event | UnknownEvent] = []

    def ts() -> str:
        nonlocal t
        t += timedelta(microseconds=draw(st.integers(0, 10**7)))
        return format_ts(t)

    out.append(
        SessionStarted(
            SCHEMA_VERSION, SID, 0, ts(), project_name=draw(texts), metadata=draw(metadata)
        )
    )
    state = "active"
    for seq in range(1, draw(st.integers(0, 30)) + 1):
        if state == "completed":
            break
        choices = ["meta", "resume", "end", "unknown"]
        if state == "active":
            choices += ["msg", "msg", "cmd", "exec", "pause"]
        kind = draw(st.sampled_from(choices))
        stamp = ts()
        ev: Event | UnknownEvent
        if kind == "msg":
            extra = draw(st.dictionaries(st.sampled_from(["model", "usage", "uuid"]), json_values))
            ev = MessageRecorded(
                SCHEMA_VERSION,
                SID,
                seq,
                stamp,
                role=draw(texts),
                content=draw(json_values),
                extra=extra,
            )
        elif kind == "cmd":
            ev = CommandRecorded(SCHEMA_VERSION, SID, seq, stamp, command=draw(texts))
        elif kind == "exec":
            ev = ExecutionRecorded(
                SCHEMA_VERSION,
                SID,
                seq,
                stamp,
                command=draw(texts),
                exit_code=draw(st.none() | st.integers(-255, 255)),
                output=draw(texts),
                duration_s=draw(st.none() | st.floats(0, 1e6)),
            )
        elif kind == "meta":
            ev = MetadataUpdated(SCHEMA_VERSION, SID, seq, stamp, changes=draw(metadata))
        elif kind == "pause":
            ev = SessionPaused(SCHEMA_VERSION, SID, seq, stamp)
            state = "paused"
        elif kind == "resume":
            ev = SessionResumed(SCHEMA_VERSION, SID, seq, stamp, recovered=state == "active")
            state = "active"
        elif kind == "end":
            ev = SessionEnded(SCHEMA_VERSION, SID, seq, stamp, reason=draw(st.none() | texts))
            state = "completed"
        else:
            raw = {"type": "Future", "session_id": SID, "seq": seq, "ts": stamp, "x": draw(texts)}
            ev = UnknownEvent(type="Future", session_id=SID, seq=seq, ts=stamp, raw=raw)
        out.append(ev)
    return out


def _frozen(events: list[Event | UnknownEvent]) -> bytes:
    return msgspec.json.encode(events)


@settings(max_examples=100, deadline=None)
@given(event_logs())
def test_fold_of_a_split_equals_fold_of_all(events: list[Event | UnknownEvent]) -> None:
    before = _frozen(events)
    whole = fold(events)
    for cut in range(1, len(events) + 1):
        prefix = fold(events[:cut])
        prefix_dict = prefix.to_dict()
        assert fold(events[cut:], initial=prefix) == whole
        assert prefix.to_dict() == prefix_dict  # `initial` is not changed
    assert fold(events) == whole  # twice, equal
    assert _frozen(events) == before  # the events are not changed


@settings(max_examples=100, deadline=None)
@given(event_logs())
def test_fold_is_apply_step_by_step(events: list[Event | UnknownEvent]) -> None:
    session: Session | None = None
    for ev in events:
        session = apply(session, ev)
    assert session == fold(events)


@settings(max_examples=100, deadline=None)
@given(event_logs())
def test_to_dict_from_dict_round_trip(events: list[Event | UnknownEvent]) -> None:
    session = fold(events)
    data = session.to_dict()
    assert Session.from_dict(data) == session
    again = Session.from_dict(json.loads(json.dumps(data)))  # through JSON text too
    assert again == session
    assert isinstance(again.start_time, datetime) and again.start_time.tzinfo is not None
    assert isinstance(data["start_time"], str)


@settings(max_examples=100, deadline=None)
@given(event_logs())
def test_fold_matches_the_original_session_fields(events: list[Event | UnknownEvent]) -> None:
    s = fold(events)
    start = events[0]
    assert isinstance(start, SessionStarted)
    assert s.session_id == SID and s.project_name == start.project_name
    assert s.start_time == parse_ts(start.ts)
    assert s.last_seq == events[-1].seq
    assert s.last_event_time == parse_ts(events[-1].ts)
    messages = [e for e in events if isinstance(e, MessageRecorded)]
    expected_messages: list[dict[str, Any]] = []
    for m in messages:
        d: dict[str, Any] = {"role": m.role}
        if m.content is not msgspec.UNSET:
            d["content"] = m.content
        d.update(m.extra)
        expected_messages.append(d)
    assert s.conversation_history == expected_messages
    assert s.command_history == [e.command for e in events if isinstance(e, CommandRecorded)]
    execs = [e for e in events if isinstance(e, ExecutionRecorded)]
    assert [
        (x["command"], x["exit_code"], x["output"], x["duration_s"], x["ts"])
        for x in s.execution_histories
    ] == [(e.command, e.exit_code, e.output, e.duration_s, e.ts) for e in execs]
    meta = dict(start.metadata)
    for e in events:
        if isinstance(e, MetadataUpdated):
            meta.update(e.changes)
    assert s.metadata == meta
    assert s.unknown_events == [e.raw for e in events if isinstance(e, UnknownEvent)]
    last_lifecycle = [
        e for e in events if isinstance(e, (SessionPaused, SessionResumed, SessionEnded))
    ]
    if not last_lifecycle:
        assert s.status == "active"
    else:
        status = {SessionPaused: "paused", SessionResumed: "active", SessionEnded: "completed"}
        assert s.status == status[type(last_lifecycle[-1])]
    if s.status == "completed":
        assert s.end_time == parse_ts(events[-1].ts)  # SessionEnded is always the last event
    else:
        assert s.end_time is None


TRANSITIONS: dict[tuple[str | None, type[Any]], str | None] = {
    (None, SessionStarted): "active",
    ("active", MessageRecorded): "active",
    ("active", CommandRecorded): "active",
    ("active", ExecutionRecorded): "active",
    ("active", MetadataUpdated): "active",
    ("paused", MetadataUpdated): "paused",
    ("active", SessionPaused): "paused",
    ("paused", SessionResumed): "active",
    ("active", SessionResumed): "active",
    ("active", SessionEnded): "completed",
    ("paused", SessionEnded): "completed",
    ("active", UnknownEvent): "active",
    ("paused", UnknownEvent): "paused",
    ("completed", UnknownEvent): "completed",
    ("active", LinesRemoved): "active",
    ("paused", LinesRemoved): "paused",
    ("completed", LinesRemoved): "completed",
}
KINDS = [
    SessionStarted,
    MessageRecorded,
    CommandRecorded,
    ExecutionRecorded,
    MetadataUpdated,
    SessionPaused,
    SessionResumed,
    SessionEnded,
    UnknownEvent,
    LinesRemoved,
]


@pytest.mark.parametrize("state", [None, "active", "paused", "completed"])
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_transition_table(state: str | None, kind: type[Any]) -> None:
    expected = TRANSITIONS.get((state, kind), "illegal")
    if expected == "illegal":
        with pytest.raises(SessionStateError) as info:
            check_transition(state, kind)
        assert ("not started" if state is None else state) in str(info.value)
    else:
        assert check_transition(state, kind) == expected


def test_fold_of_nothing_or_a_foreign_event_is_a_state_error() -> None:
    with pytest.raises(SessionStateError, match="no events"):
        fold([])
    start = SessionStarted(SCHEMA_VERSION, SID, 0, format_ts(T0), project_name="p")
    other = CommandRecorded(
        SCHEMA_VERSION, "01a20c6a-0000-7000-8000-000000000000", 1, "t", command="x"
    )
    with pytest.raises(SessionStateError, match="applied to session"):
        fold([start, other])
    with pytest.raises(SessionStateError, match="is completed"):
        fold(
            [
                start,
                SessionEnded(SCHEMA_VERSION, SID, 1, format_ts(T0)),
                MetadataUpdated(SCHEMA_VERSION, SID, 2, format_ts(T0), changes={}),
            ]
        )


def test_copy_is_independent() -> None:
    s = fold([SessionStarted(SCHEMA_VERSION, SID, 0, format_ts(T0), project_name="p")])
    c = s.copy()
    c.command_history.append("x")
    c.metadata["k"] = 1
    c.conversation_history.append({"role": "u"})
    assert s.command_history == [] and s.metadata == {} and s.conversation_history == []


@settings(max_examples=100, deadline=None)
@given(event_logs(), st.integers(0, 6), st.data())
def test_a_window_folds_on_like_the_whole_session(
    events: list[Event | UnknownEvent], n: int, data: st.DataObject
) -> None:
    whole = fold(events)
    cut = data.draw(st.integers(1, len(events)), label="cut")
    windowed = fold(events[:cut]).window(n)
    assert fold(events[cut:], initial=windowed).window(n) == whole.window(n)
    w = whole.window(n)
    assert w.conversation_history == (whole.conversation_history[-n:] if n else [])
    assert w.message_count == whole.message_count
    assert w.command_count == whole.command_count
    assert w.execution_count == whole.execution_count
    assert w.window(n) == w and whole.window(10**9) == whole
    # A window's dict names what it left out; a whole session's dict is as it always was.
    assert Session.from_dict(w.to_dict()) == w
    assert "conversation_omitted" not in whole.to_dict()
    assert ("conversation_omitted" in w.to_dict()) == (w.conversation_omitted > 0)


def test_a_negative_window_is_refused() -> None:
    session = Session(session_id="s", project_name="p", start_time=datetime.now(timezone.utc))
    with pytest.raises(ValueError, match="history"):
        session.window(-1)


@settings(max_examples=100, deadline=None)
@given(event_logs(), st.data())
def test_lines_removed_stands_for_its_seqs_and_leaves_the_histories(
    events: list[Event | UnknownEvent], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(1, len(events)))
    seqs = data.draw(st.integers(1, 3))
    stand = LinesRemoved(SCHEMA_VERSION, SID, cut, events[cut - 1].ts, seqs=seqs)
    later = [msgspec.structs.replace(e, seq=e.seq + seqs) for e in events[cut:]]
    log: list[Event | UnknownEvent] = [*events[:cut], stand, *later]
    whole = fold(log)
    for k in range(1, len(log) + 1):
        assert fold(log[k:], initial=fold(log[:k])) == whole
    session: Session | None = None
    for ev in log:
        session = apply(session, ev)
    assert session == whole
    assert whole.last_seq == (cut + seqs - 1 if not later else later[-1].seq)
    plain = fold(events)
    for name in ("conversation_history", "command_history", "execution_histories", "metadata"):
        assert getattr(whole, name) == getattr(plain, name)
    assert whole.status == plain.status and whole.end_time == plain.end_time


def test_lines_removed_restores_active_or_paused_but_never_reopens_a_completed_session() -> None:
    def stand(state: str | None, seqs: int = 1) -> LinesRemoved:
        return LinesRemoved(SCHEMA_VERSION, SID, 2, format_ts(T0), seqs=seqs, state=state)

    assert check_event("paused", stand("active")) == "active"
    assert check_event("active", stand("paused")) == "paused"
    assert check_event("completed", stand(None)) == "completed"
    for state, bad in (("completed", stand("active")), ("active", stand("completed"))):
        with pytest.raises(SessionStateError, match="never out of completed"):
            check_event(state, bad)
    with pytest.raises(SessionStateError, match="at least one seq"):
        check_event("active", stand(None, seqs=0))
    with pytest.raises(SessionStateError, match="not started"):
        check_event(None, stand(None))
    ts = format_ts(T0)
    log: list[Event | UnknownEvent] = [
        SessionStarted(SCHEMA_VERSION, SID, 0, ts, project_name="p"),
        SessionPaused(SCHEMA_VERSION, SID, 1, ts),
        stand("active", seqs=2),  # a lost SessionResumed and one more record
        MessageRecorded(SCHEMA_VERSION, SID, 4, ts, role="user", content="x"),
    ]
    session = fold(log)
    assert session.status == "active" and session.last_seq == 4
    assert session.conversation_history == [{"role": "user", "content": "x"}]
