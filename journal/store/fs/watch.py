"""Watching a home's sessions directory for changes: inotify on Linux, watchfiles elsewhere.

Contract:
- `FileWatch` is registered when its constructor returns: every create, append
  or removal of a ``<id>.jsonl`` in the sessions directory after that is
  reported by `wait` (as `Change`s, at least once; a rename over a log, as a
  rewrite does, is ``created``). Other names, subdirectories and invalid ids
  are ignored.
- Backends: where libc has inotify (Linux) `InotifyWatch` (inotify.py), which
  blocks on the kernel's notification (an idle tail does not wake) and hands a
  change over as soon as the kernel reports it; elsewhere (macOS, Windows)
  `WatchfilesWatch` below. ``backend`` picks one explicitly (tests).
- `WatchfilesWatch` runs `watchfiles.watch` (the notify crate) in a daemon
  thread and hands its batches over through a queue, so `wait` blocks on the
  queue with a timeout. The watch is known to be registered when watchfiles
  first asks its ``stop_event`` whether to stop, which it does after creating
  its watcher and before waiting for changes; no private watchfiles API is
  used. A change is handed over within about ``2 * step_ms`` (never later than
  ``debounce_ms`` in a burst); the notify thread wakes every ``step_ms`` while
  idle (watchfiles polls its change buffer), so a larger step trades latency
  for idle wake-ups. watchfiles reports a file created and written within one
  batch as created only. watchfiles is imported only when this backend starts.
- Failures (no directory, inotify limits, a watch that does not start within
  `start_timeout`) raise `JournalIOError` from the constructor; callers poll.
"""

from __future__ import annotations

import errno
import os
import queue
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from ...errors import JournalIOError
from ...ids import is_session_id
from ..base import Change, ChangeKind
from .inotify import InotifyWatch, inotify_available

__all__ = ["FileWatch", "WatchfilesWatch"]

_KINDS: dict[int, ChangeKind] = {1: "created", 2: "appended", 3: "removed"}  # watchfiles.Change
_SUFFIX = ".jsonl"


def _failure(exc: BaseException, directory: Path) -> JournalIOError:
    if isinstance(exc, FileNotFoundError) or getattr(exc, "errno", None) == errno.ENOENT:
        return JournalIOError("no sessions directory", path=directory)
    reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
    return JournalIOError(f"cannot watch with inotify ({reason})", path=directory)


class _Gate:
    """The ``stop_event`` watchfiles polls: its first question says the watch is registered."""

    def __init__(self, ready: threading.Event, stops: tuple[threading.Event, ...]) -> None:
        self.ready = ready
        self.stops = stops

    def is_set(self) -> bool:
        self.ready.set()
        return any(s.is_set() for s in self.stops)


