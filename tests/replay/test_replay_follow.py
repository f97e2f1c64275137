"""Follower in-process: backlog merge, live appends, new sessions, rewrites, torn lines, polling."""

from __future__ import annotations

import ctypes
import errno
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest

from p8j.journal import Home, SessionManager
from p8j.journal.codec import encode_event
from p8j.journal.events import SCHEMA_VERSION, MessageRecorded
from p8j.journal.store.fs import inotify
from p8j.journal.timefmt import now_ts
from p8j.replay.follow import FollowedEvent, Follower, FollowNotice, parse_event_types


def wait_until(pred: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.002)


class Run:
    """A Follower iterated by a thread, collecting what it yields."""

    def __init__(self, follower: Follower) -> None:
        self.follower = follower
        self.items: list[FollowedEvent | FollowNotice] = []
        self.error: BaseException | None = None
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for item in self.follower:
                self.items.append(item)
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def events(self) -> list[FollowedEvent]:
        return [i for i in list(self.items) if isinstance(i, FollowedEvent)]

    def notices(self) -> list[FollowNotice]:
        return [i for i in list(self.items) if isinstance(i, FollowNotice)]

    def lines(self, sid: str) -> list[bytes]:
        return [e.line for e in self.events() if e.session_id == sid]

    def stop(self) -> None:
        self.follower.stop()
        self.thread.join(10)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    made: list[Run] = []
    yield made
    for run in made:
        run.follower.stop()
        run.thread.join(10)


def _log_lines(home: Home, sid: str) -> list[bytes]:
    return home.log_path(sid).read_bytes().splitlines(keepends=True)


def _follow(runs: list[Run], home: Home, **kw: Any) -> Run:
    run = Run(Follower(home, **kw))
    runs.append(run)
    return run


def test_no_follow_backlog_merges_sessions_by_time(rhome: Home) -> None:
    a, b = SessionManager(rhome), SessionManager(rhome)
    sa = a.start_session("a")
    sb = b.start_session("b")
    for i in range(5):
        a.record_message({"role": "user", "content": f"a{i}"})
        b.record_message({"role": "user", "content": f"b{i}"})
    a.close()
    b.close()
    items = list(Follower(rhome, backlog=6, follow=False))
    events = [i for i in items if isinstance(i, FollowedEvent)]
    assert [e.event.ts for e in events] == sorted(e.event.ts for e in events)
    texts = [getattr(e.event, "content", type(e.event).__name__) for e in events]
    assert texts == ["a3", "b3", "a4", "b4", "SessionPaused", "SessionPaused"]
    assert {e.session_id for e in events} == {sa.session_id, sb.session_id}
    everything = list(Follower(rhome, backlog=100, follow=False))
    assert len(everything) == 2 * 7


def test_follows_appends_and_new_sessions(rhome: Home, runs: list[Run]) -> None:
    mgr = SessionManager(rhome)
    old = mgr.start_session("old")
    mgr.record_message({"role": "user", "content": "before"})
    run = _follow(runs, rhome, backlog=0)
    assert run.follower.ready.wait(10)
    mgr.record_message({"role": "user", "content": "after"})
    wait_until(lambda: len(run.lines(old.session_id)) == 1, what="the new message")
    mgr.end_session()
    other = SessionManager(rhome)
    new = other.start_session("new")
    other.record_command("make")
    other.end_session()
    wait_until(lambda: len(run.lines(new.session_id)) == 3, what="the new session")
    wait_until(lambda: len(run.lines(old.session_id)) == 2, what="the end")
    run.stop()
    assert run.lines(old.session_id) == _log_lines(rhome, old.session_id)[-2:]
    assert run.lines(new.session_id) == _log_lines(rhome, new.session_id)
    assert {e.project_name for e in run.events()} == {"old", "new"}


