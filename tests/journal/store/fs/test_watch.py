"""FileWatch: inotify (Linux) or watchfiles' public API, registered on return, mapped to changes."""

from __future__ import annotations

import ast
import ctypes
import errno
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from p8j.journal.codec import encode_event
from p8j.journal.errors import JournalIOError
from p8j.journal.ids import new_session_id
from p8j.journal.store import Change, FileStore
from p8j.journal.store.contract import message, start
from p8j.journal.store.fs import inotify
from p8j.journal.store.fs.watch import Backend, FileWatch

ROOT = Path(__file__).resolve().parents[4]
LINUX = sys.platform.startswith("linux")
BACKENDS: list[Backend] = ["inotify", "watchfiles"] if LINUX else ["watchfiles"]


def _collect(watch: FileWatch, want: Change, timeout: float = 10.0) -> list[Change]:
    seen: list[Change] = []
    deadline = time.monotonic() + timeout
    while want not in seen and time.monotonic() < deadline:
        seen.extend(watch.wait(deadline - time.monotonic()))
    assert want in seen, f"{want} not seen within {timeout} s: {seen}"
    return seen


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    s = FileStore(tmp_path / "home")
    s.home.ensure()
    return s


@pytest.mark.parametrize("backend", BACKENDS)
def test_registered_when_the_constructor_returns(store: FileStore, backend: Backend) -> None:
    # inotify_add_watch is synchronous. With watchfiles, FileWatch knows the watch is registered
    # when watchfiles first asks its stop_event; if a watchfiles release stops asking before it
    # blocks, this start times out loudly.
    t0 = time.monotonic()
    watch = FileWatch(store.home.sessions_dir, start_timeout=5.0, backend=backend)
    try:
        assert watch.alive and time.monotonic() - t0 < 5.0
        sid = new_session_id()
        w = store.open_writer(sid, first=start(sid))  # right away: no settling time
        # watchfiles reports a file created and written in one batch as added only.
        seen = _collect(watch, Change("created", sid))
        w.append(message(sid, 1))
        seen += _collect(watch, Change("appended", sid))
        w.close()
        store.remove(sid)
        _collect(watch, Change("removed", sid))
        assert {c.session_id for c in seen} == {sid}
    finally:
        watch.close()
    assert not watch.alive


@pytest.mark.parametrize("backend", BACKENDS)
def test_other_names_and_other_sessions_are_ignored(store: FileStore, backend: Backend) -> None:
    mine, other = new_session_id(), new_session_id()
    watch = FileWatch(store.home.sessions_dir, [mine], backend=backend)
    try:
        d = store.home.sessions_dir
        (d / "notes.txt").write_text("x")
        (d / "not-an-id.jsonl").write_text("x")
        (d / ".tmp-partial").write_text("x")
        (d / "sub").mkdir()
        (d / "sub" / f"{mine}.jsonl").write_text("x")
        store.open_writer(other, first=start(other)).close()
        w = store.open_writer(mine, first=start(mine))
        w.close()
        seen = _collect(watch, Change("created", mine))
        assert {c.session_id for c in seen} == {mine}, seen
    finally:
        watch.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_rewrite_is_reported(store: FileStore, backend: Backend) -> None:
    sid = new_session_id()
    store.open_writer(sid, first=start(sid)).close()
    line = encode_event(start(sid))
    watch = FileWatch(store.home.sessions_dir, backend=backend)
    try:
        store.rewrite(sid, [line[:-1]])
        seen = _collect(watch, Change("created", sid))
        assert all(c.session_id == sid for c in seen)
    finally:
        watch.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_stop_event_ends_the_watch(store: FileStore, backend: Backend) -> None:
    stop = threading.Event()
    watch = FileWatch(store.home.sessions_dir, stop=stop, backend=backend)
    stop.set()
    assert watch.wait(10) == []
    watch.close()
    assert not watch.alive
    assert watch.wait(0) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_directory_is_a_journal_error(tmp_path: Path, backend: Backend) -> None:
    with pytest.raises(JournalIOError, match="no sessions directory"):
        FileWatch(tmp_path / "nowhere", backend=backend)
    with pytest.raises(JournalIOError, match="no sessions directory"):
        FileStore(tmp_path / "nohome").watch()