class WatchfilesWatch:
    """A registered watch through watchfiles' public API (see the module docstring)."""

    def __init__(
        self,
        sessions_dir: str | os.PathLike[str],
        session_ids: Sequence[str] | None = None,
        *,
        stop: threading.Event | None = None,
        debounce_ms: int = 20,
        step_ms: int = 2,
        start_timeout: float = 10.0,
    ) -> None:
        self.directory = Path(sessions_dir)
        self._prefix = str(self.directory) + os.sep
        self._wanted = frozenset(session_ids) if session_ids is not None else None
        self._closed = threading.Event()
        self._stops = (self._closed,) if stop is None else (self._closed, stop)
        self._ready = threading.Event()
        self._queue: queue.SimpleQueue[list[Change] | BaseException | None] = queue.SimpleQueue()
        self._done = False
        self._early: list[Change] = []
        self._thread = threading.Thread(
            target=self._run, args=(debounce_ms, step_ms), name="p8j-watch", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(start_timeout):
            self.close()
            raise JournalIOError(
                f"the watch did not start within {start_timeout} s", path=self.directory
            )
        try:
            first = self._queue.get_nowait()
        except queue.Empty:
            return
        if isinstance(first, list):
            self._early = first  # changes already: kept for the first `wait`
            return
        self._done = True  # ended at once: failed, or stopped before it began
        if isinstance(first, BaseException):
            raise _failure(first, self.directory) from first

    def _failure(self, exc: BaseException) -> JournalIOError:
        return _failure(exc, self.directory)

    def _run(self, debounce_ms: int, step_ms: int) -> None:
        try:
            import watchfiles

            for batch in watchfiles.watch(
                self.directory,
                watch_filter=None,
                debounce=debounce_ms,
                step=step_ms,
                stop_event=_Gate(self._ready, self._stops),
                rust_timeout=0,
                raise_interrupt=False,
                force_polling=False,
                recursive=False,
            ):
                changes = self._convert(batch)
                if changes:
                    self._queue.put(changes)
        except BaseException as exc:  # handed to the consumer, which raises it as ours
            self._queue.put(exc)
        finally:
            self._queue.put(None)
            self._ready.set()

    def _convert(self, batch: Iterable[tuple[Any, str]]) -> list[Change]:
        out: dict[tuple[str, str], Change] = {}
        prefix = self._prefix
        for kind, path in batch:
            if not path.startswith(prefix) or not path.endswith(_SUFFIX):
                continue
            sid = path[len(prefix) : -len(_SUFFIX)]
            if not is_session_id(sid) or (self._wanted is not None and sid not in self._wanted):
                continue
            change = Change(_KINDS.get(int(kind), "appended"), sid)
            out[change.kind, sid] = change
        return sorted(out.values(), key=lambda c: (c.session_id, c.kind))

    def wait(self, timeout: float | None = None) -> list[Change]:
        """The changes seen since the last call, waiting up to `timeout` s; [] on timeout/stop."""
        changes, self._early = self._early, []
        if self._done:
            return changes
        try:
            item = self._queue.get(timeout=0 if changes else timeout)
        except queue.Empty:
            return changes
        while True:
            if item is None:
                self._done = True
                break
            if isinstance(item, BaseException):
                self._done = True
                raise self._failure(item) from item
            changes.extend(item)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        return changes

    def close(self) -> None:
        """Stop the notify thread (within one step); idempotent."""
        self._closed.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    @property
    def alive(self) -> bool:
        """True while the watch runs (not closed, stopped or failed)."""
        return self._thread.is_alive()


Backend = Literal["auto", "inotify", "watchfiles"]


class FileWatch:
    """A registered watch on one sessions directory, on the best backend here (module doc)."""

    def __init__(
        self,
        sessions_dir: str | os.PathLike[str],
        session_ids: Sequence[str] | None = None,
        *,
        stop: threading.Event | None = None,
        debounce_ms: int = 20,
        step_ms: int = 2,
        start_timeout: float = 10.0,
        backend: Backend = "auto",
    ) -> None:
        self.directory = Path(sessions_dir)
        if backend == "auto":
            backend = "inotify" if inotify_available() else "watchfiles"
        self.backend: Backend = backend
        self._impl: InotifyWatch | WatchfilesWatch
        if backend == "inotify":
            try:
                self._impl = InotifyWatch(self.directory, session_ids, stop=stop)
            except OSError as exc:
                raise _failure(exc, self.directory) from exc
        else:
            self._impl = WatchfilesWatch(
                self.directory,
                session_ids,
                stop=stop,
                debounce_ms=debounce_ms,
                step_ms=step_ms,
                start_timeout=start_timeout,
            )

    def wait(self, timeout: float | None = None) -> list[Change]:
        """The changes seen since the last call, waiting up to `timeout` s; [] on timeout/stop."""
        return self._impl.wait(timeout)

    def close(self) -> None:
        """Stop watching (a blocked `wait` returns soon); idempotent, any thread."""
        self._impl.close()

    @property
    def alive(self) -> bool:
        """True while the watch runs (not closed, stopped or failed)."""
        return self._impl.alive
