"""writer.py's per-append cost: one hop to the store's loop thread, two headers on the wire."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from p8j.journal.ids import new_session_id
from p8j.journal.store.contract import message, start
from p8j.journal.store.nats import NatsStore
from p8j.journal.store.nats.loop import Loop


@pytest.fixture
def store(nats_url: str) -> Iterator[NatsStore]:
    """A NATS store on a stream of its own."""
    with NatsStore(nats_url) as s:
        yield s


def test_an_append_is_one_hop_to_the_loop(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_session_id()
    w = store.open_writer(sid, first=start(sid))
    real = Loop.run
    hops: list[str] = []

    def run(self: Loop, coro: Any, timeout: float | None = None) -> Any:
        hops.append(coro.__qualname__)
        return real(self, coro, timeout)

    monkeypatch.setattr(Loop, "run", run)
    for seq in range(1, 4):
        w.append(message(sid, seq))
    assert hops == ["Conn.publish"] * 3  # no lookup of the connection or its max payload
    w.close()


def test_an_append_sends_only_the_id_and_the_expected_sequence(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_session_id()
    w = store.open_writer(sid, first=start(sid))
    nc = store.call(store.aconn()).nc
    assert nc is not None
    real = nc.request
    sent: list[dict[str, str]] = []

    async def request(subject: str, *args: Any, **kw: Any) -> Any:
        if subject == store.config.subject(sid):  # what goes on the wire, not lookups
            sent.append(dict(kw.get("headers") or {}))
        return await real(subject, *args, **kw)

    monkeypatch.setattr(nc, "request", request)
    w.append(message(sid, 1))
    assert sent == [
        {
            "Nats-Msg-Id": f"{sid}:1",
            "Nats-Expected-Last-Subject-Sequence": str(w.position.offset - 1),
        }
    ]
    w.close()
