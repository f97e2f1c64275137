"""`NatsWatch`: changes to a NATS store's sessions, from an ordered consumer on their subjects.

Contract (the seam's `StoreWatch`): registered when `NatsStore.watch` returns.
- Appends and new logs come from an ordered push consumer on
  ``<prefix>.s.>`` (one session's subject when it watches one session)
  delivering every message stored after the stream's last seq when it
  started: a message with ``P8j-Created`` is ``created`` (a new log or a
  rewrite), any other ``appended``. Each message's stream seq goes to
  `NatsStore.saw`, so a read after the change waits for a lagging replica.
- The records come whole, and the store's first watch keeps them for its
  readers (`Kept`): a follower woken by a change reads the record the watch
  already received, with no round trip to a server (and no wait for a
  replica). Kept records are handed out only while they are known complete:
  the consumer's delivery sequence runs without a gap since the watch
  started (a gap or a consumer reset forgets everything kept), the reader's
  position is at or past where keeping began for that session, at least one
  kept record follows it, and they reach every record this store's own
  writers had acknowledged. Anything else is read from the server as before.
  At most `_KEEP_BYTES` are kept per session and `_KEEP_ALL_BYTES` in all;
  past that the oldest go (and reads from before them go to the server).
- Removals come from the session summaries bucket: `remove` deletes the
  session's summary, and the watch subscribes to that bucket's one-token
  subjects (core NATS, no consumer; not the listing's chunks), reporting a
  delete marker as ``removed`` (and forgetting what was kept of it).
- `wait` returns the changes gathered since the last call (deduplicated,
  sorted), waiting up to `timeout`; it notices ``stop`` within 50 ms.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nats.aio.msg import Msg
from nats.js import api

from ..base import Change, ChangeKind
from .conn import Stored
from .kept import Kept, keep, unkeep

if TYPE_CHECKING:
    from .store import NatsStore

__all__ = ["NatsWatch", "delivery_seqs"]

_STOP_CHECK_S = 0.05
# $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending> (9 tokens), or
# with domain and account hash (12; nats-py's Msg.Ack indexes): see conn.py.
_V1_TOKENS = 9


def delivery_seqs(reply: str) -> tuple[int, int]:
    """(stream seq, delivery seq) of a JetStream consumer's delivery, from its reply subject."""
    tokens = reply.split(".")
    if len(tokens) < _V1_TOKENS or tokens[0] != "$JS" or tokens[1] != "ACK":
        raise ValueError(f"not a JetStream delivery: {reply!r}")
    if len(tokens) == _V1_TOKENS:
        return int(tokens[5]), int(tokens[6])
    return int(tokens[Msg.Ack.StreamSeq]), int(tokens[Msg.Ack.ConsumerSeq])


class NatsWatch:
    """A registered watch on a `NatsStore` (see the module doc)."""

    def __init__(
        self, store: NatsStore, session_ids: Sequence[str] | None, stop: threading.Event | None
    ) -> None:
        self._store = store
        self._wanted = frozenset(session_ids) if session_ids is not None else None
        self._stop = stop
        self._cond = threading.Condition()
        self._pending: dict[tuple[str, str], Change] = {}
        self._closed = False
        self._subs: list[Any] = []
        # The store's first watch keeps what it receives for the store's readers.
        self._kept: Kept | None = keep(store)
        try:
            store.call(self._start())
        except BaseException:
            self._disown()
            raise

    async def _start(self) -> None:
        conn = await self._store.aconn()
        cfg = conn.config
        one = len(self._wanted) == 1 if self._wanted is not None else False
        subject = cfg.subject(next(iter(self._wanted))) if one and self._wanted else cfg.subjects
        # From the stream's last seq now: what is delivered is then known to be
        # every message after it (NEW would leave that point unknown).
        last = (await conn.js.stream_info(cfg.stream)).state.last_seq
        if self._kept is not None:
            self._kept.start(last)
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=last + 1
        )
        js_sub = await conn.js.subscribe(
            subject, stream=cfg.stream, ordered_consumer=True, config=config, cb=self._on_log
        )
        assert conn.nc is not None
        # One token: the sessions' keys, not the kept listing's chunks (listing.py).
        kv_sub = await conn.nc.subscribe(f"$KV.{cfg.sessions_bucket}.*", cb=self._on_summary)
        await conn.nc.flush()
        self._subs = [js_sub, kv_sub]

    def _add(self, kind: ChangeKind, session_id: str) -> None:
        if self._wanted is not None and session_id not in self._wanted:
            return
        with self._cond:
            self._pending[session_id, kind] = Change(kind, session_id)
            self._cond.notify_all()

    async def _on_log(self, msg: Msg) -> None:
        sid = self._store.config.session_of(msg.subject)
        seq, dseq = delivery_seqs(msg.reply)
        if self._kept is not None and (self._wanted is None or sid in self._wanted):
            stored = Stored(seq, msg.data, msg.headers) if msg.headers else Stored(seq, msg.data)
            self._kept.deliver(sid, stored, dseq)
        self._store.saw(sid, seq)
        created = bool(msg.headers and msg.headers.get("P8j-Created"))
        self._add("created" if created else "appended", sid)

    async def _on_summary(self, msg: Msg) -> None:
        if msg.headers and msg.headers.get("KV-Operation") in ("DEL", "PURGE"):
            sid = msg.subject.rsplit(".", 1)[-1]
            if self._kept is not None:
                self._kept.forget(sid)
            self._store.saw(sid, -1)
            self._add("removed", sid)

    def _disown(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            unkeep(self._store, kept)

    def wait(self, timeout: float | None = None) -> list[Change]:
        """The changes since the last call, waiting up to `timeout` s; [] on timeout/stop."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._pending and not self._closed:
                if self._stop is not None and self._stop.is_set():
                    return []
                left = _STOP_CHECK_S if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(min(left, _STOP_CHECK_S))
            out = sorted(self._pending.values(), key=lambda c: (c.session_id, c.kind))
            self._pending.clear()
            return out

    def close(self) -> None:
        """Stop watching (the ordered consumer goes with its subscription); idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._disown()
        subs, self._subs = self._subs, []
        if subs:
            # A closed store: the subscriptions died with it.
            with contextlib.suppress(Exception):
                self._store.call(_unsubscribe(subs))


async def _unsubscribe(subs: list[Any]) -> None:
    for sub in subs:
        await sub.unsubscribe()
