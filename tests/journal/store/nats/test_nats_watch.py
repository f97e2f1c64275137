"""watch.py: a delivery's stream and delivery seqs, as nats-py's metadata reads them."""

from __future__ import annotations

from typing import Any

import pytest
from nats.aio.msg import Msg

from p8j.journal.store.nats.watch import delivery_seqs


@pytest.mark.parametrize(
    "reply",
    [
        "$JS.ACK.P8J.cons1.1.4711.12.1764790000000000000.3",  # v1: no domain, no account
        "$JS.ACK._.ACCHASH.P8J.cons1.1.4711.12.1764790000000000000.3.rnd",  # v2, no domain
        "$JS.ACK.hub.ACCHASH.P8J.cons1.2.90210.7.1764790000000000000.0",  # v2 without the token
    ],
)
def test_the_seqs_are_what_nats_py_metadata_says(reply: str) -> None:
    client: Any = None
    sequence = Msg(client, reply=reply).metadata.sequence
    assert delivery_seqs(reply) == (sequence.stream, sequence.consumer)


def test_a_reply_that_is_not_a_delivery_is_refused() -> None:
    with pytest.raises(ValueError, match="not a JetStream delivery"):
        delivery_seqs("_INBOX.abc")
