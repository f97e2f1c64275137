"""batch.py and `NatsWriter.append_many`: atomic batches keep every guarantee of one append.

A real nats-server (tests/natsd.py); faults are injected by wrapping the store's
client (`nc.request` for the commit, `nc.publish` for the other records).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats.errors
import pytest
from nats_helpers import fresh_url
from natsd import NatsServer, start_server

from p8j.journal import SessionLockedError
from p8j.journal.codec import encode_event
from p8j.journal.ids import new_session_id
from p8j.journal.store.contract import message, start
from p8j.journal.store.nats import NatsStore
from p8j.journal.store.nats.check import check_store, init_store
from p8j.journal.store.nats.conn import Conn


@pytest.fixture
def store(nats_url: str) -> Iterator[NatsStore]:
    """A NATS store on a stream of its own."""
    with NatsStore(nats_url) as s:
        yield s


def _conn(store: NatsStore) -> Conn:
    return store.call(store.aconn())


def _seqs(store: NatsStore, sid: str) -> list[int]:
    return [e.seq for e in store.open_cursor(sid).read()]  # verifies seq order, no gaps


def _stream_seqs(store: NatsStore, sid: str) -> list[int]:
    """The stream seqs of the session's messages (one per stored record)."""
    subject = store.config.subject(sid)
    return [s.seq for s in store.call(_conn(store).batch(subject, 1))]


def _is_commit(kw: dict[str, Any]) -> bool:
    return bool((kw.get("headers") or {}).get("Nats-Batch-Commit"))


