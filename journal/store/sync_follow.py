"""`follow_push`: keep pushing a store's sessions to another as they grow (`p8j sync --follow`).

Contract:
- The source is watched through the seam (`SessionStore.watch`), registered
  before the first full pass, so no change after the call is missed: each
  change pushes the sessions it names; a quiet interval (`rescan_s`) pushes
  every session again (cheap with marks: two heads each), which also retries
  sessions that were ``busy`` and picks up whatever a watch cannot report.
  A source that cannot be watched yet (no sessions directory) is polled every
  `rescan_s` and watched as soon as it can be.
- Pushes are `push_store`'s (sync.py): whole, verified records only, so a
  local writer that crashes mid-record leaves its torn tail behind, unpushed,
  and a writer that resumes (repairing the tail) is followed on.
- `on_report` gets every pass's `SyncReport`; a pass that fails as a whole
  (the target unreachable: `P8jError`) goes to `on_error` and is retried
  after `rescan_s` with every session, so a server restart only delays the
  push. `stop` ends the loop (checked at least every `rescan_s`), after which
  the watch is closed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, MutableMapping

from ..errors import JournalIOError, P8jError
from .base import SessionStore, StoreWatch
from .sync import Mark, SyncReport, push_store

__all__ = ["follow_push"]


def _watch(source: SessionStore, stop: threading.Event) -> StoreWatch | None:
    try:
        return source.watch(stop=stop)
    except JournalIOError:
        return None  # nothing to watch yet (no sessions directory): poll


def _changed(source: SessionStore, watch: StoreWatch, timeout: float) -> list[str] | None:
    """Sessions the watch saw change (None: a quiet interval, push everything)."""
    changes = watch.wait(timeout)
    if not changes:
        return None
    ids = {c.session_id for c in changes if c.kind != "removed"}
    return [sid for sid in sorted(ids) if source.exists(sid)]


def follow_push(
    source: SessionStore,
    target: SessionStore,
    marks: MutableMapping[str, Mark],
    *,
    stop: threading.Event,
    on_report: Callable[[SyncReport], None],
    on_error: Callable[[P8jError], None],
    rescan_s: float = 1.0,
) -> None:
    """Push every session, then keep pushing what changes until `stop` is set."""
    watch = _watch(source, stop)
    ids: list[str] | None = None
    try:
        while not stop.is_set():
            try:
                on_report(push_store(source, target, marks, session_ids=ids))
            except P8jError as exc:
                on_error(exc)
                stop.wait(rescan_s)
                ids = None  # everything again: what changed meanwhile is not known
                continue
            if watch is None:
                stop.wait(rescan_s)
                watch = _watch(source, stop)
                ids = None
            else:
                ids = _changed(source, watch, rescan_s)
    finally:
        if watch is not None:
            watch.close()
