"""`collect_garbage` (p8j gc): exactly the orphans go; nothing a session or live writer needs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from p8j.journal import Home, SessionManager
from p8j.journal.cache.snapshots import snapshot_path
from p8j.journal.garbage import GRACE_SECONDS, collect_garbage
from p8j.journal.housekeeping import RemovedFile
from p8j.journal.ids import new_session_id
from p8j.replay import load_session

BIG = "x" * 300_000  # over the default blob threshold


def _with_blob(home: Home, text: str) -> tuple[str, str]:
    """A completed session whose message is stored as a blob; (id, blob digest or "")."""
    before = set(os.listdir(home.blobs_dir)) if home.blobs_dir.is_dir() else set()
    mgr = SessionManager(home)
    sid = mgr.start_session("p").session_id
    mgr.record_message({"role": "user", "content": text})
    mgr.end_session()
    new = sorted(set(os.listdir(home.blobs_dir)) - before) if home.blobs_dir.is_dir() else []
    return sid, new[0] if new else ""


def _age(path: Path, seconds: float = 2 * GRACE_SECONDS) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def _kinds(removed: list[RemovedFile]) -> list[tuple[str, str]]:
    return sorted((f.kind, Path(f.path).name) for f in removed)


def test_nothing_to_collect_in_a_clean_home(home: Home) -> None:
    assert collect_garbage(home).removed == []
    SessionManager(home).start_session("p")  # live; its lock file is held
    assert collect_garbage(home, grace=0).removed == []


def test_orphans_go_and_what_sessions_need_stays(home: Home) -> None:
    kept, blob = _with_blob(home, BIG)
    gone, orphan_blob = _with_blob(home, BIG + "y")
    # What an interrupted `p8j rm` leaves: the log went, the rest stayed.
    snap = snapshot_path(home, gone)
    snap.parent.mkdir(parents=True, exist_ok=True)
    snap.write_bytes(b"s")
    side = home.torn_dir / f"{gone}.12.torn"
    side.write_bytes(b"t")
    os.unlink(home.log_path(gone))
    tmp = home.sessions_dir / f".{kept}.jsonl.abcdef.tmp"
    tmp.write_bytes(b"half a rewrite")
    for path in [*home.blobs_dir.iterdir(), tmp]:
        _age(path)
    dry = collect_garbage(home, dry_run=True)
    expected = [
        ("blob", orphan_blob),
        ("lock", f"{gone}.lock"),
        ("sidecar", side.name),
        ("snapshot", snap.name),
        ("temp", tmp.name),
    ]
    assert _kinds(dry.removed) == expected
    assert dry.bytes_freed == sum(f.size for f in dry.removed)
    assert (home.blobs_dir / orphan_blob).exists() and tmp.exists()  # a dry run removes nothing
    report = collect_garbage(home)
    assert _kinds(report.removed) == expected
    assert not any(Path(f.path).exists() for f in report.removed)
    assert (home.blobs_dir / blob).exists()
    assert load_session(kept, home).conversation_history[0]["content"] == BIG
    assert collect_garbage(home).removed == []


def test_young_blobs_and_temp_files_are_kept(home: Home) -> None:
    # A writer stores a blob before the event that refers to it: it may be in flight.
    _, blob = _with_blob(home, BIG)
    young = home.blobs_dir / ("0" * 64)
    young.write_bytes(b"written just now")
    assert collect_garbage(home).removed == []
    _age(young)
    assert _kinds(collect_garbage(home).removed) == [("blob", young.name)]
    assert (home.blobs_dir / blob).exists()


def test_a_blob_named_only_by_a_sidecar_is_kept(home: Home) -> None:
    sid, blob = _with_blob(home, BIG)
    log = home.log_path(sid)
    (home.torn_dir / f"{sid}.0.torn").write_bytes(log.read_bytes())
    log.write_bytes(log.read_bytes().replace(blob.encode(), b"f" * 64))
    _age(home.blobs_dir / blob)
    assert collect_garbage(home, dry_run=True).removed == []


def test_an_unreadable_log_keeps_every_blob(home: Home) -> None:
    sid, blob = _with_blob(home, BIG)
    os.unlink(home.log_path(sid))
    _age(home.blobs_dir / blob)
    (home.sessions_dir / f"{new_session_id()}.jsonl").mkdir()  # cannot be read as a file
    report = collect_garbage(home, dry_run=True)
    assert report.blobs_kept_because is not None
    assert "blob" not in {f.kind for f in report.removed}


def test_logs_whose_start_never_completed_go_with_their_lock(home: Home) -> None:
    home.ensure()
    empty, torn = new_session_id(), new_session_id()
    home.log_path(empty).write_bytes(b"")
    home.log_path(torn).write_bytes(b'{"v":1,"session_id":"')
    good, _ = _with_blob(home, "short")
    report = collect_garbage(home)
    assert ("empty-log", f"{empty}.jsonl") in _kinds(report.removed)
    assert ("empty-log", f"{torn}.jsonl") in _kinds(report.removed)
    assert not home.log_path(empty).exists() and not home.lock_path(empty).exists()
    assert home.log_path(good).exists()


def test_a_live_writers_files_are_never_touched(home: Home) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("p").session_id
    mgr.record_message({"role": "user", "content": BIG})
    for path in home.blobs_dir.iterdir():
        _age(path)
    _age(home.lock_path(sid))
    assert collect_garbage(home, grace=0).removed == []
    mgr.record_message({"role": "user", "content": "still writing"})
    mgr.end_session()


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_missing_home_has_nothing(tmp_path: Path, dry_run: bool) -> None:
    home = Home(tmp_path / "nowhere")
    assert collect_garbage(home, dry_run=dry_run).removed == []
    assert not home.path.exists()
