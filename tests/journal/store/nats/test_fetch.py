"""fetch.py: batched direct gets read every record once, in order, or say what was lost.

The fallback without sinks (sink.py) is checked here against real direct gets.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from p8j.journal.errors import JournalIOError
from p8j.journal.ids import new_session_id
from p8j.journal.store.nats import NatsStore, fetch, sink
from p8j.journal.store.nats.conn import Stored
from p8j.journal.store.nats.fetch import RawHeaders
from p8j.journal.store.nats.sink import SinkClient


@pytest.fixture
def store(nats_url: str) -> Iterator[NatsStore]:
    """A NATS store on a stream of its own."""
    with NatsStore(nats_url) as s:
        yield s


def _fill(store: NatsStore, n: int) -> tuple[str, list[int]]:
    """`n` records on one subject, interleaved with another's; (subject, their seqs)."""
    subject = store.config.subject(new_session_id())
    other = store.config.subject(new_session_id())
    seqs = []
    for i in range(n):
        seqs.append(store.publish(subject, b"rec%d" % i, f"{subject}:{i}", None))
        store.publish(other, b"other", f"{other}:{i}", None)
    return subject, seqs


def _fetch(store: NatsStore, subject: str, start: int) -> list[Stored]:
    async def run() -> list[Stored]:
        return await fetch.fetch(await store.aconn(), subject, start)

    return store.call(run())


def test_every_record_in_order_across_batches(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "_FIRST_BATCH", 3)
    monkeypatch.setattr(fetch, "_MAX_BATCH", 5)
    subject, seqs = _fill(store, 23)
    got = _fetch(store, subject, 1)
    assert [m.seq for m in got] == seqs
    assert [m.data for m in got] == [b"rec%d" % i for i in range(23)]
    assert got[4].headers["Nats-Msg-Id"] == f"{subject}:4" and "Nats-Msg-Id" in got[4].headers
    assert got[4].headers.get("Nats-Subject") == subject and "P8j-Created" not in got[4].headers
    assert [m.seq for m in _fetch(store, subject, seqs[10])] == seqs[10:]
    assert _fetch(store, subject, seqs[-1] + 1) == []
    assert isinstance(store.call(_client(store)), SinkClient)


async def _client(store: NatsStore) -> Any:
    return (await store.aconn()).nc


def test_a_message_lost_on_the_way_is_an_error_not_a_gap(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    subject, _ = _fill(store, 5)
    real = sink.sink

    async def dropping(nc: Any, inbox: str, fn: Any) -> Any:
        seen = 0

        def lossy(reply: bytes, data: bytes, raw: bytes | None) -> None:
            nonlocal seen
            seen += 1
            if seen != 3:  # the third message never arrives (a slow consumer's drop)
                fn(reply, data, raw)

        return await real(nc, inbox, lossy)

    monkeypatch.setattr(fetch, "sink", dropping)
    with pytest.raises(JournalIOError, match="lost on the way"):
        _fetch(store, subject, 1)


def test_without_sinks_nats_py_messages_give_the_same_records(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "_FIRST_BATCH", 4)
    subject, seqs = _fill(store, 9)
    fast = _fetch(store, subject, 1)
    monkeypatch.setattr(sink, "_SINKS_WORK", False)
    slow = _fetch(store, subject, 1)
    assert [(m.seq, m.data) for m in slow] == [(m.seq, m.data) for m in fast]
    assert [m.seq for m in slow] == seqs
    assert dict(slow[2].headers.items()) == dict(fast[2].headers.items())


def test_raw_headers_read_as_a_mapping_and_are_not_tracked() -> None:
    raw = b"NATS/1.0\r\nNats-Sequence: 7\r\nNats-Msg-Id: a:b\r\n\r\n"
    headers: Any = RawHeaders(raw)  # a Mapping by registration (a Struct cannot subclass it)
    assert isinstance(headers, Mapping) and not gc.is_tracked(headers)
    assert headers["Nats-Sequence"] == "7" and headers.get("Nats-Msg-Id") == "a:b"
    assert "Nats-Msg-Id" in headers and "Msg-Id" not in headers and 7 not in headers
    assert headers.get("P8j-Created") is None and len(headers) == 2
    assert dict(headers.items()) == {"Nats-Sequence": "7", "Nats-Msg-Id": "a:b"}
    assert list(headers) == list(headers.keys()) == ["Nats-Sequence", "Nats-Msg-Id"]
    assert list(headers.values()) == ["7", "a:b"]
    with pytest.raises(KeyError):
        headers["Status"]
