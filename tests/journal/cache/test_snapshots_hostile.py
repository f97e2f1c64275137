"""The snapshot cache against hostile files: never followed, blocked on, trusted or written through.

A symlinked ``cache/`` or ``cache/snapshots/``, a FIFO, a symlink, a hard link or a
foreign file in a snapshot's place: folding still gives what the log says, a
planted snapshot is never read, and nothing outside the home changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import msgspec
import pytest

from p8j.journal import Home, Session, SessionManager
from p8j.journal.cache import snapshots as snap_mod
from p8j.journal.cache.snapshots import fold_log, load_snapshot, save_snapshot, snapshot_path
from p8j.journal.session import fold
from p8j.journal.store.fs import LogCursor
from p8j.journal.store.fs.store import FileStore
from p8j.replay import load_session


@pytest.fixture(autouse=True)
def _every_fold_saves(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fold of any length writes a snapshot: each test would write through a link if it could.
    monkeypatch.setattr(snap_mod, "MIN_EVENTS", 1)


def _session(home: Home) -> tuple[str, Session]:
    with SessionManager(home) as mgr:
        sid = mgr.start_session("real", {"a": 1}).session_id
        for i in range(30):
            mgr.record_message({"role": "user", "content": f"message {i}"})
    return sid, fold_log(home, sid, use_cache=False, save=False)[0]


def _plant(home: Home, sid: str, session: Session) -> bytes:
    """Save a fresh snapshot of `sid` whose project lies; return its bytes."""
    cursor = FileStore(home).open_cursor(sid)
    count = sum(1 for _ in cursor.read(final=True))
    lie = msgspec.structs.replace(session, project_name="PLANTED")
    assert save_snapshot(home, lie, cursor, count)
    got = load_snapshot(home, sid)
    assert got is not None and got.session.project_name == "PLANTED"  # it would be trusted
    return snapshot_path(home, sid).read_bytes()


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).digest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _folds_from_the_log(home: Home, sid: str, session: Session) -> None:
    assert fold_log(home, sid)[0] == session
    assert load_session(sid, home) == session
    assert load_session(sid, home, history=3) == session.window(3)


@pytest.mark.parametrize("linked", ["cache", "cache/snapshots"])
def test_a_symlinked_cache_directory_is_neither_read_nor_written(
    home: Home, tmp_path: Path, linked: str
) -> None:
    sid, session = _session(home)
    _plant(home, sid, session)
    inside = home.path / linked
    outside = tmp_path / "outside"
    shutil.move(inside, outside)
    inside.symlink_to(outside)
    before = _tree(outside)
    assert any(name.endswith(".snap") for name in before)
    _folds_from_the_log(home, sid, session)
    assert load_snapshot(home, sid) is None
    assert _tree(outside) == before  # nothing written, renamed or added there
    assert inside.is_symlink()


@pytest.mark.timeout(30)
def test_a_fifo_at_the_snapshot_path_never_blocks(home: Home) -> None:
    sid, session = _session(home)
    path = snapshot_path(home, sid)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    os.mkfifo(path)
    assert load_snapshot(home, sid) is None
    _folds_from_the_log(home, sid, session)
    assert path.is_file()  # the fold's snapshot took its place
    got = load_snapshot(home, sid)
    assert got is not None and got.session == session


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "foreign"])
def test_a_snapshot_that_is_not_a_plain_file_of_ours_is_ignored(
    home: Home, tmp_path: Path, kind: str
) -> None:
    if kind == "foreign" and os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    sid, session = _session(home)
    planted = _plant(home, sid, session)
    path = snapshot_path(home, sid)
    outside = tmp_path / "outside.snap"
    outside.write_bytes(planted)
    path.unlink()
    if kind == "symlink":
        path.symlink_to(outside)
    elif kind == "hardlink":
        os.link(outside, path)
    else:
        path.write_bytes(planted)
        os.chown(path, 4242, 4242)
    assert load_snapshot(home, sid) is None
    _folds_from_the_log(home, sid, session)
    assert outside.read_bytes() == planted
    assert (
        not path.is_symlink()
        and os.stat(path).st_nlink == 1
        and os.stat(path).st_uid == (os.geteuid())
    )


def test_a_log_that_is_a_symlink_makes_no_snapshot_fresh(home: Home, tmp_path: Path) -> None:
    sid, session = _session(home)
    _plant(home, sid, session)
    log = home.log_path(sid)
    moved = tmp_path / "log.jsonl"
    shutil.move(log, moved)
    log.symlink_to(moved)
    assert load_snapshot(home, sid) is None
    assert fold(LogCursor(moved, session_id=sid).read()) == session
