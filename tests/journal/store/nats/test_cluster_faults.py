"""Faults on a 3-node JetStream cluster: nodes kill -9'd under a writer, nothing acknowledged lost.

A SessionManager on the NATS store (R3, servers syncing always) appends with
acknowledgements in a thread while the test kill -9s a follower of the
session's stream, then its leader (leaving one node of three: no quorum, the
writer stalls), then restarts both. The writer must carry on by itself within
its retry horizon, and once the cluster is whole again every node must hold
every acknowledged event exactly once, in order, byte for byte the same as
the others: each node's own /jsz report of the stream's state (messages,
bytes, first and last seq, with every replica current) must agree, and the
records are read through a connection to each node in turn (direct gets:
NATS may answer them from any current replica, so the per-node proof is the
nodes' own state reports; the reads check content and order). The same again
with a writer appending atomic batches (`append_many`) instead of single events.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from typing import Any

import msgspec
import nats
import nats.errors
import nats.js.errors
import pytest
from journal_helpers import wait_until
from natsd import NatsCluster, NatsServer

from p8j.journal import SessionManager
from p8j.journal.codec import decode_line
from p8j.journal.ids import new_session_id
from p8j.journal.store.contract import message, start
from p8j.journal.store.nats import NatsStore

pytestmark = pytest.mark.slow

RETRY_S = 15.0  # the store's default append retry horizon
_names = itertools.count(1)


class Writer(threading.Thread):
    """Records messages until stopped; `acked` holds (seq, monotonic time) per acknowledgement."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.mgr = SessionManager(store=url)
        self.sid = self.mgr.start_session("faults").session_id
        self.acked: list[tuple[int, float]] = [(0, time.monotonic())]
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            for i in itertools.count():
                if self.stop.is_set():
                    break
                seq = self.mgr.record_message({"role": "user", "content": f"message {i}"})
                self.acked.append((seq, time.monotonic()))
        except BaseException as exc:
            self.error = exc

    def wait_for(self, more: int, timeout: float = 60) -> None:
        """Wait until `more` further events were acknowledged."""
        goal = len(self.acked) + more
        wait_until(lambda: len(self.acked) >= goal or self.error is not None, timeout, "acks")
        assert self.error is None, self.error


def stream_state(node: NatsServer, stream: str) -> dict[str, Any]:
    """The stream as this node reports it (/jsz): state and cluster view."""
    for account in node.jsz().get("account_details") or []:
        for detail in account.get("stream_detail") or []:
            if detail["name"] == stream:
                return dict(detail)
    raise LookupError(f"{node.name} does not report stream {stream}")


async def _read_node(url: str, stream: str, subject: str) -> list[tuple[int, bytes, str]]:
    nc = await nats.connect(servers=[url], allow_reconnect=False, connect_timeout=5)
    try:
        js = nc.jetstream(timeout=10)
        out: list[tuple[int, bytes, str]] = []
        seq = 1
        while True:
            try:
                m = await js.get_msg(stream, seq=seq, subject=subject, next=True, direct=True)
            except nats.js.errors.NotFoundError:
                return out
            assert m.seq is not None and m.data is not None
            out.append((m.seq, m.data, (m.headers or {}).get("Nats-Msg-Id", "")))
            seq = m.seq + 1
    finally:
        await nc.close()


def read_node(node: NatsServer, stream: str, subject: str) -> list[tuple[int, bytes, str]]:
    """Every message of `subject` as `node` itself holds it: (stream seq, data, Msg-Id)."""
    return asyncio.run(_read_node(node.url, stream, subject))


def replicas_level(cluster: NatsCluster, stream: str) -> bool:
    """True once every node reports the same stream state, with all replicas current."""
    states = {n.name: stream_state(n, stream) for n in cluster.nodes}
    if len({msgspec.json.encode(s["state"]) for s in states.values()}) != 1:
        return False
    leader = states.get(states[cluster.nodes[0].name]["cluster"].get("leader"))
    # Only the leader knows whether each follower is current.
    return leader is not None and all(r.get("current") for r in leader["cluster"]["replicas"])