def _count_commits(store: NatsStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    nc = _conn(store).nc
    assert nc is not None
    real = nc.request
    commits: list[int] = []

    async def request(subject: str, payload: bytes = b"", **kw: Any) -> Any:
        if _is_commit(kw):
            commits.append(int(kw["headers"]["Nats-Batch-Sequence"]))
        return await real(subject, payload, **kw)

    monkeypatch.setattr(nc, "request", request)
    return commits


def _set_atomic(store: NatsStore, on: bool) -> None:
    """Turn the stream's allow_atomic on or off (as an older or hand-made stream has it)."""

    async def run() -> None:
        conn = await store.aconn()
        info = await conn.js.stream_info(store.config.stream)
        info.config.allow_atomic = on
        await conn.js.update_stream(info.config)

    store.call(run())


def test_the_recommended_stream_takes_atomic_batches(store: NatsStore) -> None:
    conn = _conn(store)
    assert conn.atomic and conn.stream_config().allow_atomic
    report = check_store(store)
    assert report.stream is not None and report.stream["allow_atomic"] is True
    assert not [w for w in report.warnings if "allow_atomic" in w]


def test_append_many_sends_one_commit_per_thousand_records(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_session_id()
    w = store.open_writer(sid, first=start(sid))
    commits = _count_commits(store, monkeypatch)
    w.append_many([message(sid, s) for s in range(1, 1501)])
    assert commits == [1000, 500]
    assert w.position.offset == _stream_seqs(store, sid)[-1]
    w.close()
    assert _seqs(store, sid) == list(range(1501))


def test_a_batch_retried_after_a_lost_ack_is_stored_once(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first commit reached the server, its ack did not: the retry is not stored again."""
    sid = new_session_id()
    w = store.open_writer(sid, first=start(sid))
    nc = _conn(store).nc
    assert nc is not None
    real = nc.request
    commits: list[str] = []

    async def lossy(subject: str, payload: bytes = b"", **kw: Any) -> Any:
        reply = await real(subject, payload, **kw)
        if _is_commit(kw):
            commits.append(kw["headers"]["Nats-Batch-Id"])
            if len(commits) == 1:
                assert "error" not in json.loads(reply.data)  # stored...
                raise nats.errors.TimeoutError  # ...and the ack lost
            assert json.loads(reply.data)["error"]["err_code"] == 10201  # ids seen: refused
        return reply

    monkeypatch.setattr(nc, "request", lossy)
    events = [message(sid, s, f"m{s}") for s in range(1, 6)]
    assert w.append_many(events) == [encode_event(e) for e in events]
    assert len(commits) == 2 and commits[0] != commits[1]  # a new batch id per try
    stored = _stream_seqs(store, sid)
    assert len(stored) == 6 and w.position.offset == stored[-1] and not w.failed
    monkeypatch.setattr(nc, "request", real)
    w.append(message(sid, 6))
    w.close()
    assert _seqs(store, sid) == list(range(7))


def test_a_batch_that_lost_a_record_on_the_way_is_sent_again_whole(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_session_id()
    w = store.open_writer(sid, first=start(sid))
    nc = _conn(store).nc
    assert nc is not None
    real = nc.publish
    dropped: list[str] = []

    async def lossy(subject: str, payload: bytes = b"", *args: Any, **kw: Any) -> None:
        headers = kw.get("headers") or {}
        if headers.get("Nats-Batch-Sequence") == "2" and not dropped:
            dropped.append(headers["Nats-Batch-Id"])  # lost between client and server
            return
        await real(subject, payload, *args, **kw)

    monkeypatch.setattr(nc, "publish", lossy)
    w.append_many([message(sid, s) for s in range(1, 5)])
    assert dropped
    w.close()
    assert _seqs(store, sid) == [0, 1, 2, 3, 4] and len(_stream_seqs(store, sid)) == 5


def test_a_batch_rides_out_a_server_restart_mid_batch(tmp_path: Path, natsd: NatsServer) -> None:
    server = start_server(tmp_path / "own")  # its own server: this test kills it
    try:
        with NatsStore(fresh_url(server)) as store:
            sid = new_session_id()
            w = store.open_writer(sid, first=start(sid))
            nc = _conn(store).nc
            assert nc is not None
            real = nc.publish
            restarted = threading.Event()

            async def killing(subject: str, payload: bytes = b"", *args: Any, **kw: Any) -> None:
                headers = kw.get("headers") or {}
                if headers.get("Nats-Batch-Sequence") == "3" and not restarted.is_set():
                    restarted.set()
                    server.kill()  # records 1-2 reached it, the rest and the commit did not
                    threading.Thread(target=server.start).start()
                await real(subject, payload, *args, **kw)

            nc.publish = killing  # type: ignore[method-assign]
            w.append_many([message(sid, s) for s in range(1, 11)])
            assert restarted.is_set() and not w.failed
            nc.publish = real  # type: ignore[method-assign]
            w.close()
            assert _seqs(store, sid) == list(range(11))
            assert len(_stream_seqs(store, sid)) == 11
    finally:
        server.stop()


def test_a_second_writers_batch_is_refused_and_writes_nothing(store: NatsStore) -> None:
    sid = new_session_id()
    first = store.open_writer(sid, first=start(sid))
    _drop_lease(store, sid)  # as if the first writer's lease had expired under it
    second = store.open_writer(sid)
    first.append(message(sid, 1, "from the first"))
    with pytest.raises(SessionLockedError, match="another writer"):
        second.append_many([message(sid, s, "from the second") for s in range(1, 4)])
    assert second.failed
    first.append_many([message(sid, 2), message(sid, 3)])
    first.close()
    second.close()
    got = list(store.open_cursor(sid).read())
    assert [e.seq for e in got] == [0, 1, 2, 3]
    assert "from the second" not in repr(got)


def test_a_stream_without_atomic_batches_takes_them_one_at_a_time(
    nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with NatsStore(nats_url) as made:
        _conn(made)  # the stream exists
        _set_atomic(made, False)
    with NatsStore(nats_url) as store:
        assert not _conn(store).atomic
        assert [w for w in check_store(store).warnings if "allow_atomic" in w]
        sid = new_session_id()
        w = store.open_writer(sid, first=start(sid))
        commits = _count_commits(store, monkeypatch)
        w.append_many([message(sid, s) for s in range(1, 4)])
        assert commits == []
        w.close()
        assert _seqs(store, sid) == [0, 1, 2, 3]
        assert "allow_atomic" in init_store(store).updated  # init turns it on
    with NatsStore(nats_url) as store:
        assert _conn(store).atomic
        assert not [w for w in check_store(store).warnings if "allow_atomic" in w]


def test_atomic_batches_turned_off_under_a_writer_fall_back(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_session_id()
    w = store.open_writer(sid, first=start(sid))
    w.append_many([message(sid, 1), message(sid, 2)])
    _set_atomic(store, False)
    w.append_many([message(sid, 3), message(sid, 4)])  # refused as disabled: one at a time
    assert not _conn(store).atomic and not w.failed
    w.close()
    assert _seqs(store, sid) == [0, 1, 2, 3, 4]


def _drop_lease(store: NatsStore, sid: str) -> None:
    async def run() -> None:
        conn = await store.aconn()
        await conn.js.purge_stream(
            f"KV_{conn.config.leases_bucket}", subject=f"$KV.{conn.config.leases_bucket}.{sid}"
        )

    store.call(run())
