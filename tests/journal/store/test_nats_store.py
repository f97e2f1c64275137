"""The NATS store beyond the contract: one writer enforced by JetStream, dedup, retries, crashes.

Every test runs against a real nats-server (tests/natsd.py); two-process tests
run tests/child_writer.py with ``P8J_STORE`` pointing at the test's stream.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats.errors
import nats.js.errors
import pytest
from journal_helpers import expect_lines, kill_and_reap, spawn_child, wait_until
from nats_helpers import drop, fresh_url
from natsd import NatsServer, start_server

from p8j.journal import (
    MessageRecorded,
    SessionLockedError,
    SessionManager,
    SessionPaused,
    SessionResumed,
)
from p8j.journal.codec import encode_event
from p8j.journal.errors import JournalIOError, StoreConfigError
from p8j.journal.ids import new_session_id
from p8j.journal.store import open_store
from p8j.journal.store.contract import message, start
from p8j.journal.store.nats import NatsStore
from p8j.journal.store.nats.conn import Conflict
from p8j.replay import load_session


@pytest.fixture
def store(nats_url: str) -> Iterator[NatsStore]:
    """A NATS store on a stream of its own."""
    with NatsStore(nats_url) as s:
        yield s


def _seqs(store: NatsStore, sid: str) -> list[int]:
    return [e.seq for e in store.open_cursor(sid).read()]  # verifies seq order, no gaps


def _drop_lease(store: NatsStore, sid: str) -> None:
    """What an expired lease looks like to a second writer (the first is still alive)."""

    async def run() -> None:
        conn = await store.aconn()
        await conn.js.purge_stream(
            f"KV_{conn.config.leases_bucket}", subject=f"$KV.{conn.config.leases_bucket}.{sid}"
        )

    store.call(run())


def test_open_store_selects_nats_and_round_trips_its_url(nats_url: str) -> None:
    store = open_store(nats_url)
    assert isinstance(store, NatsStore)
    again = open_store(store.url)
    assert isinstance(again, NatsStore) and again.config == store.config
    store.close()
    again.close()


def test_without_nats_py_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nats", None)  # import nats -> ImportError
    with pytest.raises(StoreConfigError, match=r"p8j\[nats\]"):
        open_store("nats://127.0.0.1:4222")


def test_a_second_writer_past_the_lease_is_refused_by_the_server(store: NatsStore) -> None:
    sid = new_session_id()
    first = store.open_writer(sid, first=start(sid))
    _drop_lease(store, sid)  # as if the first writer's lease had expired under it
    second = store.open_writer(sid)
    first.append(message(sid, 1, "from the first"))
    with pytest.raises(SessionLockedError, match="another writer"):
        second.append(message(sid, 1, "from the second"))
    assert second.failed  # it refuses everything after that
    first.append(message(sid, 2))
    first.close()
    second.close()
    assert _seqs(store, sid) == [0, 1, 2]
    got = list(store.open_cursor(sid).read())[1]
    assert isinstance(got, MessageRecorded) and got.content == "from the first"


def test_racing_writers_past_the_lease_never_interleave(store: NatsStore) -> None:
    sid = new_session_id()
    store.open_writer(sid, first=start(sid)).close()
    writers = []
    for _ in range(2):
        writers.append(store.open_writer(sid))
        _drop_lease(store, sid)
    wins: list[list[int]] = [[], []]
    refused: list[int] = []
    go = threading.Event()

    def run(i: int) -> None:
        go.wait(10)
        for seq in range(1, 101):
            try:
                writers[i].append(message(sid, seq, f"writer {i}"))
            except SessionLockedError:
                refused.append(i)
                return
            wins[i].append(seq)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(60)
    for w in writers:
        w.close()
    events = list(store.open_cursor(sid).read())
    assert [e.seq for e in events] == list(range(len(events)))  # 0 gaps, 0 duplicates
    assert refused, "both writers appended to one session"
    # Every acknowledged append is in the log, as that writer's, once.
    owner = {e.seq: e.content for e in events if isinstance(e, MessageRecorded)}
    for i in range(2):
        assert all(owner[seq] == f"writer {i}" for seq in wins[i])
    assert len(wins[0]) + len(wins[1]) == len(events) - 1


def test_a_retry_after_a_lost_ack_is_stored_once(store: NatsStore) -> None:
    """The first try reached the server, its ack did not: the retry is deduplicated."""
    sid = new_session_id()
    w = store.open_writer(sid, first=start(sid))
    ev = message(sid, 1, "once")
    record = encode_event(ev)[:-1]
    subject = store.config.subject(sid)

    async def first_try() -> int:
        conn = await store.aconn()
        headers = {
            "Nats-Msg-Id": f"{sid}:1",
            "Nats-Expected-Last-Subject-Sequence": str(w.position.offset),
        }
        ack = await conn.js.publish(subject, record, headers=headers)
        return int(ack.seq)

    stored_at = store.call(first_try())
    assert w.append(ev) == record + b"\n"  # the retry: same Msg-Id, same expected seq
    assert w.position.offset == stored_at
    w.append(message(sid, 2))
    w.close()
    assert _seqs(store, sid) == [0, 1, 2]


def test_a_reused_msg_id_with_other_bytes_is_a_conflict(store: NatsStore) -> None:
    sid = new_session_id()
    w = store.open_writer(sid, first=start(sid))
    w.append(message(sid, 1, "original"))
    w.close()
    with pytest.raises(Conflict):
        store.publish(store.config.subject(sid), b"{}", f"{sid}:1", None)
    assert _seqs(store, sid) == [0, 1]


def test_wrong_last_sequence_on_a_retry_compares_the_stored_msg_id(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the dedup window a retry meets "wrong last sequence": ours if the Msg-Id is."""
    sid = new_session_id()
    w = store.open_writer(sid, first=start(sid))
    conn = store.call(store.aconn())
    real = conn.js.publish
    calls: list[int] = []

    async def flaky(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            await real(*args, **kw)  # stored, then the ack is lost
            raise nats.errors.TimeoutError
        raise nats.js.errors.APIError(code=400, err_code=10071, description="wrong last seq")

    monkeypatch.setattr(conn.js, "publish", flaky)
    w.append(message(sid, 1, "mine"))
    assert len(calls) == 2
    monkeypatch.setattr(conn.js, "publish", real)
    w.append(message(sid, 2))
    w.close()
    assert _seqs(store, sid) == [0, 1, 2]


def test_appends_ride_out_a_server_restart(tmp_path: Path, natsd: NatsServer) -> None:
    server = start_server(tmp_path / "own")  # its own server: this test kills it
    url = fresh_url(server)
    try:
        with NatsStore(url) as store:
            sid = new_session_id()
            w = store.open_writer(sid, first=start(sid))
            w.append(message(sid, 1))
            server.kill()
            done: list[int] = []
            t = threading.Thread(target=lambda: done.append(len(w.append(message(sid, 2)))))
            t.start()
            server.start()  # same ports and store dir: the client reconnects
            t.join(30)
            assert done, "the append did not return after the restart"
            w.close()
            assert _seqs(store, sid) == [0, 1, 2]
    finally:
        server.stop()


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "P8J_STORE": url, "PYTHONPATH": os.pathsep.join(sys.path)}


