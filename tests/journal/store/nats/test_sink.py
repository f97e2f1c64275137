"""sink.py: SinkParser hands sink frames over in wire order, however the bytes arrive."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from p8j.journal.store.nats.sink import SinkParser


class _FakeClient:
    """What SinkParser needs of a client: sinks, and nats-py's handlers for the rest."""

    def __init__(self) -> None:
        self.sinks: dict[int, Any] = {}
        self.theirs: list[tuple[int, bytes, bytes, bytes | None]] = []
        self.pings = 0
        self.slow = 0  # sink frames that went through nats-py's parser

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        fn = self.sinks.get(sid)  # as SinkClient routes what nats-py's parser hands it
        if fn is not None:
            self.slow += 1
            fn(reply, data, headers)
        else:
            self.theirs.append((sid, reply, data, headers))

    async def _process_ping(self) -> None:
        self.pings += 1


_FRAMES = [
    (1, b"MSG p.a 1 _INBOX.x 5\r\nhello\r\n"),
    (1, b"HMSG p.a 1 _INBOX.x 18 22\r\nNATS/1.0\r\nA: b\r\n\r\nabcd\r\n"),
    (2, b"MSG p.b 2 3\r\nxyz\r\n"),  # no sink: nats-py's path
    (0, b"PING\r\n"),
    (1, b"HMSG p.a 1 16 16\r\nNATS/1.0 204\r\n\r\n\r\n"),
]
_SINK_FRAMES = {
    0: (b"_INBOX.x", b"hello", None),
    1: (b"_INBOX.x", b"abcd", b"NATS/1.0\r\nA: b\r\n\r\n"),
    4: (b"", b"", b"NATS/1.0 204\r\n\r\n"),
}


def _parse(wire: bytes, cuts: list[int]) -> tuple[_FakeClient, list[Any]]:
    nc = _FakeClient()
    mine: list[Any] = []
    nc.sinks[1] = lambda reply, data, raw: mine.append((reply, data, raw))
    parser = SinkParser(nc)
    loop = asyncio.new_event_loop()
    try:
        at = 0
        for cut in [*cuts, len(wire)]:
            loop.run_until_complete(parser.parse(wire[at : at + cut]))
            at += cut
            if at >= len(wire):
                break
    finally:
        loop.close()
    return nc, mine


@given(st.lists(st.integers(1, 40), max_size=30), st.permutations(range(len(_FRAMES))))
def test_every_frame_is_handled_once_in_order_however_the_bytes_are_cut(
    cuts: list[int], order: list[int]
) -> None:
    nc, mine = _parse(b"".join(_FRAMES[i][1] for i in order), cuts)
    assert mine == [_SINK_FRAMES[i] for i in order if i in _SINK_FRAMES]
    assert nc.theirs == [(2, b"", b"xyz", None)] and nc.pings == 1


@given(st.lists(st.integers(1, 40), max_size=30), st.permutations(sorted(_SINK_FRAMES)))
def test_sink_frames_cut_anywhere_never_take_nats_py_s_slow_path(
    cuts: list[int], order: list[int]
) -> None:
    nc, mine = _parse(b"".join(_FRAMES[i][1] for i in order * 3), cuts)
    assert mine == [_SINK_FRAMES[i] for i in order * 3]
    assert nc.slow == 0  # a frame split across reads waits for its rest, in the fast path
