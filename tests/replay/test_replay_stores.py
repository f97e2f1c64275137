"""The read models on any store: ls, search, verify, info, follow and load over a MemoryStore.

The same sessions are written to a MemoryStore and to the journal files; every
read model must give the same answers on both (only where a log lives differs),
read through the store seam alone (tests/test_layering.py checks the imports).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import msgspec
import pytest

from p8j.journal import Home, SessionManager, SessionStarted
from p8j.journal.ids import new_session_id
from p8j.journal.store.base import SessionStore
from p8j.journal.store.fs.store import FileStore
from p8j.journal.store.memory import MemoryStore
from p8j.journal.timefmt import format_ts
from p8j.replay.follow import FollowedEvent, Follower, FollowNotice
from p8j.replay.info import journal_info
from p8j.replay.listing import archived_summaries, list_sessions
from p8j.replay.load import load_session, load_session_with_report
from p8j.replay.search import search
from p8j.replay.search_context import hit_context
from p8j.replay.verify import verify_session, verify_sessions

WAIT_S = 10.0
_NOW = format_ts(datetime.now(timezone.utc))


def _record(store: SessionStore) -> tuple[list[str], SessionManager]:
    """Three sessions (completed, paused, live) with the same content; the live one's writer."""
    ids = []
    mgr = SessionManager(store=store)
    ids.append(mgr.start_session("alpha", cwd="/w").session_id)
    mgr.record_message({"role": "user", "content": "find the needle in the haystack"})
    mgr.record_command("grep -r needle .")
    mgr.record_execution("grep -r needle .", 0, "src/a.py: needle = 1\n")
    mgr.end_session()
    ids.append(mgr.start_session("beta", cwd="/w").session_id)
    for i in range(5):
        mgr.record_message({"role": "assistant", "content": f"step {i} of the plan"})
    mgr.pause_session()
    ids.append(mgr.start_session("alpha", cwd="/v").session_id)
    mgr.record_message({"role": "user", "content": "a second needle, in alpha again"})
    return ids, mgr  # still writing


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[MemoryStore, FileStore, list[str], list[str]]]:
    memory, files = MemoryStore(), FileStore(Home(tmp_path / "home"))
    (mids, mlive), (fids, flive) = _record(memory), _record(files)
    yield memory, files, mids, fids
    mlive.close()
    flive.close()


def _plain(value: object) -> object:
    """A struct as builtins, without what differs between two recordings (ids, times, paths)."""
    data = msgspec.to_builtins(value)
    drop = {"session_id", "start_time", "end_time", "last_activity", "ts", "path", "home"}
    drop |= {"duration_s", "size_bytes", "log_bytes", "oldest", "newest", "offset"}
    drop |= {"writer_pid", "writer_host", "data", "last_event_time"}

    def clean(x: object) -> object:
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items() if k not in drop}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    return clean(data)


def test_ls_lists_a_memory_store_as_the_files(
    pair: tuple[MemoryStore, FileStore, list[str], list[str]],
) -> None:
    memory, files, mids, _ = pair
    rows = list_sessions(memory)
    assert [r.session_id for r in rows] == mids[::-1]  # most recently active first
    assert [(r.project_name, r.state, r.message_count) for r in rows] == [
        ("alpha", "live", 1),
        ("beta", "paused", 5),
        ("alpha", "completed", 1),
    ]
    assert _plain(rows) == _plain(list_sessions(files))
    assert [r.session_id for r in list_sessions(memory, project="beta")] == [mids[1]]
    assert [r.session_id for r in list_sessions(memory, states=["completed"])] == [mids[0]]
    assert rows[2].size_bytes == memory.head(mids[0]).offset
    assert archived_summaries(memory) == []  # only a home keeps archives


def test_live_and_crashed_on_a_memory_store() -> None:
    store = MemoryStore()
    sid = new_session_id()
    writer = store.open_writer(sid, first=SessionStarted(1, sid, 0, _NOW, project_name="p"))
    [row] = list_sessions(store)
    assert row.session_id == sid and row.state == "live" and row.writer_pid is not None
    writer.close()  # gone without a pause or an end: its writer died
    assert list_sessions(store)[0].state == "crashed"
    assert list_sessions(store, states=["active"])[0].session_id == sid