def test_a_second_process_is_refused_while_the_first_holds(natsd: NatsServer) -> None:
    url = fresh_url(natsd)
    proc = spawn_child("hold", "unused-home", "new", env=_env(url))
    try:
        sid, pid = expect_lines(proc, "held", 1)[0].split()
        with pytest.raises(SessionLockedError) as info:
            SessionManager(store=url).resume_session(sid)
        assert info.value.pid == int(pid)
        assert proc.stdin is not None
        proc.stdin.close()
        expect_lines(proc, "released", 1)
        mgr = SessionManager(store=url)
        mgr.resume_session(sid)  # released at close: free at once
        mgr.end_session()
    finally:
        kill_and_reap(proc)
        drop(url)


def test_two_processes_racing_one_session_never_interleave(natsd: NatsServer) -> None:
    url = fresh_url(natsd)
    try:
        mgr = SessionManager(store=url)
        sid = mgr.start_session("race").session_id
        mgr.pause_session()
        writers, rounds, k = 2, 5, 10
        procs = [
            spawn_child("race", "unused-home", sid, str(rounds), str(k), env=_env(url))
            for _ in range(writers)
        ]
        try:
            for proc in procs:
                expect_lines(proc, "done", 1)
                assert proc.wait(timeout=60) == 0
        finally:
            for proc in procs:
                kill_and_reap(proc)
        with NatsStore(url) as store:
            events = list(store.open_cursor(sid).read())
        assert [e.seq for e in events] == list(range(2 + writers * rounds * (k + 2)))
        turns = events[2:]
        for at in range(0, len(turns), k + 2):
            turn = turns[at : at + k + 2]
            assert isinstance(turn[0], SessionResumed) and isinstance(turn[-1], SessionPaused)
            owners = {str(e.content).split()[0] for e in turn if isinstance(e, MessageRecorded)}
            assert owners == {str(turn[0].pid)}
    finally:
        drop(url)


