"""rewrite.py: a NATS rewrite that dies at any step never shows readers a mix, and is recovered.

Failures are injected at every step of the protocol (each publish, before or
after the server stored it, and the purge), and a real rewriting process is
killed with SIGKILL at a random point. After each: every reader through the
seam sees exactly the old log or exactly the new one, `scan` reports the
leftovers, and each next holder (rewrite, resume, recover, remove) leaves a
clean subject holding exactly one of the two.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Literal

import pytest
from child_writer import redacted
from journal_helpers import kill_and_reap, read_line, spawn_child, wait_until
from nats_helpers import drop, fresh_url
from natsd import NatsServer

from p8j.journal import SessionManager, SessionPaused, SessionResumed
from p8j.journal.codec import decode_written
from p8j.journal.errors import JournalIOError, StalePositionError
from p8j.journal.events import AnyEvent, UnknownEvent
from p8j.journal.store.base import Position
from p8j.journal.store.contract import message, start
from p8j.journal.store.nats import NatsStore
from p8j.journal.store.nats import rewrite as rw
from p8j.replay import (
    FollowedEvent,
    Follower,
    FollowNotice,
    list_sessions,
    load_session,
    verify_session,
)

# Not `from p8j.replay import search`: that would make the package's `search` the function
# for every later `import p8j.replay.search as module` (test_replay_search_index.py).
from p8j.replay.search import search

Step = tuple[Literal["publish", "purge"], int, Literal["before", "after"]]
_N = 4  # records in the test log: start + 3 messages
_STEPS: list[Step] = [
    *(("publish", k, when) for k in range(_N) for when in ("before", "after")),
    ("purge", 0, "before"),
    ("purge", 0, "after"),
]


class _Crash(JournalIOError):
    """What the injected failure raises (a connection lost for good, as the caller sees it)."""


@pytest.fixture
def store(nats_url: str) -> Iterator[NatsStore]:
    """The store that writes and rewrites (failures are injected into its connection)."""
    with NatsStore(nats_url) as s:
        yield s


@pytest.fixture
def reader(nats_url: str) -> Iterator[NatsStore]:
    """Another client of the same stream: what every other process sees."""
    with NatsStore(nats_url) as s:
        yield s


Events = list[AnyEvent | UnknownEvent]


def _session(store: NatsStore) -> tuple[str, Events, list[bytes]]:
    """A closed session of `_N` records with secrets; its events and the records redacting them."""
    sid = "0" * 8 + "-0000-4000-8000-" + os.urandom(6).hex()
    w = store.open_writer(sid, first=start(sid, "secrets"))
    for seq in range(1, _N):
        w.append(message(sid, seq, f"secret {seq}"))
    w.close()
    old = list(store.open_cursor(sid).read())
    return sid, old, redacted(old)


@contextlib.contextmanager
def _failing(store: NatsStore, step: Step) -> Iterator[None]:
    """Make call number k of the connection's `op` fail, before or after it took effect."""
    op, k, when = step
    conn = store.call(store.aconn())
    real: Callable[..., Awaitable[Any]] = getattr(conn, op)
    calls = 0

    async def failing(*args: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls - 1 != k:
            return await real(*args, **kw)
        if when == "after":
            await real(*args, **kw)
        raise _Crash(f"injected: {op} #{k} failed {when} it took effect")

    setattr(conn, op, failing)
    try:
        yield
    finally:
        delattr(conn, op)  # the class's method again


def _expected(step: Step) -> tuple[Literal["old", "new"], str | None]:
    """What readers see after the failure at `step`, and the leftover it leaves."""
    op, k, when = step
    if op == "purge":
        return "new", "unpurged" if when == "before" else None
    if k == _N - 1 and when == "after":
        return "new", "unpurged"  # the commit was stored
    return "old", "uncommitted" if k > 0 or when == "after" else None


def _events(store: NatsStore, sid: str) -> tuple[Events, Position]:
    cursor = store.open_cursor(sid)
    events = list(cursor.read())
    return events, cursor.position


def _check_readers(reader: NatsStore, sid: str, want: Events) -> Position:
    """Every reader through the seam sees exactly `want`; the head it stands at."""
    events, end = _events(reader, sid)
    assert events == want
    head = reader.head(sid)
    assert end == head and reader.first_seq(sid) == head.epoch
    assert list(reader.open_cursor(sid, position=head).read()) == []
    secret = want[1].content == "secret 1"  # type: ignore[union-attr]
    assert load_session(sid, store=reader).project_name == "secrets"
    [row] = [r for r in list_sessions(reader) if r.session_id == sid]
    assert row.message_count == _N - 1 and row.last_seq == _N - 1
    assert row.title.startswith("secret" if secret else "redacted")
    report = verify_session(reader, sid)
    assert report.ok and report.events == _N, report
    hits = search(reader, "secret").hits
    assert len(hits) == (_N - 1 if secret else 0)
    return head


def _clean(reader: NatsStore, sid: str) -> None:
    """No leftovers: the subject starts where the log does, and `scan` finds nothing."""
    assert reader.call(rw.scan(reader.call(reader.aconn()))) == []
    if reader.exists(sid):
        first = reader.call(reader._first(sid))
        assert first is not None and first.seq == reader.head(sid).epoch


@pytest.mark.parametrize("action", ["rewrite", "resume", "recover", "remove"])
@pytest.mark.parametrize("step", _STEPS, ids=lambda s: "-".join(map(str, s)))
def test_a_rewrite_failing_at_any_step_shows_old_or_new_then_recovers(
    store: NatsStore, reader: NatsStore, step: Step, action: str
) -> None:
    sid, old, new_records = _session(store)
    new: Events = [decode_written(r) for r in new_records]
    at_end, unread = reader.open_cursor(sid), reader.open_cursor(sid)  # opened on the old log
    assert list(at_end.read()) == old
    old_head = store.head(sid)
    seen, leftover = _expected(step)
    with _failing(store, step), pytest.raises(_Crash):
        store.rewrite(sid, new_records, expected=old_head)
    head = _check_readers(reader, sid, old if seen == "old" else new)
    assert (head == old_head) == (seen == "old")
    if seen == "old":
        assert list(at_end.read()) == []  # the partial new tail is not part of it
        assert list(unread.read()) == old
    else:
        for cursor in (at_end, unread):
            with pytest.raises(StalePositionError):
                list(cursor.read())
    found = reader.call(rw.scan(reader.call(reader.aconn())))
    assert [(f.session_id, f.state, f.head) for f in found] == (
        [(sid, leftover, head)] if leftover else []
    )
    _recover(store, reader, sid, action, old if seen == "old" else new, new)
    _clean(reader, sid)


def _recover(
    store: NatsStore, reader: NatsStore, sid: str, action: str, seen: Events, new: Events
) -> None:
    """The next holder of the session takes over; the log is then exactly what it says."""
    if action == "rewrite":
        store.rewrite(sid, redacted(seen))
        _check_readers(reader, sid, new)
    elif action == "resume":
        mgr = SessionManager(store=store)
        mgr.resume_session(sid)
        mgr.pause_session()
        events, _ = _events(reader, sid)
        assert events[: len(seen)] == seen
        assert [type(e) for e in events[len(seen) :]] == [SessionResumed, SessionPaused]
    elif action == "recover":
        head = store.recover(sid)
        assert head == reader.head(sid)
        _check_readers(reader, sid, seen)
    else:
        store.remove(sid)
        assert not reader.exists(sid) and sid not in reader.session_ids()


def test_an_interrupted_rollback_still_shows_the_old_log_and_recovers(
    store: NatsStore, reader: NatsStore
) -> None:
    sid, old, new_records = _session(store)
    with _failing(store, ("publish", 2, "after")), pytest.raises(_Crash):
        store.rewrite(sid, new_records)
    with _failing(store, ("publish", 1, "after")), pytest.raises(_Crash):
        store.recover(sid)  # the rollback republishes the old records: it dies too
    _check_readers(reader, sid, old)
    [left] = reader.call(rw.scan(reader.call(reader.aconn())))
    assert left.state == "uncommitted" and left.head == store.head(sid)
    with _failing(store, ("purge", 0, "before")), pytest.raises(_Crash):
        store.recover(sid)  # committed this time, not purged
    head = _check_readers(reader, sid, old)
    [left] = reader.call(rw.scan(reader.call(reader.aconn())))
    assert left.state == "unpurged" and left.head == head
    assert store.recover(sid) == head  # completes: the same log, now alone
    _check_readers(reader, sid, old)
    _clean(reader, sid)


def test_a_rewrite_over_an_unpurged_one_supersedes_it(store: NatsStore, reader: NatsStore) -> None:
    sid, old, new_records = _session(store)
    with _failing(store, ("purge", 0, "before")), pytest.raises(_Crash):
        store.rewrite(sid, new_records)
    new_head = reader.head(sid)
    with _failing(store, ("publish", 0, "after")), pytest.raises(_Crash):
        # dies leaving a partial tail (1 of 2 records) on top of the unpurged one
        store.rewrite(sid, redacted(old[:2]), expected=new_head)
    new: Events = [decode_written(r) for r in new_records]
    assert _check_readers(reader, sid, new) == new_head  # the committed rewrite's log
    short = store.rewrite(sid, redacted(old[:2]), expected=new_head)
    assert [e.seq for e in _events(reader, sid)[0]] == [0, 1] and reader.head(sid) == short
    _clean(reader, sid)


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "P8J_STORE": url, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.mark.parametrize("round_", range(3))
def test_kill_9_a_rewriting_process_at_a_random_point(natsd: NatsServer, round_: int) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    url = fresh_url(natsd, lease=1)
    try:
        with NatsStore(url) as store:
            mgr = SessionManager(store=store, redact=False)
            sid = mgr.start_session("secrets").session_id
            for i in range(40):
                mgr.record_message({"role": "user", "content": f"secret {i}"})
            mgr.pause_session()
            old = list(store.open_cursor(sid).read())
            new: Events = [decode_written(r) for r in redacted(old)]
        # Kill at a random publish, at the purge, or after it all (n + 2 points).
        point = rng.randrange(len(old) + 2)
        proc = spawn_child("rewrite", url, sid, env=_env(url))
        try:
            assert proc.stdout is not None
            ends = [["purge"], ["done"]]
            target = ["pub", str(point)] if point < len(old) else ends[point - len(old)]
            while (line := read_line(proc.stdout).split()) != target:
                assert line, f"the child died early (seed {seed})"
            proc.kill()
            proc.wait(20)
        finally:
            kill_and_reap(proc)
        with NatsStore(url) as reader:
            events, end = _events(reader, sid)
            assert events in (old, new), f"a mix (seed {seed}, point {point})"
            assert end == reader.head(sid)
            found = reader.call(rw.scan(reader.call(reader.aconn())))
            first, last = reader.call(reader._ends(sid))
            assert first is not None and last is not None
            clean = (first.seq, last.seq) == (end.epoch, end.offset)  # nothing else on it
            assert (found == []) == clean, f"seed {seed}, point {point}: {found}"
            wait_until(lambda: reader.holder(sid) is None, 15, "the dead rewriter's lease")
            mgr = SessionManager(store=reader, redact=False)
            mgr.resume_session(sid)  # the next holder completes or rolls back
            mgr.end_session()
            after, _ = _events(reader, sid)
            assert after[: len(events)] == events, seed
            _clean(reader, sid)
    finally:
        drop(url)


def test_tail_across_a_crashed_rewrite_and_its_rollback_sees_each_event_once(
    store: NatsStore, reader: NatsStore
) -> None:
    sid, old, new_records = _session(store)
    follower = Follower(reader, [sid], backlog=None, stop_when_ended=True, rescan_ms=50)
    items: list[FollowedEvent | FollowNotice] = []
    thread = threading.Thread(target=lambda: items.extend(follower), daemon=True)
    thread.start()
    try:
        assert follower.ready.wait(20)
        with _failing(store, ("publish", 1, "after")), pytest.raises(_Crash):
            store.rewrite(sid, new_records)  # a partial tail: the follower must not show it
        crashed = list(Follower(reader, [sid], backlog=None, follow=False))
        assert [i.event for i in crashed if isinstance(i, FollowedEvent)] == old
        mgr = SessionManager(store=store, redact=False)
        mgr.resume_session(sid)  # rolls the rewrite back: the old records, a new epoch
        mgr.record_message({"role": "user", "content": "after"})
        mgr.end_session()
        thread.join(20)
        assert not thread.is_alive()
    finally:
        follower.stop()
        thread.join(20)
    assert [i for i in items if isinstance(i, FollowNotice)] == []
    seen = [i.event for i in items if isinstance(i, FollowedEvent)]
    assert seen[: len(old)] == old and [e.seq for e in seen] == list(range(len(old) + 3))