def test_a_watchfiles_failure_is_a_journal_error(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import watchfiles

    def exhausted(*paths: object, **kw: Any) -> Any:
        if paths:  # always: a generator (as watchfiles.watch is) failing at its first next()
            raise OSError(24, "inotify instance limit reached")
        yield set()

    monkeypatch.setattr(watchfiles, "watch", exhausted)
    with pytest.raises(JournalIOError, match="cannot watch with inotify") as info:
        FileWatch(store.home.sessions_dir, backend="watchfiles")
    assert isinstance(info.value.__cause__, OSError)


def test_no_private_watchfiles_api_anywhere() -> None:
    """Watching goes through watchfiles' public API only (it was `_rust_notify.RustNotify`)."""
    offenders = []
    for folder in ("journal", "replay", "cli"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or "", *(f"{node.module}.{a.name}" for a in node.names)]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                if any(n.startswith("watchfiles") and "._" in n for n in names):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


def test_changes_seen_before_the_constructor_looked_are_kept(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import watchfiles

    sid = new_session_id()
    idle = threading.Event()  # never set: only paces the fake's stop checks

    def early(*paths: object, stop_event: Any, **kw: Any) -> Any:
        # A batch handed over before the first stop check, as a busy directory can do.
        yield {(1, f"{store.home.sessions_dir}/{sid}.jsonl")}
        while not stop_event.is_set():
            idle.wait(0.002)  # what watchfiles' step does between its checks

    monkeypatch.setattr(watchfiles, "watch", early)
    watch = FileWatch(store.home.sessions_dir, backend="watchfiles")
    try:
        assert watch.wait(10) == [Change("created", sid)]
    finally:
        watch.close()
    assert not watch.alive


linux_only = pytest.mark.skipif(not LINUX, reason="inotify is Linux's")


@linux_only
def test_linux_blocks_on_inotify_without_a_thread(store: FileStore) -> None:
    """The idle tail's wake-ups came from watchfiles' thread polling every step: none now."""
    before = threading.active_count()
    watch = store.watch()
    try:
        assert watch.backend == "inotify"
        assert threading.active_count() == before  # nothing runs while nobody waits
        assert watch.wait(0.05) == []  # blocked in poll(2) on the inotify fd, then timed out
        sid = new_session_id()
        store.open_writer(sid, first=start(sid)).close()
        _collect(watch, Change("created", sid))
    finally:
        watch.close()
    assert not watch.alive and watch.wait(0) == []


@linux_only
def test_close_from_another_thread_wakes_a_blocked_wait(store: FileStore) -> None:
    watch = store.watch()
    got: list[list[Change]] = []
    blocked = threading.Thread(target=lambda: got.append(watch.wait(60)))
    blocked.start()
    watch.close()  # before or during the wait: either way it returns [] at once
    blocked.join(10)
    assert not blocked.is_alive() and got == [[]]
    assert not watch.alive


@linux_only
def test_the_directory_removed_ends_the_watch(tmp_path: Path) -> None:
    d = tmp_path / "sessions"
    d.mkdir()
    watch = FileWatch(d, backend="inotify")
    try:
        d.rmdir()
        deadline = time.monotonic() + 10
        while watch.alive and time.monotonic() < deadline:
            assert watch.wait(deadline - time.monotonic()) == []
        assert not watch.alive
    finally:
        watch.close()


@linux_only
@pytest.mark.parametrize(
    ("code", "says"),
    [(errno.EMFILE, "max_user_instances"), (errno.ENOSPC, "max_user_watches")],
)
def test_inotify_limits_are_a_journal_error_naming_the_limit(
    store: FileStore, monkeypatch: pytest.MonkeyPatch, code: int, says: str
) -> None:
    real = inotify._lib()

    class Exhausted:
        @staticmethod
        def inotify_init1(flags: int) -> int:
            if code == errno.ENOSPC:
                return int(real.inotify_init1(flags))  # the watch below fails instead
            ctypes.set_errno(code)
            return -1

        @staticmethod
        def inotify_add_watch(fd: int, path: bytes, mask: int) -> int:
            ctypes.set_errno(code)
            return -1

    monkeypatch.setattr(inotify, "_lib", lambda: Exhausted)
    with pytest.raises(JournalIOError, match=f"cannot watch with inotify.*{says}") as info:
        store.watch()
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == code


@linux_only
def test_a_queue_overflow_reports_every_wanted_log(store: FileStore) -> None:
    mine, other = new_session_id(), new_session_id()
    for sid in (mine, other):
        store.open_writer(sid, first=start(sid)).close()
    watch = inotify.InotifyWatch(store.home.sessions_dir, [mine])
    try:
        header = inotify._HEADER.pack(-1, inotify._IN_Q_OVERFLOW, 0, 0)
        assert watch._parse(bytearray(header)) == [Change("appended", mine)]
    finally:
        watch.close()
