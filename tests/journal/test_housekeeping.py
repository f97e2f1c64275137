"""Titling, forking and deleting sessions (journal/housekeeping.py) through the manager."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from p8j.journal import (
    CorruptLineError,
    Home,
    InvalidEventError,
    JournalIOError,
    Session,
    SessionLockedError,
    SessionManager,
    SessionNotFoundError,
    SessionStateError,
    SessionTitled,
)
from p8j.journal.cache.catalog import list_summaries
from p8j.journal.cache.snapshots import snapshot_path
from p8j.journal.housekeeping import delete_session, resolve_session_ref
from p8j.journal.store.fs import layout, read_events
from p8j.journal.store.fs.syscalls import Storage
from p8j.replay import load_session


def _completed(mgr: SessionManager, *texts: str) -> str:
    sid = mgr.start_session("proj", {"k": 1}).session_id
    for text in texts:
        mgr.record_message({"role": "user", "content": text})
    mgr.record_command("ls")
    mgr.end_session()
    return sid


# -- titles ------------------------------------------------------------------------------


def test_title_of_the_current_session_is_an_event_and_the_latest_wins(
    mgr: SessionManager, home: Home
) -> None:
    sid = mgr.start_session("proj").session_id
    mgr.record_message({"role": "user", "content": "first words"})
    assert mgr.set_title("Named") == 2
    mgr.set_title("Renamed")
    assert mgr.current_session is not None and mgr.current_session.title == "Renamed"
    mgr.pause_session()
    assert load_session(sid, home) == mgr.current_session
    [summary] = list_summaries(home)
    assert summary.title == "Renamed"  # not the first user message any more


def test_a_completed_session_can_be_titled_and_listing_sees_it(
    mgr: SessionManager, home: Home
) -> None:
    sid = _completed(mgr, "hello")
    assert list_summaries(home)[0].title == "hello"  # cached: completed, same inode
    seq = mgr.set_title("After the fact", sid[:10])
    events, cursor = read_events(home.log_path(sid), session_id=sid)
    assert isinstance(events[-1], SessionTitled) and events[-1].seq == seq
    assert cursor.torn is None and not cursor.issues
    assert list_summaries(home)[0].title == "After the fact"
    assert mgr.current_session is not None and mgr.current_session.title == "After the fact"
    assert load_session(sid, home) == mgr.current_session


def test_a_paused_session_is_titled_by_appending_and_stays_resumable(
    mgr: SessionManager, home: Home
) -> None:
    sid = mgr.start_session("proj").session_id
    mgr.record_message({"role": "user", "content": "hello"})
    mgr.pause_session()
    list_summaries(home)  # cached before the title
    inode = home.log_path(sid).stat().st_ino
    SessionManager(home).set_title("From elsewhere", sid)
    assert home.log_path(sid).stat().st_ino == inode  # appended, not rewritten
    assert list_summaries(home)[0].title == "From elsewhere"
    resumed = mgr.resume_session(sid)
    assert resumed.title == "From elsewhere" and resumed.status == "active"
    mgr.end_session()
    assert load_session(sid, home) == mgr.current_session


def test_a_title_is_written_before_the_first_message_and_kept(
    mgr: SessionManager, home: Home
) -> None:
    mgr.start_session("proj")
    mgr.set_title("Chosen first")
    mgr.record_message({"role": "user", "content": "not the title"})
    mgr.end_session()
    assert list_summaries(home)[0].title == "Chosen first"


@pytest.mark.parametrize("bad", ["", "   ", "x" * 1001, 3, None])
def test_bad_titles_are_refused(mgr: SessionManager, bad: Any) -> None:
    mgr.start_session("proj")
    with pytest.raises(InvalidEventError):
        mgr.set_title(bad)
    assert mgr.current_session is not None and mgr.current_session.last_seq == 0


def test_title_without_a_session_is_a_state_error(mgr: SessionManager) -> None:
    with pytest.raises(SessionStateError):
        mgr.set_title("x")


def test_a_live_session_cannot_be_titled_from_elsewhere(mgr: SessionManager, home: Home) -> None:
    sid = mgr.start_session("proj").session_id
    with pytest.raises(SessionLockedError):
        SessionManager(home).set_title("x", sid)


def test_a_torn_log_is_not_titled(mgr: SessionManager, home: Home) -> None:
    sid = mgr.start_session("proj").session_id
    mgr.pause_session()
    with open(home.log_path(sid), "ab") as f:
        f.write(b'{"v":1,"sess')
    with pytest.raises(CorruptLineError, match="torn"):
        SessionManager(home).set_title("x", sid)


def test_latest_is_the_most_recently_active_session(mgr: SessionManager, home: Home) -> None:
    older = mgr.start_session("older").session_id
    mgr.pause_session()
    newer = _completed(mgr, "x")
    assert resolve_session_ref(home, "latest") == newer
    assert layout.resolve_session_ref(home, "latest") == newer
    mgr.set_title("a title is not activity", older)  # journal/fidelity.py
    assert resolve_session_ref(home, "latest") == newer
    mgr.resume_session(older)
    mgr.record_message({"role": "user", "content": "touched last"})
    mgr.pause_session()
    assert resolve_session_ref(home, "latest") == older  # not the newest started
    assert layout.resolve_session_ref(home, "latest") == newer  # the store knows only ids
    assert mgr.resume_session("latest").session_id == older
    assert load_session("latest", home).session_id == older


def test_a_new_session_is_more_recently_active_than_the_one_it_paused(
    mgr: SessionManager, home: Home
) -> None:
    a = mgr.start_session("a").session_id
    b = mgr.start_session("b").session_id  # pauses a first
    paused_a = read_events(home.log_path(a), session_id=a)[0][-1]
    started_b = read_events(home.log_path(b), session_id=b)[0][0]
    assert paused_a.ts <= started_b.ts
    assert resolve_session_ref(home, "latest") == b


def test_latest_in_an_empty_home(home: Home) -> None:
    with pytest.raises(SessionNotFoundError, match="no sessions"):
        resolve_session_ref(home, "latest")


# -- forks -------------------------------------------------------------------------------


def test_fork_copies_history_up_to_a_seq_and_is_resumable(mgr: SessionManager, home: Home) -> None:
    parent = _completed(mgr, "one", "two", "three")
    child = mgr.fork_session(parent, at_seq=2)
    assert child != parent
    forked = load_session(child, home)
    assert forked.status == "paused"
    assert forked.forked_from == parent and forked.forked_at_seq == 2
    assert [m["content"] for m in forked.conversation_history] == ["one", "two"]
    assert forked.command_history == []
    assert forked.start_time == load_session(parent, home).start_time
    assert Session.from_dict(forked.to_dict()) == forked
    resumed = mgr.resume_session(child)
    mgr.record_message({"role": "user", "content": "four"})
    mgr.end_session()
    assert resumed.session_id == child
    assert [m["content"] for m in load_session(child, home).conversation_history][-1] == "four"
    assert load_session(parent, home).message_count == 3  # the parent is untouched
    rows = {s.session_id: s for s in list_summaries(home)}
    assert rows[child].forked_from == parent and rows[parent].forked_from is None


def test_fork_at_zero_and_until_a_time(mgr: SessionManager, home: Home) -> None:
    parent = _completed(mgr, "one", "two")
    at_zero = load_session(mgr.fork_session(parent, at_seq=0), home)
    assert at_zero.conversation_history == [] and at_zero.forked_at_seq == 0
    assert "forked_at_seq" in at_zero.to_dict()
    assert Session.from_dict(at_zero.to_dict()) == at_zero
    whole = load_session(parent, home)
    assert whole.last_event_time is not None
    everything = load_session(mgr.fork_session(parent, until=whole.last_event_time), home)
    assert everything.message_count == 2 and everything.command_count == 1
    assert everything.forked_at_seq == whole.last_seq
    with pytest.raises(InvalidEventError, match="began after"):
        mgr.fork_session(parent, until=whole.start_time - timedelta(seconds=1))
    for bad in (-1, 99):
        with pytest.raises(InvalidEventError, match="--at"):
            mgr.fork_session(parent, at_seq=bad)


def test_a_live_session_can_be_forked(mgr: SessionManager, home: Home) -> None:
    sid = mgr.start_session("proj").session_id
    mgr.record_message({"role": "user", "content": "so far"})
    child = SessionManager(home).fork_session(sid)
    assert load_session(child, home).conversation_history == [{"role": "user", "content": "so far"}]


# -- deleting ----------------------------------------------------------------------------


def _with_derived(home: Home, sid: str) -> list[Path]:
    snap = snapshot_path(home, sid)
    snap.parent.mkdir(parents=True, exist_ok=True)
    snap.write_bytes(b"snapshot")
    side = home.torn_dir / f"{sid}.0.torn"
    side.write_bytes(b"torn bytes")
    return [home.log_path(sid), snap, side, home.lock_path(sid)]


def test_delete_removes_log_caches_sidecars_and_lock(mgr: SessionManager, home: Home) -> None:
    keep = _completed(mgr, "keep me")
    sid = _completed(mgr, "remove me")
    paths = _with_derived(home, sid)
    dry = mgr.delete_session(sid, dry_run=True)
    assert dry.dry_run and [f.kind for f in dry.removed] == ["log", "snapshot", "sidecar", "lock"]
    assert all(p.exists() for p in paths)
    report = mgr.delete_session(sid[:24])  # a prefix; 12 characters are only the millisecond
    assert [f.path for f in report.removed] == [str(p) for p in paths]
    assert report.bytes_freed == sum(f.size for f in dry.removed)
    assert not any(p.exists() for p in paths)
    assert [s.session_id for s in list_summaries(home)] == [keep]
    assert mgr.current_session is None


def test_delete_refuses_a_live_session(mgr: SessionManager, home: Home) -> None:
    sid = mgr.start_session("proj").session_id
    with pytest.raises(SessionLockedError):
        SessionManager(home).delete_session(sid)
    assert home.log_path(sid).exists()


class _FailingUnlink(Storage):
    def __init__(self, failing: str) -> None:
        self.failing = failing

    def unlink(self, path: str | os.PathLike[str], *, dir_fd: int | None = None) -> None:
        if os.fspath(path).endswith(self.failing):
            raise PermissionError(13, "Permission denied")
        super().unlink(path, dir_fd=dir_fd)


def test_a_failed_delete_is_not_reported_and_the_log_goes_first(
    mgr: SessionManager, home: Home
) -> None:
    sid = _completed(mgr, "x")
    paths = _with_derived(home, sid)
    with pytest.raises(JournalIOError, match="cannot remove"):
        delete_session(home, sid, storage=_FailingUnlink(".jsonl"))
    assert all(p.exists() for p in paths)  # the log could not go: nothing else went
    with pytest.raises(JournalIOError, match="cannot remove"):
        delete_session(home, sid, storage=_FailingUnlink(".torn"))
    # The log went first; what is left is an orphan of a session that no longer exists.
    assert not home.log_path(sid).exists()
    assert paths[2].exists()
