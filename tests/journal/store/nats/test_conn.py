"""conn.py's parsing of a consumer delivery's stream sequence agrees with nats-py's."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from nats.aio.msg import Msg
from nats.errors import NotJSMessageError

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