def test_partial_lines_wait_for_their_newline(rhome: Home, runs: list[Run]) -> None:
    mgr = SessionManager(rhome)
    s = mgr.start_session("p")
    run = _follow(runs, rhome, backlog=0)
    assert run.follower.ready.wait(10)
    # A writer mid-append: half a line first, the rest later.
    line = bytes(
        encode_event(
            MessageRecorded(
                SCHEMA_VERSION, s.session_id, 1, now_ts(), role="user", content="x" * 999
            )
        )
    )
    fd = os.open(rhome.log_path(s.session_id), os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, line[:500])
        # Give the follower every chance to (wrongly) print the half line.
        time.sleep(0.05)
        assert run.events() == []
        os.write(fd, line[500:])
    finally:
        os.close(fd)
    wait_until(lambda: len(run.lines(s.session_id)) == 1, what="the completed line")
    run.stop()
    assert run.lines(s.session_id) == [line]
    mgr.close()


def test_rewritten_log_is_not_repeated(rhome: Home, runs: list[Run]) -> None:
    mgr = SessionManager(rhome)
    s = mgr.start_session("r")
    mgr.record_message({"role": "user", "content": "one"})
    mgr.pause_session()
    run = _follow(runs, rhome, backlog=100)
    wait_until(lambda: len(run.lines(s.session_id)) == 3, what="the backlog")
    # A crash-safe rewrite (what `p8j redact` does): a new file renamed over the log.
    path = rhome.log_path(s.session_id)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(path.read_bytes())
    os.replace(tmp, path)
    mgr.resume_session(s.session_id)
    mgr.record_message({"role": "user", "content": "two"})
    mgr.end_session()
    wait_until(lambda: len(run.lines(s.session_id)) == 6, what="the events after the rewrite")
    run.stop()
    assert run.lines(s.session_id) == _log_lines(rhome, s.session_id)


def test_only_the_given_sessions_and_types(rhome: Home, runs: list[Run]) -> None:
    a, b = SessionManager(rhome), SessionManager(rhome)
    sa = a.start_session("a")
    b.start_session("b")
    run = _follow(
        runs, rhome, session_ids=[sa.session_id], types=parse_event_types(["command"]), backlog=0
    )
    assert run.follower.ready.wait(10)
    b.record_command("not followed")
    a.record_message({"role": "user", "content": "filtered out"})
    a.record_command("followed")
    c = SessionManager(rhome)
    c.start_session("c")
    c.record_command("new session, not followed")
    wait_until(lambda: len(run.events()) == 1, what="the command")
    a.end_session()
    run.stop()
    (only,) = run.events()
    assert msgspec.structs.asdict(only.event)["command"] == "followed"
    for m in (b, c):
        m.close()


def test_project_filter_applies_to_new_sessions(rhome: Home, runs: list[Run]) -> None:
    run = _follow(runs, rhome, project="keep*", backlog=0)
    assert run.follower.ready.wait(10)
    wanted, unwanted = SessionManager(rhome), SessionManager(rhome)
    unwanted.start_session("drop-me")
    unwanted.record_command("no")
    keep = wanted.start_session("keep-me")
    wanted.record_command("yes")
    wanted.end_session()
    wait_until(
        lambda: any(
            e.session_id == keep.session_id and type(e.event).__name__ == "SessionEnded"
            for e in run.events()
        ),
        what="keep-me's end",
    )
    run.stop()
    assert {e.project_name for e in run.events()} == {"keep-me"}
    unwanted.close()


def test_corrupt_lines_become_notices(rhome: Home) -> None:
    mgr = SessionManager(rhome)
    s = mgr.start_session("c")
    mgr.record_message({"role": "user", "content": "x"})
    mgr.end_session()
    path = rhome.log_path(s.session_id)
    lines = path.read_bytes().split(b"\n")
    lines.insert(1, b"junk")
    path.write_bytes(b"\n".join(lines))
    items = list(Follower(rhome, backlog=10, follow=False))
    notices = [i for i in items if isinstance(i, FollowNotice)]
    assert len(notices) == 1 and notices[0].issue is not None and notices[0].issue.line == 2
    assert len([i for i in items if isinstance(i, FollowedEvent)]) == 3