def test_a_grown_log_is_listed_again(
    pair: tuple[MemoryStore, FileStore, list[str], list[str]],
) -> None:
    memory, _, mids, _ = pair
    assert list_sessions(memory, project="beta")[0].message_count == 5
    mgr = SessionManager(store=memory)
    mgr.resume_session(mids[1])
    mgr.record_message({"role": "user", "content": "one more"})
    assert list_sessions(memory, project="beta")[0].message_count == 6
    mgr.close()


def test_search_finds_the_same_hits_on_both(
    pair: tuple[MemoryStore, FileStore, list[str], list[str]],
) -> None:
    memory, files, mids, _ = pair
    result = search(memory, "needle")
    assert result.sessions_searched == 3 and not result.issues and not result.errors
    assert [(h.session_id, h.kind, h.field) for h in result.hits] == [
        (mids[2], "message", "content"),
        (mids[0], "message", "content"),
        (mids[0], "command", "command"),
        (mids[0], "execution", "command"),
        (mids[0], "execution", "output"),
    ]
    for narrow in (True, False):  # the files narrow lines first; the hits do not change
        assert _plain(search(files, "needle", narrow=narrow).hits) == _plain(result.hits)
    assert _plain(search(memory, "NEEDLE", ignore_case=True).hits) == _plain(result.hits)
    assert [h.session_id for h in search(memory, "needle", session_ids=[mids[0]]).hits] == [
        mids[0]
    ] * 4
    near = hit_context(memory, result.hits[:1], 1)
    assert [ev.kind for ev in near[(mids[2], 1)]] == ["sessionstarted"]


def test_verify_checks_a_memory_store(
    pair: tuple[MemoryStore, FileStore, list[str], list[str]],
) -> None:
    memory, files, mids, fids = pair
    reports = list(verify_sessions(memory, memory.session_ids()))
    assert [r.ok for r in reports] == [True, True, True]
    assert [r.state for r in reports] == ["completed", "paused", "live"]
    assert reports[0].path == f"memory:{mids[0]}" or mids[0] in reports[0].path
    assert _plain(reports) == _plain(list(verify_sessions(files, files.session_ids())))
    # A damaged record (a rewrite may store any bytes) is reported as in a file.
    for store, sid in ((memory, mids[1]), (files, fids[1])):
        records = [ln for _, ln in store.open_cursor(sid).read_with_lines()]
        records[2] = records[2].replace(b"step 1", b"step X")
        store.rewrite(sid, [r.rstrip(b"\n") for r in records])
    bad = verify_session(memory, mids[1])
    assert not bad.ok and bad.state == "damaged"
    assert [e.kind for e in bad.errors] == ["corrupt", "seq-gap"] and bad.errors[0].line == 3
    assert _plain(bad) == _plain(verify_session(files, fids[1]))
    missing = verify_session(memory, "01a20c00-0000-7000-8000-000000000000")
    assert not missing.ok and missing.errors[0].kind == "unreadable"


def test_info_counts_a_memory_store(
    pair: tuple[MemoryStore, FileStore, list[str], list[str]],
) -> None:
    memory, files, _, _ = pair
    facts = journal_info(memory)
    assert facts.home == "memory:" and facts.exists and facts.sessions == 3
    assert facts.states == {"completed": 1, "live": 1, "paused": 1}
    assert facts.log_bytes == sum(memory.head(s).offset for s in memory.session_ids())
    assert facts.cache_bytes == 0 and facts.torn_files == 0 and facts.index is None
    on_files = journal_info(files)
    assert (on_files.sessions, on_files.states) == (facts.sessions, facts.states)


