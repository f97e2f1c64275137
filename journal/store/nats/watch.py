"""`NatsWatch`: changes to a NATS store's sessions, from an ordered consumer on their subjects.

Contract (the seam's `StoreWatch`): registered when `NatsStore.watch` returns.
- Appends and new logs come from an ordered push consumer on
  ``<prefix>.s.>`` delivering only new messages, headers only (no payloads
  cross the wire): a message with ``P8j-Created`` is ``created`` (a new log or
  a rewrite), any other ``appended``. Each message's stream seq goes to
  `NatsStore.saw`, so a read after the change waits for a lagging replica.
- Removals come from the session summaries bucket: `remove` deletes the
  session's summary, and the watch subscribes to that bucket's one-token
  subjects (core NATS, no consumer; not the listing's chunks), reporting a
  delete marker as ``removed``.
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

if TYPE_CHECKING:
    from .store import NatsStore

__all__ = ["NatsWatch"]

_STOP_CHECK_S = 0.05


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
        store.call(self._start())

    async def _start(self) -> None:
        conn = await self._store.aconn()
        cfg = conn.config
        js_sub = await conn.js.subscribe(
            cfg.subjects,
            ordered_consumer=True,
            deliver_policy=api.DeliverPolicy.NEW,
            headers_only=True,
            cb=self._on_log,
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
        self._store.saw(sid, msg.metadata.sequence.stream)
        created = bool(msg.headers and msg.headers.get("P8j-Created"))
        self._add("created" if created else "appended", sid)

    async def _on_summary(self, msg: Msg) -> None:
        if msg.headers and msg.headers.get("KV-Operation") in ("DEL", "PURGE"):
            sid = msg.subject.rsplit(".", 1)[-1]
            self._store.saw(sid, -1)
            self._add("removed", sid)

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
        subs, self._subs = self._subs, []
        if subs:
            # A closed store: the subscriptions died with it.
            with contextlib.suppress(Exception):
                self._store.call(_unsubscribe(subs))


async def _unsubscribe(subs: list[Any]) -> None:
    for sub in subs:
        await sub.unsubscribe()
