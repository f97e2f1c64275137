"""Follow live session logs as other processes append to them (what `p8j tail` runs on).

Contract:
- `Follower` yields `FollowedEvent`s (the verified event, its exact raw line, its
  session and project) and `FollowNotice`s (problems met, a switch to polling),
  first the last `backlog` matching events (across the followed sessions, merged
  by timestamp, each session in log order), then, when following, every event
  appended afterwards, until `stop()` or the iterator is closed. `ready` is set
  once the backlog has been yielded: from then on every append is reported.
- Exactly once, in order: each session has one store cursor reading with
  ``final=False``, so a line still being written (or left torn by a writer that
  died) is never yielded; the cursor continues at the next complete line, which
  is where a resumed writer appends after moving the torn bytes aside. A log
  replaced by a new incarnation (a crash-safe rewrite: a new epoch) is re-read
  and events whose seq was already yielded are skipped. A session's end just makes it quiet, unless
  ``stop_when_ended`` and sessions were given by id: then the iteration ends
  once every one of them has ended (at once for sessions already completed). A
  log that was read and then removed is reported once (a `FollowNotice`) and dropped.
- ``since`` (a time) leaves out events before it; the backlog is then every
  matching event since that time (``backlog=None``), or the last `backlog` of them.
- Times are effective times (an imported event's source time). A timeless event
  (an import's own pause or resume) counts, for ``since`` and the backlog's
  merge, as of the last event before it in its log that has a time (its own
  ``ts`` only when none has): where it happened, not when the import ran.
- Followed sessions: the given ids, or (none given) every session, including
  ones created after the follower started. Completed sessions are not read
  unless the backlog needs them.
- Any store (a `Home` means its file store), read only through the seam: a
  store cursor per session, `SessionStore.head` to see what changed (a new
  epoch is a rewrite; a shorter log, a truncation), `SessionStore.entries` to
  find new sessions.
- Change detection: `SessionStore.watch` (the file store's: one inotify watch
  on ``<home>/sessions``, blocking until the kernel reports a change;
  watchfiles where inotify is missing), registered before the first read so
  no append is missed; every `rescan_ms` every followed log's head is also
  checked as a safety net. Where the store cannot watch (inotify unavailable
  or its limits exhausted), the follower polls heads instead (a `FollowNotice`
  says so once): every `poll_delay_ms`, stretched to keep a scan of many
  sessions under ~10% of a core; ``force_polling=True`` polls from the start
  (network file systems, where inotify does not see other hosts' writes).
- A KeyboardInterrupt (Ctrl-C) in the iterating thread ends the iteration with
  that KeyboardInterrupt and nothing else, wherever it lands: the polling sleep
  is one timed lock acquire (in C) that `stop()` cuts short, never
  `threading.Event.wait`, whose Python-level bookkeeping an interrupt landing
  between two of its bytecodes turns into ``RuntimeError: release unlocked lock``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import heapq
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec

from p8j.journal import (
    AnyEvent,
    JournalIOError,
    P8jError,
    SessionEnded,
    SessionStarted,
    SessionSummary,
    UnknownEvent,
)
from p8j.journal.cache.catalog import list_summaries
from p8j.journal.errors import InvalidSessionIdError, StalePositionError
from p8j.journal.fidelity import event_time
from p8j.journal.ids import validate_session_id
from p8j.journal.store.base import (
    ReadIssue,
    SessionStore,
    StoreCursor,
    StoreWatch,
    is_home_store,
)
from p8j.journal.store.select import as_store

from .bounded import ts_bound
from .lines import read_with_lines

if TYPE_CHECKING:
    from .listing import Where

__all__ = ["EVENT_TYPE_NAMES", "FollowNotice", "FollowedEvent", "Follower", "parse_event_types"]

EVENT_TYPE_NAMES: dict[str, str] = {
    "start": "SessionStarted",
    "started": "SessionStarted",
    "message": "MessageRecorded",
    "messages": "MessageRecorded",
    "command": "CommandRecorded",
    "commands": "CommandRecorded",
    "execution": "ExecutionRecorded",
    "executions": "ExecutionRecorded",
    "metadata": "MetadataUpdated",
    "pause": "SessionPaused",
    "paused": "SessionPaused",
    "resume": "SessionResumed",
    "resumed": "SessionResumed",
    "end": "SessionEnded",
    "ended": "SessionEnded",
    "title": "SessionTitled",
    "titled": "SessionTitled",
}
_LIFECYCLE = ("SessionStarted", "SessionPaused", "SessionResumed", "SessionEnded")


def parse_event_types(specs: Iterable[str]) -> frozenset[str]:
    """Event type names from ``message,command,...`` (short names, class names, ``lifecycle``)."""
    known = set(EVENT_TYPE_NAMES.values())
    out: set[str] = set()
    for spec in specs:
        for raw in spec.split(","):
            name = raw.strip()
            if not name:
                continue
            if name.lower() == "lifecycle":
                out.update(_LIFECYCLE)
            elif name.lower() in EVENT_TYPE_NAMES:
                out.add(EVENT_TYPE_NAMES[name.lower()])
            elif name in known:
                out.add(name)
            else:
                choices = ", ".join(sorted(set(EVENT_TYPE_NAMES) | {"lifecycle"}))
                raise ValueError(f"unknown event type {name!r}: expected one of {choices}")
    return frozenset(out)


class FollowedEvent(msgspec.Struct, frozen=True):
    """One event of a followed session, with its exact line from the log."""

    session_id: str
    project_name: str
    event: AnyEvent | UnknownEvent
    line: bytes


class FollowNotice(msgspec.Struct, frozen=True):
    """Something the follower met that a person should know (a bad line, polling)."""

    message: str
    issue: ReadIssue | None = None


def _type_name(event: AnyEvent | UnknownEvent) -> str:
    return event.type if isinstance(event, UnknownEvent) else type(event).__name__


class _Tracked:
    """Follow state of one session log."""

    __slots__ = (
        "cursor",
        "ended",
        "epoch",
        "issues_seen",
        "last_error",
        "last_time",
        "project",
        "session_id",
        "skip_below",
    )

    def __init__(self, session_id: str, project: str | None) -> None:
        self.session_id = session_id
        self.cursor: StoreCursor | None = None  # opened at the first read
        self.epoch: int | None = None  # the log's incarnation, once read
        self.project = project
        self.skip_below = 0
        self.issues_seen = 0
        self.ended = False
        self.last_error = ""  # a failure is reported once, not at every rescan
        self.last_time = ""  # the effective time of the last event read that has one


class Follower:
    """Iterate over the backlog and then the live events of sessions in a journal home."""

    def __init__(
        self,
        home: Where,
        session_ids: Sequence[str] | None = None,
        *,
        types: frozenset[str] | None = None,
        project: str | None = None,
        backlog: int | None = 10,
        since: datetime | str | None = None,
        follow: bool = True,
        stop_when_ended: bool = False,
        force_polling: bool = False,
        poll_delay_ms: int = 100,
        step_ms: int = 2,
        debounce_ms: int = 20,
        rescan_ms: int = 1000,
    ) -> None:
        self.store: SessionStore = as_store(home)
        self.session_ids = list(session_ids) if session_ids is not None else None
        self.types = types
        self.project = project
        # None: no limit (every event since `since`); deque and heap take sys.maxsize.
        self.backlog = sys.maxsize if backlog is None else max(0, backlog)
        self.since = ts_bound(since)  # fixed-width: string order is time order
        self.follow = follow
        self.stop_when_ended = stop_when_ended
        self.force_polling = force_polling
        self.poll_delay_ms = poll_delay_ms
        self.step_ms = step_ms
        self.debounce_ms = debounce_ms
        self.rescan_ms = rescan_ms
        self.polling = force_polling
        self._stop = threading.Event()
        self._wake = threading.Lock()  # held until stop() releases it: the polling sleep
        self._wake.acquire()
        self._watch: StoreWatch | None = None  # closed by stop(): it wakes a blocked wait
        self.ready = threading.Event()
        self._tracked: dict[str, _Tracked] = {}
        self._ignored: set[str] = set()

    def stop(self) -> None:
        """Ask a running iteration to end (safe from another thread)."""
        self._stop.set()
        with contextlib.suppress(RuntimeError):  # released already: stop() was called before
            self._wake.release()
        watch = self._watch
        if watch is not None:
            watch.close()  # the inotify watch blocks in the kernel: wake it now

    def __iter__(self) -> Iterator[FollowedEvent | FollowNotice]:
        return self.run()

    # -- filters ---------------------------------------------------------------

    def _project_ok(self, project: str | None) -> bool:
        return self.project is None or (
            project is not None and fnmatch.fnmatchcase(project, self.project)
        )

    def _wanted(self, event: AnyEvent | UnknownEvent, when: str) -> bool:
        if self.since is not None and when < self.since:
            return False
        return self.types is None or _type_name(event) in self.types

    def _all_ended(self) -> bool:
        """True when following sessions by id with `stop_when_ended` and each has ended."""
        if not self.stop_when_ended or self.session_ids is None:
            return False
        return all(sid not in self._tracked or self._tracked[sid].ended for sid in self.session_ids)

    # -- reading ---------------------------------------------------------------

    def _notices(self, tracked: _Tracked) -> Iterator[FollowNotice]:
        if tracked.cursor is None:
            return
        issues = tracked.cursor.issues
        while tracked.issues_seen < len(issues):
            issue = issues[tracked.issues_seen]
            tracked.issues_seen += 1
            yield FollowNotice(issue.describe(), issue)

    def _read(self, tracked: _Tracked) -> Iterator[FollowedEvent | FollowNotice]:
        """Yield what was appended to `tracked` since the last read (filters applied)."""
        sid = tracked.session_id
        try:
            head = self.store.head(sid)
        except P8jError as exc:
            if not self.store.exists(sid):
                self._drop(sid)
                if tracked.cursor is not None:  # it was there: say it went, once
                    where = tracked.cursor.path
                    yield FollowNotice(f"session {sid}: its log {where} was removed")
                return
            if str(exc) != tracked.last_error:
                tracked.last_error = str(exc)
                yield FollowNotice(str(exc))
            return
        cursor = tracked.cursor
        if cursor is not None and (
            head.epoch != tracked.epoch or head.offset < cursor.position.offset
        ):
            # Rewritten (a new incarnation, or truncated): start over, skip what was seen.
            fresh = _Tracked(sid, tracked.project)
            fresh.skip_below, fresh.ended = cursor.next_seq, tracked.ended
            self._tracked[sid] = tracked = fresh
            cursor = None
        elif cursor is not None and head.offset == cursor.position.offset:
            return
        if cursor is None:
            try:
                cursor = tracked.cursor = self.store.open_cursor(sid, skip_corrupt=True)
            except P8jError as exc:
                if str(exc) != tracked.last_error:
                    tracked.last_error = str(exc)
                    yield FollowNotice(str(exc))
                return
            tracked.epoch = cursor.position.epoch
        try:
            for event, line in read_with_lines(cursor, final=False):
                tracked.last_time = event_time(event) or tracked.last_time
                if isinstance(event, SessionStarted):
                    tracked.project = event.project_name
                elif isinstance(event, SessionEnded):
                    tracked.ended = True
                if event.seq < tracked.skip_below:
                    continue
                if self.project is not None and not self._project_ok(tracked.project):
                    continue
                if self._wanted(event, tracked.last_time or event.ts):
                    yield FollowedEvent(tracked.session_id, tracked.project or "", event, line)
        except StalePositionError:
            return  # replaced since its head was read: the next look starts it over
        except P8jError as exc:
            if str(exc) != tracked.last_error:
                tracked.last_error = str(exc)
                yield FollowNotice(str(exc))
        else:
            tracked.last_error = ""
        yield from self._notices(tracked)
        if tracked.project is not None and not self._project_ok(tracked.project):
            self._drop(tracked.session_id)

    def _drop(self, session_id: str) -> None:
        self._tracked.pop(session_id, None)
        self._ignored.add(session_id)

    # -- the backlog -----------------------------------------------------------

    def _initial(self, summaries: list[SessionSummary]) -> Iterator[FollowedEvent | FollowNotice]:
        """Track the followed sessions, positioned at their ends; yield the backlog."""
        by_recency = sorted(summaries, key=lambda s: s.last_activity or "", reverse=True)
        newest: list[str] = []  # min-heap of the timestamps of the newest `backlog` events
        per_session: list[list[tuple[str, FollowedEvent]]] = []
        notices: list[FollowNotice] = []
        for summary in by_recency:
            sid = summary.session_id
            last = summary.last_activity or ""
            could_contribute = (
                self.backlog > 0
                and not (len(newest) >= self.backlog and last < newest[0])
                and not (self.since is not None and last and last < self.since)
            )
            live = summary.status != "completed"
            if not live and not could_contribute:
                self._ignored.add(sid)
                continue
            tracked = _Tracked(sid, summary.project_name or None)
            self._tracked[sid] = tracked
            # (when, event): a timeless event (an import's own pause) is placed where
            # it stands in its log, at the time of the last event before it that has one.
            keep: deque[tuple[str, FollowedEvent]] = deque(maxlen=self.backlog or 1)
            for item in self._read(tracked):
                if isinstance(item, FollowNotice):
                    notices.append(item)
                elif self.backlog:
                    keep.append((tracked.last_time or item.event.ts, item))
            if self.backlog and keep:
                per_session.append(list(keep))
                for when, _item in keep:
                    if len(newest) < self.backlog:
                        heapq.heappush(newest, when)
                    elif when > newest[0]:
                        heapq.heapreplace(newest, when)
            if tracked.ended and sid in self._tracked:
                # Nothing may follow an end: stop watching it (the backlog is kept).
                del self._tracked[sid]
                self._ignored.add(sid)
        yield from notices
        if self.backlog:
            merged: deque[tuple[str, FollowedEvent]] = deque(
                heapq.merge(*per_session, key=lambda pair: pair[0]), maxlen=self.backlog
            )
            yield from (item for _when, item in merged)

    def _summaries(self) -> list[SessionSummary]:
        summaries = list_summaries(self.store)
        if self.session_ids is not None:
            wanted = set(self.session_ids)
            found = {s.session_id: s for s in summaries if s.session_id in wanted}
            summaries = [found.get(sid) or SessionSummary(session_id=sid) for sid in wanted]
        return [s for s in summaries if s.project_name == "" or self._project_ok(s.project_name)]

    # -- following -------------------------------------------------------------

    def _new_session(self, sid: str) -> Iterator[FollowedEvent | FollowNotice]:
        if sid in self._ignored:
            return
        try:
            validate_session_id(sid)
        except InvalidSessionIdError:
            self._ignored.add(sid)
            return
        if self.session_ids is not None and sid not in self.session_ids:
            self._ignored.add(sid)
            return
        tracked = _Tracked(sid, None)
        self._tracked[sid] = tracked
        yield from self._read(tracked)

    def _changed(self, sid: str) -> Iterator[FollowedEvent | FollowNotice]:
        tracked = self._tracked.get(sid)
        if tracked is None:
            yield from self._new_session(sid)
        else:
            yield from self._read(tracked)

    def _rescan(self) -> Iterator[FollowedEvent | FollowNotice]:
        """The safety net: check every followed log and look for new sessions."""
        for tracked in list(self._tracked.values()):
            if not tracked.ended:
                yield from self._read(tracked)
        try:
            ids = sorted(entry.session_id for entry in self.store.entries())
        except P8jError as exc:
            yield FollowNotice(str(exc))
            return
        for sid in ids:
            if sid not in self._tracked and sid not in self._ignored:
                yield from self._new_session(sid)

    def _watcher(self) -> tuple[StoreWatch | None, FollowNotice | None]:
        """The store's watch (registered now), or (None, why) to poll instead."""
        if self.force_polling:
            return None, None
        store = self.store
        try:
            if is_home_store(store):
                watch = store.watch(
                    stop=self._stop, debounce_ms=self.debounce_ms, step_ms=self.step_ms
                )
            else:
                watch = store.watch(stop=self._stop)
        except JournalIOError as exc:
            if is_home_store(store) and not store.home.sessions_dir.is_dir():
                raise
            reason = exc.message
        else:
            self._watch = watch
            return watch, None
        self.polling = True
        return None, FollowNotice(f"{reason}; polling every {self.poll_delay_ms} ms instead")

    def _poll(self) -> Iterator[FollowedEvent | FollowNotice]:
        """Follow by stat alone: every `poll_delay_ms`, or ten times the cost of a scan."""
        while not self._stop.is_set() and not self._all_ended():
            started = time.monotonic()
            yield from self._rescan()
            spent = time.monotonic() - started
            # Many sessions make a scan expensive: keep polling to at most ~10% of a core.
            # Not self._stop.wait(): see the module docstring (Ctrl-C during the sleep).
            if self._wake.acquire(timeout=max(self.poll_delay_ms / 1000.0, 10 * spent)):
                return  # stop() released it

    def run(self) -> Iterator[FollowedEvent | FollowNotice]:
        """The iteration itself (see the module docstring)."""
        store = self.store
        if is_home_store(store) and not store.home.check().sessions_dir.is_dir():
            raise JournalIOError("no journal here (no sessions directory)", path=store.home.path)
        watcher: StoreWatch | None = None
        if self.follow:
            watcher, notice = self._watcher()  # before the first read: no append goes unseen
            if notice is not None:
                yield notice
        try:
            yield from self._initial(self._summaries())
            self.ready.set()
            if not self.follow or self._all_ended():
                return
            if watcher is None:
                yield from self._poll()
                return
            while not self._stop.is_set() and not self._all_ended():
                changes = watcher.wait(self.rescan_ms / 1000.0)
                if self._stop.is_set():
                    return
                if not changes and not getattr(watcher, "alive", True):  # it ended: poll
                    self.polling = True
                    yield FollowNotice(
                        f"the inotify watch ended; polling every {self.poll_delay_ms} ms"
                    )
                    yield from self._poll()
                    return
                if not changes:
                    yield from self._rescan()  # the safety net
                    continue
                for sid in sorted({c.session_id for c in changes}):
                    yield from self._changed(sid)
        finally:
            if watcher is not None:
                watcher.close()