def test_kill_9_a_writer_then_resume_once_its_lease_expires(natsd: NatsServer) -> None:
    url = fresh_url(natsd, lease=2)
    proc = spawn_child("write", "unused-home", "default", "7", env=_env(url))
    try:
        sid = expect_lines(proc, "sid", 1)[0]
        acked = [int(s) for s in expect_lines(proc, "seq", 20)]
        proc.kill()  # kill -9: no pause, no release
        proc.wait(20)
        with NatsStore(url) as store:
            assert store.holder(sid) is not None  # the dead writer's lease is still there
            with pytest.raises(SessionLockedError):
                SessionManager(store=store).resume_session(sid)
            wait_until(lambda: store.holder(sid) is None, 15, "the lease to expire")
            mgr = SessionManager(store=store)
            session = mgr.resume_session(sid)
            events = list(store.open_cursor(sid).read())
            last = events[-1]
            assert isinstance(last, SessionResumed) and last.recovered
            assert set(acked) <= {e.seq for e in events}  # every acknowledged event is there
            mgr.end_session()
            assert session.session_id == sid
            assert load_session(sid, store=store).status == "completed"
    finally:
        kill_and_reap(proc)
        drop(url)


def test_time_travel_and_blobs_over_nats(store: NatsStore) -> None:
    mgr = SessionManager(store=store, blob_threshold=64, redact=False)
    sid = mgr.start_session("tt").session_id
    mgr.record_message({"role": "user", "content": "one"})
    cut = mgr.record_message({"role": "user", "content": "two " + "z" * 500})
    mgr.record_message({"role": "user", "content": "three"})
    mgr.pause_session()
    then = load_session(sid, upto_seq=cut, store=store)
    assert [m["content"][:3] for m in then.conversation_history] == ["one", "two"]
    assert then.conversation_history[1]["content"] == "two " + "z" * 500
    assert len(load_session(sid, store=store).conversation_history) == 3


def test_watch_sees_another_stores_appends(store: NatsStore, nats_url: str) -> None:
    other = NatsStore(nats_url)
    try:
        watch = store.watch()
        sid = new_session_id()
        w = other.open_writer(sid, first=start(sid))
        w.append(message(sid, 1))
        seen: set[tuple[str, str]] = set()

        def both() -> bool:
            seen.update((c.kind, c.session_id) for c in watch.wait(0.1))
            return {("created", sid), ("appended", sid)} <= seen

        wait_until(both, 10, "created and appended")
        watch.close()
        w.close()
    finally:
        other.close()


def test_closing_a_store_stops_its_thread(nats_url: str) -> None:
    store = NatsStore(nats_url)
    assert store.session_ids() == []
    thread = store._loop._thread
    store.close()
    store.close()  # idempotent
    assert not thread.is_alive()  # close() joined it
    with pytest.raises(JournalIOError, match="closed"):
        store.session_ids()


def test_a_store_nobody_closes_stops_its_thread_when_collected(nats_url: str) -> None:
    mgr = SessionManager(store=nats_url)  # the manager opens (and owns) the store
    mgr.start_session("dropped")
    mgr.close()
    assert isinstance(mgr.store, NatsStore)
    thread = mgr.store._loop._thread
    assert thread.is_alive()
    del mgr
    gc.collect()
    thread.join(10)
    assert not thread.is_alive()


def test_heartbeats_keep_a_lease_past_its_ttl_through_a_503(
    natsd: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leader election's 503 on a heartbeat is a blip, not a lost lease."""
    from p8j.journal.store.nats.lease import Lease

    url = fresh_url(natsd, lease=1)  # beats every 1/3 s, expires 1 s after the last
    real = Lease._put
    failed: list[int] = []

    async def flaky(self: Lease, value: bytes, expected: int, op: str | None = None) -> int:
        if self.revision and not failed:  # the first heartbeat (not the acquire)
            failed.append(1)
            raise nats.js.errors.ServiceUnavailableError(code=503, description="no leader")
        return await real(self, value, expected, op)

    monkeypatch.setattr(Lease, "_put", flaky)
    try:
        with NatsStore(url) as store:
            sid = new_session_id()
            w = store.open_writer(sid, first=start(sid))
            deadline = time.monotonic() + 3.0  # three TTLs: only heartbeats keep it
            while time.monotonic() < deadline:
                assert store.holder(sid) is not None, "the lease expired under a live writer"
            assert failed and not w._lease.lost
            w.append(message(sid, 1))
            w.close()
            assert store.holder(sid) is None
    finally:
        drop(url)
