"""Follow source trees: import records as the agent writes them (``p8j import --follow``).

Contract:
- The watch (watchfiles' public API, recursive over every root) is registered
  before the first pass, so nothing appended after `follow_paths` reported
  ready is missed: watchfiles asks its ``stop_event`` whether to stop once its
  watcher exists, before it waits (the same signal store/fs/watch.py uses).
- A pass imports the changed files (and files never seen) with ``final=False``:
  a last line without its newline is the agent still writing it and is waited
  for, never imported half. Each pass has its own report, handed to `each`.
- Nothing is ever removed: a source file the agent deletes keeps its session
  (the archiver use). Sessions are paused between passes like any import.
- Ends when `stop` is set, or on KeyboardInterrupt (propagated, after the
  current record; every record is one whole append).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import JournalIOError
from .engine import ImportRun
from .report import ImportReport

__all__ = ["follow_paths"]

START_TIMEOUT = 10.0


class _Registered:
    """A stop event that notes watchfiles' first look: from then on the watch is registered."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.ready = threading.Event()

    def is_set(self) -> bool:
        self.ready.set()
        return self.stop.is_set()


def _watch(roots: Sequence[Path], flag: _Registered, out: queue.Queue[Any]) -> None:
    import watchfiles

    try:
        for batch in watchfiles.watch(
            *roots,
            stop_event=flag,
            debounce=200,
            step=20,
            raise_interrupt=False,
            yield_on_timeout=True,
            rust_timeout=1000,
        ):
            out.put({path for _, path in batch})
    except Exception as exc:  # the watcher's own failure: hand it to the caller
        out.put(exc)
    finally:
        flag.ready.set()
        out.put(None)


def follow_paths(
    run: ImportRun,
    roots: Sequence[Path],
    each: Callable[[ImportReport], None],
    stop: threading.Event,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Import what is under `roots`, then what changes, until `stop` (see the module doc)."""
    watched = [r for r in roots if r.exists()]
    if not watched:
        raise JournalIOError(f"nothing to follow: {', '.join(map(str, roots))} does not exist")
    flag = _Registered(stop)
    changes: queue.Queue[Any] = queue.Queue()
    thread = threading.Thread(target=_watch, args=(watched, flag, changes), daemon=True)
    thread.start()
    try:
        if not flag.ready.wait(START_TIMEOUT):
            raise JournalIOError(f"the watch on {watched[0]} did not start")
        seen: set[str] = set()
        _pass(run, roots, None, seen, each)
        if ready is not None:
            ready(len(seen))
        while not stop.is_set():
            got = changes.get()
            if got is None:
                return
            if isinstance(got, Exception):
                raise JournalIOError(f"watching {watched[0]} failed: {got}") from got
            if got:
                _pass(run, roots, got, seen, each)
    finally:
        stop.set()


def _pass(
    run: ImportRun,
    roots: Sequence[Path],
    changed: set[str] | None,
    seen: set[str],
    each: Callable[[ImportReport], None],
) -> None:
    run.new_pass()
    for file in run.discover(roots):
        if changed is None or file.path in changed or file.path not in seen:
            seen.add(file.path)
            run.run_file(file, final=False)
    each(run.report.finish())
