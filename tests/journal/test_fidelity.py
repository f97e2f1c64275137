"""journal/fidelity.py and the fold/summary of imported events: time, usage, context, compaction."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest
from fidelity_helpers import APPEND_TS, draft, origin, stamped, start, write_session
from hypothesis import given
from hypothesis import strategies as st

from p8j.journal import Home
from p8j.journal.cache import snapshots
from p8j.journal.cache.catalog import list_summaries, summarize
from p8j.journal.events import (
    CommandRecorded,
    ExecutionRecorded,
    MessageRecorded,
    MetadataUpdated,
    RecordImported,
    SessionCompacted,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    SessionTitled,
    Usage,
    UsageRecorded,
)
from p8j.journal.fidelity import (
    IMPORT_REASON,
    UsageTally,
    add_usage,
    context_change,
    display_time,
    event_time,
)
from p8j.journal.session import apply, fold
from p8j.replay.load import load_session

T0 = "2026-11-01T09:00:00.000000Z"


def _at(minute: int, second: int = 0) -> str:
    return f"2026-11-01T09:{minute:02d}:{second:02d}.000000Z"


def _msg(role: str, text: Any, ts: str | None, **kw: Any) -> Any:
    return draft(MessageRecorded, role=role, content=text, origin=origin(ts), **kw)


def _conversation() -> list[Any]:
    """A small imported session: injected text, a response over 3 lines, a report, a compaction."""
    return [
        start(),
        _msg("user", "<system-reminder>be nice</system-reminder>", _at(0, 1), injected=True),
        _msg("user", "fix the bug\nplease", _at(0, 2)),
        _msg("assistant", "thinking", _at(1), model="opus", response_id="r1", usage=Usage(10, 1)),
        _msg("user", [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}], _at(1, 5)),
        _msg("assistant", "done", _at(1, 10), model="opus", response_id="r1", usage=Usage(10, 7)),
        draft(RecordImported, kind="progress", record={"x": 1}, origin=origin(None)),
        draft(UsageRecorded, usage=Usage(100, 20, 3, 4), response_id="c1", origin=origin(_at(2))),
        draft(UsageRecorded, usage=Usage(150, 30, 3, 4), response_id="c1", origin=origin(_at(3))),
        draft(
            SessionCompacted,
            trigger="auto",
            tokens_before=150_000,
            origin=origin(_at(4), cwd="/w2", git_branch="dev"),
        ),
        _msg("user", "Summary: we fixed it", _at(4, 1), compaction_summary=True),
        _msg("user", "next step", _at(5), model="sonnet"),
        _msg("assistant", "ok", _at(6), model="sonnet", response_id="r2", usage=Usage(5, 5)),
        draft(RecordImported, kind="file-history-snapshot", record={}, origin=origin(None)),
    ]


def test_effective_time_is_the_source_time_and_a_record_without_one_is_timeless() -> None:
    events = stamped(_conversation())
    assert event_time(events[1]) == _at(0, 1)
    assert event_time(events[6]) is None and display_time(events[6]) == APPEND_TS
    session = fold(events)
    assert session.start_time == datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
    # The last event is timeless: the last activity is the last timed one's, not the import's.
    assert session.last_event_time == datetime(2026, 11, 1, 9, 6, tzinfo=timezone.utc)
    summary = summarize(events, events[0].session_id)
    assert (summary.start_time, summary.last_activity) == (T0, _at(6))


def test_the_pause_and_resume_an_import_writes_are_timeless() -> None:
    # Each import pass ends paused and the next resumes: when p8j imported is not when
    # the session happened, so neither moves its last activity or duration.
    drafts = [
        *_conversation(),
        draft(SessionPaused, reason=IMPORT_REASON),
        draft(SessionResumed, reason=IMPORT_REASON),
        _msg("user", "later", _at(7)),
        draft(SessionPaused, reason=IMPORT_REASON),
    ]
    events = stamped(drafts)
    assert event_time(events[-1]) is None
    assert fold(events).last_event_time == datetime(2026, 11, 1, 9, 7, tzinfo=timezone.utc)
    summary = summarize(events, events[0].session_id)
    assert summary.last_activity == _at(7)
    # A pause for any other reason is the user's own, and keeps its time.
    assert event_time(stamped([start(), draft(SessionPaused, reason="lunch")])[1]) == APPEND_TS


def test_native_events_keep_their_append_time() -> None:
    events = stamped([start(ts=None), draft(MessageRecorded, role="user", content="hi")])
    events[0] = msgspec.structs.replace(events[0], origin=None)
    session = fold(events)
    assert session.start_time.isoformat() == "2026-12-03T10:00:00+00:00"
    assert event_time(events[1]) == APPEND_TS


def test_usage_counts_each_response_once_the_last_record_winning_per_model() -> None:
    events = stamped(_conversation())
    session = fold(events)
    assert session.usage is not None
    total = session.usage.total()
    # r1: 10/7 (its last line), c1: 150/30/3/4 (its last report), r2: 5/5.
    assert (total.input_tokens, total.output_tokens) == (165, 42)
    assert (total.cache_read_tokens, total.cache_write_tokens) == (3, 4)
    by_model = session.usage.by(1)
    assert by_model["opus"].input_tokens == 160  # the report names none: the model in effect
    assert by_model["sonnet"] == Usage(5, 5)
    summary = summarize(events, events[0].session_id)
    assert summary.usage is not None and summary.usage.total() == total
    assert summary.usage.by(1) == by_model and summary.model == "sonnet"


@given(st.integers(min_value=1, max_value=13))
def test_fold_of_a_split_equals_the_whole(cut: int) -> None:
    events = stamped(_conversation())
    whole = fold(events)
    assert fold(events[cut:], initial=fold(events[:cut])) == whole
    assert fold(events) == whole  # pure: folding again gives the same


def test_a_repeated_response_far_apart_still_counts_once_within_the_window() -> None:
    tally = UsageTally()
    add_usage(tally, Usage(1, 1), response_id="a", model="m", ts=T0)
    for i in range(10):
        add_usage(tally, Usage(1, 0), response_id=f"x{i}", model="m", ts=T0)
    add_usage(tally, Usage(2, 2), response_id="a", model="m", ts=_at(1))
    assert tally.total() == Usage(12, 2)
    assert tally.by(0) == {"2026-11-01": Usage(12, 2)}


def test_context_changes_are_kept_in_order_with_where_they_happen() -> None:
    session = fold(stamped(_conversation()))
    changes = [{k: v for k, v in c.items() if k not in ("ts",)} for c in session.context_changes]
    assert changes == [
        {"seq": 3, "message_index": 2, "model": "opus"},
        {"seq": 9, "message_index": 5, "cwd": "/w2", "git_branch": "dev"},
        {"seq": 11, "message_index": 6, "model": "sonnet"},
    ]
    assert session.context == {"model": "sonnet", "cwd": "/w2", "git_branch": "dev"}


def test_only_an_event_with_an_origin_or_a_model_is_looked_at_for_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Events recorded live carry neither: applying them skipped the context check only
    # after issue 13's regression pass (it cost every record_command/_execution ~10%).
    seen: list[int] = []

    def counting(current: dict[str, str], event: Any, index: int) -> Any:
        seen.append(event.seq)
        return context_change(current, event, index)

    monkeypatch.setattr("p8j.journal.session.context_change", counting)
    events = stamped(
        [
            draft(SessionStarted, project_name="live"),
            draft(MessageRecorded, role="user", content="hi"),
            draft(CommandRecorded, command="ls"),
            draft(ExecutionRecorded, command="ls", exit_code=0, output="x"),
            draft(MetadataUpdated, changes={"k": "v"}),
            draft(MessageRecorded, role="assistant", content="ok", model="opus"),
            draft(CommandRecorded, command="pwd", origin=origin(None, cwd="/w")),
            draft(MessageRecorded, role="user", content="more", model=""),
        ]
    )
    session = None
    for event in events:
        session = apply(session, event)
    assert session is not None
    assert seen == [5, 6]
    assert session.context == {"model": "opus", "cwd": "/w"}
    assert [c["seq"] for c in session.context_changes] == [5, 6]
    assert fold(events).context_changes == session.context_changes


def test_compaction_is_kept_and_the_context_after_it_can_be_asked_for(tmp_path: Any) -> None:
    session = fold(stamped(_conversation()))
    assert session.compactions[0]["trigger"] == "auto"
    assert session.compactions[0]["tokens_before"] == 150_000
    assert session.compacted_at == 5 and session.records_imported == 2
    after = session.since_compaction()
    assert after.conversation_omitted == 5
    assert [m["content"] for m in after.conversation_history] == [
        "Summary: we fixed it",
        "next step",
        "ok",
    ]
    assert after.conversation_history[0]["compaction_summary"] is True
    home = Home(tmp_path / "h")
    sid = write_session(home, _conversation())
    loaded = load_session(sid, home, context="compacted")
    assert loaded.conversation_history == after.conversation_history
    assert load_session(sid, home).message_count == 8


def test_compacted_context_starts_with_the_replacement_history() -> None:
    replacement = [{"type": "message", "role": "user", "content": "earlier, summarised"}]
    events = stamped(
        [
            start(),
            _msg("user", "old", _at(1)),
            draft(SessionCompacted, replacement=replacement, origin=origin(_at(2))),
            _msg("user", "new", _at(3)),
        ]
    )
    session = fold(events)
    assert session.compacted_context() == [*replacement, {"role": "user", "content": "new"}]
    assert fold(events[:2]).compacted_context() == [{"role": "user", "content": "old"}]


def test_title_is_the_first_human_message_unless_titled(tmp_path: Any) -> None:
    events = stamped(_conversation())
    assert summarize(events, events[0].session_id).title == "fix the bug"
    titled = stamped(
        [*_conversation(), draft(SessionTitled, title="Bug hunt", origin=origin(_at(7)))]
    )
    assert summarize(titled, titled[0].session_id).title == "Bug hunt"


def test_executions_carry_call_id_status_and_stderr() -> None:
    events = stamped(
        [
            start(),
            draft(
                ExecutionRecorded,
                command="ls",
                call_id="c9",
                status="error",
                stderr="no such file",
                origin=origin(_at(1)),
            ),
        ]
    )
    entry = fold(events).execution_histories[0]
    assert entry["call_id"] == "c9" and entry["status"] == "error"
    assert entry["stderr"] == "no such file" and entry["exit_code"] is None
    assert entry["ts"] == _at(1)


def test_links_and_times_reach_the_catalog_and_time_travel(tmp_path: Any) -> None:
    home = Home(tmp_path / "h")
    parent = write_session(home, _conversation())
    child = write_session(
        home,
        [start(parent_id=parent, parent_call_id="t1"), _msg("user", "sub task", _at(1, 1))],
    )
    by_id = {s.session_id: s for s in list_summaries(home)}
    assert by_id[child].parent_id == parent and by_id[child].parent_call_id == "t1"
    assert by_id[parent].start_time == T0 and by_id[parent].agent == "claude"
    # Time travel compares source times: as of 09:01:07 the session had 4 messages.
    as_of = load_session(parent, home, until=_at(1, 7))
    assert as_of.message_count == 4
    assert load_session(child, home).parent_id == parent


def test_the_snapshot_cache_and_to_dict_keep_the_fidelity_fields(
    tmp_path: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(snapshots, "MIN_EVENTS", 1)  # snapshot even this small session
    home = Home(tmp_path / "h")
    sid = write_session(home, _conversation())
    whole = fold(stamped(_conversation(), sid))
    first = load_session(sid, home)  # folds the log, writes the snapshot
    assert list((home.path / "cache" / "snapshots").iterdir())
    again = load_session(sid, home)  # from the snapshot
    assert first == whole and again == whole
    assert type(whole).from_dict(whole.to_dict()) == whole
    assert load_session(sid, home, history=2).since_compaction().conversation_omitted == 6


def test_tool_calls_are_placed_in_the_conversation_native_or_imported() -> None:
    from p8j.journal.events import CommandRecorded

    events = stamped(
        [
            start(),
            _msg("user", "go", _at(1)),
            draft(CommandRecorded, command="ls", tool="shell", call_id="a", origin=origin(_at(2))),
            draft(CommandRecorded, command="pwd", call_id="b"),  # an embedder's: no origin
            draft(CommandRecorded, command="true"),
        ]
    )
    session = fold(events)
    assert session.command_history == ["ls", "pwd", "true"]
    assert [(c["call_id"], c["message_index"], c["command_index"]) for c in session.tool_calls] == [
        ("a", 1, 0),
        ("b", 1, 1),
    ]


_RECORD = st.tuples(
    st.sampled_from(["r1", "r2", "r3", "r4", None]),  # response id (None: counts on its own)
    st.sampled_from(["m1", "m2", None]),
    st.integers(0, 1000),
    st.integers(0, 1000),
    st.booleans(),  # a message (True) or a usage report
)


@given(st.lists(_RECORD, max_size=30), st.integers(0, 30))
def test_usage_equals_the_last_record_of_each_response_summed(
    records: list[tuple[str | None, str | None, int, int, bool]], cut: int
) -> None:
    drafts: list[Any] = [start()]
    for i, (rid, model, tokens_in, tokens_out, as_message) in enumerate(records):
        usage = Usage(tokens_in, tokens_out)
        where = origin(_at(i // 60, i % 60))
        if as_message:
            drafts.append(
                _msg("assistant", "x", where.ts, model=model, response_id=rid, usage=usage)
            )
        else:
            drafts.append(
                draft(UsageRecorded, usage=usage, model=model, response_id=rid, origin=where)
            )
    events = stamped(drafts)
    last: dict[str, Usage] = {}
    expected = Usage()
    for rid, _, tokens_in, tokens_out, _ in records:
        if rid is None:
            expected = Usage(expected.input_tokens + tokens_in, expected.output_tokens + tokens_out)
        else:
            last[rid] = Usage(tokens_in, tokens_out)
    for usage in last.values():
        expected = Usage(
            expected.input_tokens + usage.input_tokens, expected.output_tokens + usage.output_tokens
        )
    session = fold(events)
    got = Usage() if session.usage is None else session.usage.total()
    assert got == expected
    summary = summarize(events, events[0].session_id)
    assert (Usage() if summary.usage is None else summary.usage.total()) == expected
    cut = min(cut, len(events) - 1) + 1
    assert fold(events[cut:], initial=fold(events[:cut])) == session
    by_step = None
    for ev in events:
        by_step = apply(by_step, ev)
    assert by_step == session  # the manager's step gives what the fold gives
