"""FileWatch: watchfiles' public API, registered on return, mapped to the store's changes."""

from __future__ import annotations

import ast
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
from p8j.journal.store.fs.watch import FileWatch

ROOT = Path(__file__).resolve().parents[4]


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


def test_registered_when_the_constructor_returns(store: FileStore) -> None:
    # FileWatch knows the watch is registered when watchfiles first asks its stop_event;
    # if a watchfiles release stops asking before it blocks, this start times out loudly.
    t0 = time.monotonic()
    watch = FileWatch(store.home.sessions_dir, start_timeout=5.0)
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


def test_other_names_and_other_sessions_are_ignored(store: FileStore) -> None:
    mine, other = new_session_id(), new_session_id()
    watch = store.watch([mine])
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


def test_a_rewrite_is_reported(store: FileStore) -> None:
    sid = new_session_id()
    store.open_writer(sid, first=start(sid)).close()
    line = encode_event(start(sid))
    watch = store.watch()
    try:
        store.rewrite(sid, [line[:-1]])
        seen = _collect(watch, Change("created", sid))
        assert all(c.session_id == sid for c in seen)
    finally:
        watch.close()


def test_stop_event_ends_the_watch(store: FileStore) -> None:
    stop = threading.Event()
    watch = store.watch(stop=stop)
    stop.set()
    assert watch.wait(10) == []
    watch.close()
    assert not watch.alive
    assert watch.wait(0) == []


def test_missing_directory_is_a_journal_error(tmp_path: Path) -> None:
    with pytest.raises(JournalIOError, match="no sessions directory"):
        FileWatch(tmp_path / "nowhere")
    with pytest.raises(JournalIOError, match="no sessions directory"):
        FileStore(tmp_path / "nohome").watch()


def test_an_inotify_failure_is_a_journal_error(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import watchfiles

    def exhausted(*paths: object, **kw: Any) -> Any:
        if paths:  # always: a generator (as watchfiles.watch is) failing at its first next()
            raise OSError(24, "inotify instance limit reached")
        yield set()

    monkeypatch.setattr(watchfiles, "watch", exhausted)
    with pytest.raises(JournalIOError, match="cannot watch with inotify") as info:
        store.watch()
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
    watch = store.watch()
    try:
        assert watch.wait(10) == [Change("created", sid)]
    finally:
        watch.close()
    assert not watch.alive
