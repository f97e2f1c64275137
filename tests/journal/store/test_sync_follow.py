"""`follow_push` and an unreachable target: pushes as sessions grow, retries a failed pass."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from journal_helpers import wait_until
from sync_helpers import assert_same_store, record_sessions

from p8j.journal import JournalIOError, P8jError, SessionManager
from p8j.journal.store import FileStore, MemoryStore
from p8j.journal.store.sync import Mark, SyncReport, push_store
from p8j.journal.store.sync_follow import follow_push


class Flaky(MemoryStore):
    """A memory store that cannot be listed while `down` is set (a server away)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = threading.Event()
        self.calls = 0

    def session_ids(self) -> list[str]:
        if self.down.is_set():
            raise JournalIOError("cannot connect: no answer")
        return super().session_ids()

    def exists(self, session_id: str) -> bool:
        self.calls += 1
        return super().exists(session_id)


def test_an_unreachable_target_fails_the_pass_once(tmp_path: Path) -> None:
    source = FileStore(tmp_path / "src")
    record_sessions(source, n=3)
    target = Flaky()
    target.down.set()
    with pytest.raises(JournalIOError, match="cannot connect"):
        push_store(source, target)
    assert target.calls == 0  # not tried once per session


class Following:
    """follow_push in a thread, collecting its reports and errors."""

    def __init__(self, source: Any, target: Any) -> None:
        self.stop = threading.Event()
        self.reports: list[SyncReport] = []
        self.errors: list[P8jError] = []
        self.marks: dict[str, Mark] = {}
        self.thread = threading.Thread(
            target=follow_push,
            args=(source, target, self.marks),
            kwargs={
                "stop": self.stop,
                "on_report": self.reports.append,
                "on_error": self.errors.append,
                "rescan_s": 0.05,
            },
            daemon=True,
        )
        self.thread.start()

    def end(self) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


def test_follow_pushes_new_sessions_and_new_events(tmp_path: Path) -> None:
    source = FileStore(tmp_path / "src")
    target = MemoryStore()
    run = Following(source, target)  # before the home exists: it polls, then watches
    try:
        ids = record_sessions(source, n=2)
        wait_until(lambda: target.session_ids() == ids, 10, "the sessions")
        mgr = SessionManager(store=source)
        mgr.resume_session(ids[0])
        for i in range(20):
            mgr.record_message({"role": "user", "content": f"live {i}"})
        mgr.pause_session()
        wait_until(lambda: _same(source, target), 10, "the new events")
    finally:
        run.end()
    assert_same_store(source, target)
    assert not run.errors
    assert sum(r.events for r in run.reports) == sum(
        len(list(source.open_cursor(sid).read())) for sid in ids
    )


def test_follow_retries_while_the_target_is_away(tmp_path: Path) -> None:
    source = FileStore(tmp_path / "src")
    record_sessions(source, n=2)
    target = Flaky()
    target.down.set()
    run = Following(source, target)
    try:
        wait_until(lambda: len(run.errors) >= 2, 10, "failed passes")
        assert not run.reports
        target.down.clear()
        wait_until(lambda: _same(source, target), 10, "the push after the target is back")
    finally:
        run.end()
    assert "cannot connect" in str(run.errors[0])


def _same(source: FileStore, target: MemoryStore) -> bool:
    try:
        assert_same_store(source, target)
    except (AssertionError, P8jError):
        return False
    return True
