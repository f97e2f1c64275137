"""`Loop`: a sync facade over nats-py's asyncio client, one event loop in a daemon thread.

Contract:
- `Loop.run(coro)` submits a coroutine to the store's loop and blocks the calling
  thread until it finishes (its result or its exception, re-raised in the
  caller); any number of threads may call it at once. It must not be called
  from the loop's own thread (coroutines there await instead).
- `Loop.spawn(coro)` schedules background work (lease heartbeats) without
  waiting; its exceptions are kept on the task, never raised into a caller.
- `Loop.close()` runs the given shutdown coroutine (closing the connection),
  stops the loop and joins its thread; idempotent. The thread is a daemon, so
  a process that never closes its store still exits (its leases then expire).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ...errors import JournalIOError

__all__ = ["Loop"]

T = TypeVar("T")


class Loop:
    """One asyncio loop in a daemon thread; blocking callers submit coroutines to it."""

    def __init__(self, name: str = "p8j-nats") -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._ready.set)
        self._loop.run_forever()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop (for callbacks registered from coroutines)."""
        return self._loop

    def in_loop(self) -> bool:
        """True when called from the loop's own thread."""
        return threading.current_thread() is self._thread

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the loop and wait for its result (or exception)."""
        if self.in_loop():
            coro.close()
            raise RuntimeError("Loop.run called from the loop's own thread")
        if self._closed:
            coro.close()
            raise JournalIOError("the NATS store is closed")
        # A task and a bare lock, not run_coroutine_threadsafe's chained futures:
        # this hop is on every append's path, and the lock is ~30 us cheaper here.
        done = threading.Lock()
        done.acquire()
        box: list[asyncio.Task[T]] = []

        def start() -> None:
            task = self._loop.create_task(coro)
            box.append(task)
            task.add_done_callback(lambda _: done.release())

        self._loop.call_soon_threadsafe(start)
        if not done.acquire(timeout=-1 if timeout is None else timeout):
            # Callbacks run in order, so `start` has run before this cancel does.
            self._loop.call_soon_threadsafe(lambda: box[0].cancel())
            raise JournalIOError(f"the NATS store did not answer in {timeout} s")
        return box[0].result()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Schedule `coro` on the loop without waiting for it."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def close(self, shutdown: Coroutine[Any, Any, Any] | None = None) -> None:
        """Run `shutdown`, stop the loop and join its thread; idempotent."""
        with self._lock:
            if self._closed:
                if shutdown is not None:
                    shutdown.close()
                return
            self._closed = True
        if self.in_loop():  # collected on the loop's own thread: stop, nothing to join
            if shutdown is not None:
                shutdown.close()
            self._loop.stop()
            return
        if shutdown is not None:
            # Closing anyway if it fails: the connection is dropped with the loop.
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shutdown, self._loop).result(10.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10.0)
        if not self._thread.is_alive():
            self._loop.close()
