"""A read after a watched change gets the record even from a replica that lags (store.py).

The lag is made deterministic: the first batched direct get after the change
answers with nothing, as a replica that has not applied the record yet does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from journal_helpers import wait_until

from p8j.journal.codec import encode_event
from p8j.journal.errors import StalePositionError
from p8j.journal.ids import new_session_id
from p8j.journal.store.contract import message, start
from p8j.journal.store.nats import NatsStore, cursor, fetch
from p8j.journal.store.nats.conn import Conn, Stored


@pytest.fixture
def store(nats_url: str) -> Iterator[NatsStore]:
    """A NATS store on a stream of its own."""
    with NatsStore(nats_url) as s:
        yield s


def _lag_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the next read's batched direct get answer with nothing; the starts asked for."""
    real = fetch.fetch
    asked: list[int] = []

    async def lagging(conn: Conn, subject: str, start: int) -> Any:
        asked.append(start)
        if len(asked) == 1:
            return list[Stored]()
        return await real(conn, subject, start)

    monkeypatch.setattr(cursor, "fetch", lagging)
    return asked


def test_a_read_after_a_watched_append_waits_for_a_lagging_replica(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_session_id()
    writer = store.open_writer(sid, first=start(sid))
    cursor = store.open_cursor(sid)
    assert [e.seq for e in cursor.read()] == [0]
    keeper = store.watch([new_session_id()])  # the store's first watch keeps, not this one's
    watch = store.watch([sid])
    writer.append(message(sid, 1))
    wait_until(lambda: bool(watch.wait(0.1)), 10, "the watch to see the append")
    asked = _lag_once(monkeypatch)
    assert [e.seq for e in cursor.read()] == [1]  # not [] (then the follower's wait times out)
    assert asked.count(asked[0]) >= 2  # it asked again for the same record
    watch.close()
    keeper.close()
    writer.close()


def test_a_read_after_a_watched_append_takes_the_record_the_watch_received(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_session_id()
    writer = store.open_writer(sid, first=start(sid))
    watch = store.watch([sid])
    follower = store.open_cursor(sid)
    assert [e.seq for e in follower.read()] == [0]
    asked = _lag_once(monkeypatch)  # any direct get now would answer with nothing
    for seq in (1, 2):
        writer.append(message(sid, seq))
        wait_until(lambda: bool(watch.wait(0.1)), 10, "the watch to see the append")
        assert [e.seq for e in follower.read()] == [seq]
    assert asked == []  # no round trip: the records came with the watch
    assert follower.position == store.head(sid)
    watch.close()
    writer.close()


def test_a_read_without_a_watch_does_not_wait(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_session_id()
    writer = store.open_writer(sid, first=start(sid))
    cursor = store.open_cursor(sid)
    assert [e.seq for e in cursor.read()] == [0]
    writer.append(message(sid, 1))
    asked = _lag_once(monkeypatch)
    assert list(cursor.read()) == []  # nothing says the record is there: one read, no retry
    assert asked.count(asked[0]) == 1  # (the other get is the epoch check's, from seq 1)
    assert [e.seq for e in cursor.read()] == [1]
    writer.close()


def test_reading_appends_costs_no_epoch_lookup_and_a_rewrite_is_still_seen(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_session_id()
    writer = store.open_writer(sid, first=start(sid))
    cursor = store.open_cursor(sid)
    assert [e.seq for e in cursor.read()] == [0]
    lookups: list[str] = []
    real = store.first_seq

    def counted(session_id: str) -> int | None:
        lookups.append(session_id)
        return real(session_id)

    monkeypatch.setattr(store, "first_seq", counted)
    writer.append(message(sid, 1))
    assert [e.seq for e in cursor.read()] == [1]
    assert lookups == []  # one round trip for an append, as a follower reads it
    writer.append(message(sid, 2))
    writer.close()
    store.rewrite(sid, [encode_event(start(sid))[:-1], encode_event(message(sid, 1))[:-1]])
    with pytest.raises(StalePositionError):
        list(cursor.read())


def test_a_head_after_a_watched_append_waits_for_a_lagging_replica(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_session_id()
    writer = store.open_writer(sid, first=start(sid))
    watch = store.watch([sid])
    writer.append(message(sid, 1))
    wait_until(lambda: bool(watch.wait(0.1)), 10, "the watch to see the append")
    real = Conn.last
    asked: list[str] = []

    async def lagging(self: Conn, subject: str) -> Any:
        asked.append(subject)
        if len(asked) == 1:
            return None  # a replica that has not even the log yet
        return await real(self, subject)

    monkeypatch.setattr(Conn, "last", lagging)
    assert store.head(sid).offset == writer.position.offset  # not "no such session log"
    assert len(asked) >= 2
    watch.close()
    writer.close()
