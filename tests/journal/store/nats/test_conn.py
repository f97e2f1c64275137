"""conn.py: a delivery's stream sequence as nats-py parses it; direct gets without responders."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import nats.errors
import pytest
from nats.aio.msg import Msg
from nats.errors import NotJSMessageError

from p8j.journal.errors import JournalIOError
from p8j.journal.ids import new_session_id
from p8j.journal.store.nats import NatsStore
from p8j.journal.store.nats.conn import Stored, _stream_seq


@pytest.mark.parametrize(
    "reply",
    [
        "$JS.ACK.P8J.cons1.1.4711.12.1764790000000000000.3",  # v1: no domain, no account
        "$JS.ACK._.ACCHASH.P8J.cons1.1.4711.12.1764790000000000000.3.rnd",  # v2, no domain
        "$JS.ACK.hub.ACCHASH.P8J.cons1.2.90210.7.1764790000000000000.0",  # v2 without the token
    ],
)
def test_the_stream_seq_is_what_nats_py_metadata_says(reply: str) -> None:
    client: Any = None
    msg = Msg(client, subject="p8j.s.x", reply=reply, data=b"{}")
    assert _stream_seq(msg) == Msg(client, reply=reply).metadata.sequence.stream
    assert _stream_seq(msg) in (4711, 90210)


def test_a_message_that_is_not_a_delivery_raises_nats_py_error() -> None:
    client: Any = None
    with pytest.raises(NotJSMessageError):
        _stream_seq(Msg(client, subject="p8j.s.x", reply="_INBOX.abc", data=b""))


def test_stored_messages_are_not_tracked_by_the_cycle_collector() -> None:
    # A replay holds every record of a session at once: tracked, they slowed it by a third.
    stored = Stored(7, b"{}", {"Nats-Msg-Id": "x"})
    assert not gc.is_tracked(stored) and not gc.is_tracked(Stored(8, b"{}"))
    assert Stored(8, b"{}").headers == {} and stored.headers["Nats-Msg-Id"] == "x"


@pytest.fixture
def store(nats_url: str) -> Iterator[NatsStore]:
    """A NATS store on a stream of its own (a real server)."""
    with NatsStore(nats_url) as s:
        yield s


def _no_responders_first(store: NatsStore, times: int) -> list[str]:
    """Make the store's client answer its next `times` direct gets with no responders."""
    nc = store.call(store.aconn()).nc
    assert nc is not None
    real = nc.request
    asked: list[str] = []

    async def request(subject: str, *args: Any, **kwargs: Any) -> Any:
        if subject.startswith("$JS.API.DIRECT.GET."):
            asked.append(subject)
            if len(asked) <= times:
                raise nats.errors.NoRespondersError
        return await real(subject, *args, **kwargs)

    nc.request = request  # type: ignore[method-assign]
    return asked


def test_a_direct_get_waits_for_responders_of_a_stream_that_exists(store: NatsStore) -> None:
    # A stream just created (or electing a leader) has no direct-get responders for a
    # moment: CI once failed a cluster test's first session on exactly that.
    subject = store.config.subject(new_session_id())
    seq = store.publish(subject, b"rec", f"{subject}:0", None)
    asked = _no_responders_first(store, 2)
    last = store.call(store.call(store.aconn()).last(subject))
    assert last is not None and (last.seq, last.data) == (seq, b"rec")
    assert len(asked) == 3


def test_a_direct_get_on_a_stream_that_is_gone_fails_at_once(store: NatsStore) -> None:
    conn = store.call(store.aconn())
    store.call(conn.js.delete_stream(store.config.stream))
    asked = _no_responders_first(store, 1_000_000)
    with pytest.raises(JournalIOError, match=r"no NATS stream .* answers"):
        store.call(conn.last(store.config.subject(new_session_id())))
    assert len(asked) == 1  # not retried until the horizon: there is no such stream
