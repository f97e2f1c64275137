"""`MemoryWatch`: a watch on a `MemoryStore` (memory.py), split out of it by concept.

Contract: the store calls `add` with every change under its condition's lock
and notifies the condition; `wait` returns the changes seen since the last
call (one per session and kind, sorted), or [] on a timeout, a stop or once
closed, and notices its ``stop`` event within 50 ms. `close` unregisters the
watch (the store's callback) and wakes its waiters; idempotent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from .base import Change

__all__ = ["MemoryWatch"]

_STOP_CHECK_S = 0.05


class MemoryWatch:
    """A registered watch on a `MemoryStore`."""

    def __init__(
        self,
        cond: threading.Condition,
        session_ids: Sequence[str] | None,
        stop: threading.Event | None,
        unregister: Callable[[MemoryWatch], None],
    ) -> None:
        self._cond = cond
        self._wanted = frozenset(session_ids) if session_ids is not None else None
        self._stop = stop
        self._unregister = unregister
        self._pending: dict[tuple[str, str], Change] = {}
        self._closed = False

    def add(self, change: Change) -> None:
        """Note `change` if it is about a watched session (the store holds the lock)."""
        if self._wanted is None or change.session_id in self._wanted:
            self._pending[change.session_id, change.kind] = change

    def wait(self, timeout: float | None = None) -> list[Change]:
        """The changes since the last call, waiting up to `timeout` s; [] on timeout/stop."""
        deadline = None if timeout is None else time.monotonic() + timeout
        cond = self._cond
        with cond:
            while not self._pending and not self._closed:
                if self._stop is not None and self._stop.is_set():
                    return []
                left = _STOP_CHECK_S if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    return []
                cond.wait(min(left, _STOP_CHECK_S) if self._stop is not None else left)
            out = sorted(self._pending.values(), key=lambda c: (c.session_id, c.kind))
            self._pending.clear()
            return out

    def close(self) -> None:
        """Stop watching; idempotent."""
        with self._cond:
            self._closed = True
            self._unregister(self)
            self._cond.notify_all()
