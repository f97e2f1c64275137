"""SessionManager over the store seam: the same behaviour on the file store and a MemoryStore."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from p8j.journal import (
    Event,
    Home,
    SessionLockedError,
    SessionManager,
    SessionNotFoundError,
    SessionResumed,
    SessionStateError,
)
from p8j.journal.codec import encode_event
from p8j.journal.errors import StoreConfigError
from p8j.journal.store.base import SessionStore
from p8j.journal.store.fs.store import FileStore
from p8j.journal.store.memory import MemoryStore
from p8j.journal.store.nats import NatsStore
from p8j.journal.store.select import ENV_VAR
from p8j.replay import load_session, load_session_with_report
from p8j.replay.export import raw_lines, read_session_events


@pytest.fixture(params=["file", "memory", "nats"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    """Each test runs on the journal files, in memory and on a real JetStream server."""
    if request.param == "file":
        yield FileStore(Home(tmp_path / "home"))
    elif request.param == "memory":
        yield MemoryStore()
    else:
        url = request.getfixturevalue("nats_url")
        with NatsStore(url) as nats_store:
            yield nats_store


@pytest.fixture(autouse=True)
def _no_env_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def _events(store: SessionStore, sid: str) -> list[object]:
    return list(store.open_cursor(sid).read())


def test_start_record_pause_resume_end_and_load(store: SessionStore) -> None:
    mgr = SessionManager(store=store)
    assert mgr.store is store
    s = mgr.start_session("proj", {"k": 1}, cwd="/w")
    sid = s.session_id
    assert mgr.record_message({"role": "user", "content": "hi"}) == 1
    assert mgr.record_command("make", cwd="/w") == 2
    assert mgr.record_execution("make", 0, "ok\n", duration_s=0.5) == 3
    assert mgr.update_metadata(branch="main") == 4
    mgr.pause_session("lunch")
    assert store.holder(sid) is None  # the lease is released
    again = SessionManager(store=store)
    resumed = again.resume_session(sid[:8])  # a prefix resolves through the store
    assert resumed.status == "active"
    assert resumed.conversation_history == [{"role": "user", "content": "hi"}]
    assert resumed.metadata == {"k": 1, "branch": "main"}
    again.record_message({"role": "assistant", "content": "hello"})
    ended = again.end_session("done")
    assert ended.status == "completed"
    loaded = load_session(sid, store=store)
    assert loaded == ended
    assert load_session("latest", store=store, upto_seq=1).conversation_history == [
        {"role": "user", "content": "hi"}
    ]
    with pytest.raises(SessionStateError, match="completed"):
        again.resume_session(sid)


def test_one_writer_per_session_through_the_store(store: SessionStore) -> None:
    mgr = SessionManager(store=store)
    sid = mgr.start_session("p").session_id
    with pytest.raises(SessionLockedError):
        SessionManager(store=store).resume_session(sid)
    mgr.close()  # pauses
    assert load_session(sid, store=store).status == "paused"


def test_a_crashed_writer_is_recovered_on_resume(store: SessionStore) -> None:
    mgr = SessionManager(store=store)
    sid = mgr.start_session("crashy").session_id
    mgr.record_command("make")
    writer = mgr._writer  # what a dead process leaves: no pause, the lease gone
    assert writer is not None
    writer.close(sync=False)
    mgr._writer = None
    fresh = SessionManager(store=store)
    session = fresh.resume_session("latest")
    assert session.command_history == ["make"]
    last = _events(store, sid)[-1]
    assert isinstance(last, SessionResumed) and last.recovered
    fresh.end_session()
    assert load_session(sid, store=store).status == "completed"


def test_list_sessions_and_ids_come_from_the_store(store: SessionStore) -> None:
    mgr = SessionManager(store=store)
    first = mgr.start_session("one").session_id
    mgr.record_message({"role": "user", "content": "the title"})
    second = mgr.start_session("two").session_id  # pauses the first
    mgr.end_session()
    listed = mgr.list_sessions()
    assert [s.session_id for s in listed] == [second, first]
    assert [s.status for s in listed] == ["completed", "paused"]
    ids = [second, first]
    assert listed[1].title == "the title" and listed[1].message_count == 1
    # The logs' bytes as a file holds them, whatever the store's offsets count (NATS: seqs).
    sizes = [sum(len(line) for _, line in store.open_cursor(s).read_with_lines()) for s in ids]
    assert [s.size_bytes for s in listed] == sizes
    assert store.session_ids() == [first, second]


def test_large_payloads_go_to_the_stores_blobs(store: SessionStore) -> None:
    mgr = SessionManager(store=store, blob_threshold=64, redact=False)
    sid = mgr.start_session("big").session_id
    output = "x" * 1000
    mgr.record_execution("cat big", 0, output)
    mgr.pause_session()
    assert load_session(sid, store=store).execution_histories[0]["output"] == output
    _, report = load_session_with_report(sid, store=store)
    assert report.issues == []


def test_unknown_refs_raise_through_the_store(store: SessionStore) -> None:
    mgr = SessionManager(store=store)
    with pytest.raises(SessionNotFoundError):
        mgr.resume_session("latest")


def test_store_selection_argument_over_environment_over_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home(tmp_path / "home")
    by_home = SessionManager(home)
    assert isinstance(by_home.store, FileStore) and by_home.home.path == home.path
    monkeypatch.setenv(ENV_VAR, "memory:")
    by_env = SessionManager(home)
    assert isinstance(by_env.store, MemoryStore)
    by_env.start_session("kept in memory")
    assert not home.sessions_dir.exists() or home.session_ids() == []
    explicit = SessionManager(home, store=str(tmp_path / "other"))
    assert isinstance(explicit.store, FileStore)
    assert explicit.home.path == tmp_path / "other"
    with pytest.raises(StoreConfigError, match="no home directory"):
        _ = by_env.home
    monkeypatch.setenv(ENV_VAR, "nats://example:4222?colour=red")
    with pytest.raises(StoreConfigError, match=ENV_VAR):
        SessionManager(home)


def test_export_reads_events_and_raw_lines_through_the_store(store: SessionStore) -> None:
    mgr = SessionManager(store=store, redact=False)
    sid = mgr.start_session("export").session_id
    mgr.record_message({"role": "user", "content": "line one"})
    mgr.pause_session()
    events, report = read_session_events(None, sid[:10], store=store)
    assert [type(e).__name__ for e in events] == [
        "SessionStarted",
        "MessageRecorded",
        "SessionPaused",
    ]
    assert report.events == 3 and report.offset == store.head(sid).offset
    lines, cursor = raw_lines(None, sid, store=store)
    raw = list(lines)
    assert [encode_event(e) for e in events if isinstance(e, Event)] == raw
    assert cursor.issues == [] and b"".join(raw) == b"".join(
        line for _, line in store.open_cursor(sid).read_with_lines()
    )