def test_falls_back_to_polling_once(
    rhome: Home, runs: list[Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []
    if inotify.inotify_available():  # Linux: inotify itself, at the user's watch limit
        real = inotify._lib()

        class Exhausted:
            inotify_init1 = real.inotify_init1

            @staticmethod
            def inotify_add_watch(fd: int, path: bytes, mask: int) -> int:
                calls.append(False)
                ctypes.set_errno(errno.ENOSPC)
                return -1

        monkeypatch.setattr(inotify, "_lib", lambda: Exhausted)
    else:
        import watchfiles

        def fake(*paths: object, force_polling: bool, **kw: Any) -> Any:
            calls.append(force_polling)
            if calls:  # always: a generator (as watchfiles.watch is) failing at its first next()
                raise OSError(28, "OS file watch limit reached")
            yield set()

        monkeypatch.setattr(watchfiles, "watch", fake)
    mgr = SessionManager(rhome)
    s = mgr.start_session("poll")
    run = _follow(runs, rhome, backlog=0, poll_delay_ms=20)
    assert run.follower.ready.wait(10)
    mgr.record_message({"role": "user", "content": "seen by polling"})
    mgr.end_session()
    wait_until(lambda: len(run.lines(s.session_id)) == 2, what="polled events")
    run.stop()
    assert calls == [False]
    (notice,) = run.notices()
    assert "polling every 20 ms" in notice.message and "watch limit" in notice.message
    assert run.follower.polling


def test_missing_home_is_an_error(tmp_path: object) -> None:
    from p8j.journal import JournalIOError

    with pytest.raises(JournalIOError, match="no journal here"):
        list(Follower(Home(f"{tmp_path}/none"), follow=False))


def test_parse_event_types() -> None:
    assert parse_event_types(["message,command", "end"]) == {
        "MessageRecorded",
        "CommandRecorded",
        "SessionEnded",
    }
    assert parse_event_types(["SessionPaused"]) == {"SessionPaused"}
    assert parse_event_types(["lifecycle"]) == {
        "SessionStarted",
        "SessionPaused",
        "SessionResumed",
        "SessionEnded",
    }
    with pytest.raises(ValueError, match="unknown event type"):
        parse_event_types(["messagez"])


def test_a_log_replaced_by_a_symlink_is_reported_once(rhome: Home, runs: list[Run]) -> None:
    mgr = SessionManager(rhome)
    s = mgr.start_session("sym")
    mgr.pause_session()
    run = _follow(runs, rhome, backlog=0, rescan_ms=20)
    assert run.follower.ready.wait(10)
    path = rhome.log_path(s.session_id)
    target = rhome.path / "outside.jsonl"
    target.write_bytes(path.read_bytes() + b"more\n")
    # Swapped in one rename: a watch that reports at once must not see the log gone first.
    link = path.with_name("swap.tmp")
    link.symlink_to(target)
    os.replace(link, path)
    wait_until(lambda: len(run.notices()) >= 1, what="the refusal")
    # Several rescans later, still one notice and nothing read through the link.
    ticks = len(run.items)
    other = SessionManager(rhome)
    o = other.start_session("other")
    other.end_session()
    wait_until(lambda: len(run.lines(o.session_id)) == 2, what="another session's events")
    run.stop()
    assert len(run.notices()) == 1 and "symlink" in run.notices()[0].message
    assert run.lines(s.session_id) == [] and len(run.items) == ticks + 2


@pytest.mark.parametrize("poll", [False, True], ids=["inotify", "polling"])
def test_a_removed_log_is_reported_once(rhome: Home, runs: list[Run], poll: bool) -> None:
    mgr = SessionManager(rhome)
    s = mgr.start_session("gone")
    mgr.record_message({"role": "user", "content": "before"})
    run = _follow(runs, rhome, backlog=0, rescan_ms=20, force_polling=poll, poll_delay_ms=20)
    assert run.follower.ready.wait(10)
    path = rhome.log_path(s.session_id)
    path.unlink()
    wait_until(lambda: len(run.notices()) >= 1, what="the removal notice")
    other = SessionManager(rhome)
    o = other.start_session("other")
    other.end_session()
    wait_until(lambda: len(run.lines(o.session_id)) == 2, what="another session's events")
    run.stop()
    (notice,) = run.notices()
    assert "was removed" in notice.message and s.session_id in notice.message
    assert str(path) in notice.message


@pytest.mark.parametrize("force_polling", [False, True])
def test_stop_when_ended_ends_with_the_last_followed_session(
    rhome: Home, runs: list[Run], force_polling: bool
) -> None:
    mgr = SessionManager(rhome)
    done = mgr.start_session("done")
    mgr.end_session()
    # A completed session: the backlog, then the iteration ends by itself.
    items = list(Follower(rhome, [done.session_id], stop_when_ended=True, backlog=100))
    assert [type(i.event).__name__ for i in items if isinstance(i, FollowedEvent)] == [
        "SessionStarted",
        "SessionEnded",
    ]
    live = mgr.start_session("live")
    run = _follow(
        runs,
        rhome,
        session_ids=[live.session_id, done.session_id],
        stop_when_ended=True,
        force_polling=force_polling,
        poll_delay_ms=20,
    )
    wait_until(run.follower.ready.is_set, what="the backlog")
    mgr.record_message({"role": "user", "content": "still here"})
    wait_until(lambda: len(run.lines(live.session_id)) == 2, what="the message")
    assert run.thread.is_alive()  # not ended yet: it keeps following
    mgr.end_session()
    run.thread.join(10)
    assert not run.thread.is_alive(), "the follower did not end with its session"
    assert run.lines(live.session_id) == _log_lines(rhome, live.session_id)
    assert run.error is None


def test_since_starts_the_backlog_at_a_time(rhome: Home) -> None:
    mgr = SessionManager(rhome)
    s = mgr.start_session("since")
    for i in range(5):
        mgr.record_message({"role": "user", "content": f"m{i}"})
    assert mgr.current_session is not None and mgr.current_session.last_event_time is not None
    cut = mgr.current_session.last_event_time  # the ts of m4
    for i in range(5, 8):
        mgr.record_message({"role": "user", "content": f"m{i}"})
    mgr.end_session()

    def contents(**kw: Any) -> list[str]:
        return [
            str(getattr(i.event, "content", type(i.event).__name__))
            for i in Follower(rhome, [s.session_id], follow=False, since=cut, **kw)
            if isinstance(i, FollowedEvent)
        ]

    assert contents(backlog=None) == ["m4", "m5", "m6", "m7", "SessionEnded"]
    assert contents(backlog=2) == ["m7", "SessionEnded"]


def test_timeless_events_take_their_place_in_the_backlog_not_the_import_time(
    rhome: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An import ends each session with a pause of its own ("import"), which has no
    # source time: it was merged by the import's clock, so after an import `p8j tail
    # --no-follow` showed nothing but those pauses, newer than anything that happened.
    import fidelity_helpers
    from fidelity_helpers import draft, origin, start, write_session

    from p8j.journal.events import SessionPaused

    old = [
        start("imported", ts="2026-01-01T09:00:00.000000Z"),
        *(
            draft(
                MessageRecorded,
                role="user",
                content=f"old{i}",
                origin=origin(f"2026-01-01T09:0{i + 1}:00.000000Z", line=i + 1),
            )
            for i in range(3)
        ),
        draft(SessionPaused, reason="import"),  # timeless: when the import ran
    ]
    mgr = SessionManager(rhome)
    mgr.start_session("native")
    for i in range(3):
        mgr.record_message({"role": "user", "content": f"new{i}"})
    mgr.close()
    monkeypatch.setattr(fidelity_helpers, "APPEND_TS", now_ts())  # imported after that
    write_session(rhome, old)
    items = [i for i in Follower(rhome, backlog=4, follow=False) if isinstance(i, FollowedEvent)]
    shown = [getattr(i.event, "content", type(i.event).__name__) for i in items]
    assert shown == ["new0", "new1", "new2", "SessionPaused"]
    assert [i.project_name for i in items] == ["native"] * 4
    two = [i for i in Follower(rhome, backlog=9, follow=False) if isinstance(i, FollowedEvent)]
    projects = [i.project_name for i in two]
    assert projects[:4] == ["imported"] * 4  # the import's pause right after its last message
    assert projects[4:] == ["native"] * 5
    since = [i for i in Follower(rhome, since="2026-06-01T00:00:00Z", follow=False, backlog=None)]
    assert {getattr(i, "project_name", None) for i in since} == {"native"}