def test_load_reads_a_memory_store(
    pair: tuple[MemoryStore, FileStore, list[str], list[str]],
) -> None:
    memory, files, mids, fids = pair
    session, report = load_session_with_report(mids[1], store=memory)
    assert session.message_count == 5 and report.events == 7 and not report.issues
    assert report.offset == memory.head(mids[1]).offset
    early = load_session(mids[1], store=memory, upto_seq=3)
    assert early.message_count == 3
    same = load_session(fids[1], files.home, upto_seq=3)
    assert _plain(early.to_dict()) == _plain(same.to_dict())


def _follow(follower: Follower) -> tuple[queue.Queue[object], threading.Thread]:
    out: queue.Queue[object] = queue.Queue()

    def run() -> None:
        try:
            for item in follower:
                out.put(item)
        finally:
            out.put(StopIteration)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return out, thread


def _events(out: queue.Queue[object], n: int) -> Iterator[FollowedEvent]:
    for _ in range(n):
        item = out.get(timeout=WAIT_S)
        assert not isinstance(item, FollowNotice), item
        assert isinstance(item, FollowedEvent), item
        yield item


def test_follow_watches_a_memory_store() -> None:
    store = MemoryStore()
    mgr = SessionManager(store=store)
    sid = mgr.start_session("tailed").session_id
    mgr.record_message({"role": "user", "content": "before"})
    follower = Follower(store, backlog=10)
    out, thread = _follow(follower)
    assert follower.ready.wait(WAIT_S)
    backlog = [(e.session_id, e.event.seq) for e in _events(out, 2)]
    assert backlog == [(sid, 0), (sid, 1)]
    mgr.record_message({"role": "user", "content": "after"})  # seen through MemoryStore.watch
    [live] = _events(out, 1)
    assert live.event.seq == 2 and live.project_name == "tailed"
    assert live.line.endswith(b"\n") and b'"after"' in live.line
    other = SessionManager(store=store)
    new = other.start_session("second").session_id  # a session created while following
    [first] = _events(out, 1)
    assert (first.session_id, first.event.seq) == (new, 0)
    follower.stop()
    thread.join(WAIT_S)
    assert not thread.is_alive()
    mgr.close()
    other.close()


def test_follow_polls_a_memory_store_and_stops_when_it_ended() -> None:
    store = MemoryStore()
    mgr = SessionManager(store=store)
    sid = mgr.start_session("polled").session_id
    follower = Follower(store, [sid], backlog=0, force_polling=True, stop_when_ended=True)
    follower.poll_delay_ms = 5
    out, thread = _follow(follower)
    assert follower.ready.wait(WAIT_S)
    mgr.record_message({"role": "user", "content": "x"})
    mgr.end_session()
    assert [e.event.seq for e in _events(out, 2)] == [1, 2]
    assert out.get(timeout=WAIT_S) is StopIteration  # every followed session ended
    thread.join(WAIT_S)


def test_follow_notices_a_rewrite_and_a_removal_on_a_memory_store() -> None:
    store = MemoryStore()
    mgr = SessionManager(store=store)
    sid = mgr.start_session("r").session_id
    mgr.record_message({"role": "user", "content": "one"})
    mgr.pause_session()
    follower = Follower(store, backlog=0, force_polling=True)
    follower.poll_delay_ms = 5
    out, thread = _follow(follower)
    assert follower.ready.wait(WAIT_S)
    records = [ln.rstrip(b"\n") for _, ln in store.open_cursor(sid).read_with_lines()]
    store.rewrite(sid, records)  # a new epoch holding the same events: none is repeated
    mgr.resume_session(sid)
    mgr.record_message({"role": "user", "content": "two"})
    [ev] = _events(out, 1)
    assert ev.event.seq == 3  # the resume (seq 2) and the message, once each
    mgr.pause_session()
    store.remove(sid)
    gone = out.get(timeout=WAIT_S)
    while isinstance(gone, FollowedEvent):  # the pause, then the notice
        gone = out.get(timeout=WAIT_S)
    assert isinstance(gone, FollowNotice) and "was removed" in gone.message
    follower.stop()
    thread.join(WAIT_S)