def test_acknowledged_events_survive_a_follower_and_the_leader_killed(
    nats_cluster: NatsCluster,
) -> None:
    stream = f"F{os.getpid()}_{next(_names)}"
    writer = Writer(f"{nats_cluster.url}?stream={stream}&replicas=3&retry={RETRY_S:g}")
    writer.start()
    try:
        writer.wait_for(50)
        leader = stream_state(nats_cluster.nodes[0], stream)["cluster"]["leader"]
        follower = next(n.name for n in nats_cluster.nodes if n.name != leader)
        nats_cluster.kill(follower)
        writer.wait_for(50)  # two of three: still a quorum
        stalled_from = len(writer.acked)
        nats_cluster.kill(leader)  # one of three: no quorum, appends wait
        nats_cluster.restart(follower, leader)
        writer.wait_for(50, timeout=RETRY_S * 2)
        assert len(writer.acked) > stalled_from
    finally:
        writer.stop.set()
        writer.join(timeout=RETRY_S * 2)
    assert writer.error is None, writer.error
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(writer.acked)]
    assert max(gaps) < RETRY_S  # resumed by itself within the retry horizon
    writer.mgr.end_session()
    writer.mgr.store.close()  # type: ignore[attr-defined]

    acked = [seq for seq, _ in writer.acked]
    assert acked == list(range(len(acked)))  # acknowledged in order, each once
    wait_until(lambda: replicas_level(nats_cluster, stream), 60, "replicas to catch up")
    subject = f"{stream.lower()}.s.{writer.sid}"
    copies = {n.name: read_node(n, stream, subject) for n in nats_cluster.nodes}
    first = copies[nats_cluster.nodes[0].name]
    for name, records in copies.items():
        assert records == first, f"{name} differs"
    seqs = [decode_line(data).seq for _, data, _ in first]
    assert seqs == list(range(len(seqs)))  # exactly once, in order: no gap, no duplicate
    assert [mid for _, _, mid in first] == [f"{writer.sid}:{s}" for s in seqs]
    assert set(acked) <= set(seqs)
    print(f"acked {len(acked)} events; longest stall {max(gaps):.2f} s")


class BatchWriter(Writer):
    """Appends batches of `BATCH` events through the seam (`append_many`: atomic batches)."""

    BATCH = 20

    def __init__(self, url: str) -> None:
        # Not Writer.__init__: no manager here, the store's writer itself.
        threading.Thread.__init__(self, daemon=True)

        self.store = NatsStore(url)
        self.sid = new_session_id()
        self.writer = self.store.open_writer(self.sid, first=start(self.sid))
        self.acked = [(0, time.monotonic())]
        self.error = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            seq = 1
            while not self.stop.is_set():
                batch = [message(self.sid, s, f"message {s}") for s in range(seq, seq + self.BATCH)]
                self.writer.append_many(batch)
                now = time.monotonic()
                self.acked.extend((s, now) for s in range(seq, seq + self.BATCH))
                seq += self.BATCH
        except BaseException as exc:
            self.error = exc


def test_acknowledged_batches_survive_a_follower_and_the_leader_killed(
    nats_cluster: NatsCluster,
) -> None:
    stream = f"F{os.getpid()}_{next(_names)}"
    writer = BatchWriter(f"{nats_cluster.url}?stream={stream}&replicas=3&retry={RETRY_S:g}")
    writer.start()
    try:
        writer.wait_for(200)
        leader = stream_state(nats_cluster.nodes[0], stream)["cluster"]["leader"]
        follower = next(n.name for n in nats_cluster.nodes if n.name != leader)
        nats_cluster.kill(follower)
        writer.wait_for(200)  # two of three: still a quorum
        stalled_from = len(writer.acked)
        nats_cluster.kill(leader)  # one of three: no quorum, batches wait
        nats_cluster.restart(follower, leader)
        writer.wait_for(200, timeout=RETRY_S * 2)
        assert len(writer.acked) > stalled_from
    finally:
        writer.stop.set()
        writer.join(timeout=RETRY_S * 2)
    assert writer.error is None, writer.error
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(writer.acked)]
    assert max(gaps) < RETRY_S  # resumed by itself within the retry horizon
    writer.writer.close()
    writer.store.close()

    acked = [seq for seq, _ in writer.acked]
    assert acked == list(range(len(acked)))
    wait_until(lambda: replicas_level(nats_cluster, stream), 60, "replicas to catch up")
    subject = f"{stream.lower()}.s.{writer.sid}"
    copies = {n.name: read_node(n, stream, subject) for n in nats_cluster.nodes}
    first = copies[nats_cluster.nodes[0].name]
    for name, records in copies.items():
        assert records == first, f"{name} differs"
    seqs = [decode_line(data).seq for _, data, _ in first]
    assert seqs == list(range(len(seqs)))  # exactly once, in order: no gap, no duplicate
    assert set(acked) <= set(seqs)
    print(f"acked {len(acked)} events in batches; longest stall {max(gaps):.2f} s")
