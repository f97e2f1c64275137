"""Archived logs: written whole then the log removed, read back through LogCursor, restored."""

from __future__ import annotations

import gzip
import os
import stat
import time
from pathlib import Path

import pytest

from p8j.journal import Home, SessionManager
from p8j.journal.errors import SessionLockedError, SessionNotFoundError, SessionStateError
from p8j.journal.garbage import GRACE_SECONDS, collect_garbage
from p8j.journal.housekeeping import resolve_session_ref
from p8j.journal.store.fs.archive import archive_session, unarchive_session
from p8j.journal.store.fs.archived import archive_path, archived_ids, has_log
from p8j.journal.store.fs.cursor import LogCursor
from p8j.journal.store.fs.syscalls import Storage
from p8j.replay import load_session
from p8j.replay.verify import verify_session


def _completed(home: Home, text: str = "hello") -> str:
    mgr = SessionManager(home)
    sid = mgr.start_session("p").session_id
    mgr.record_message({"role": "user", "content": text})
    mgr.end_session()
    return sid


def test_archive_then_read_then_unarchive_gives_back_the_bytes(home: Home) -> None:
    sid = _completed(home, "hello " * 200)
    log = home.log_path(sid)
    original = log.read_bytes()
    before = load_session(sid, home)
    result = archive_session(home, sid)
    assert not log.exists()
    gz = archive_path(home, sid)
    assert gzip.decompress(gz.read_bytes()) == original
    assert stat.S_IMODE(gz.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.archive_dir.stat().st_mode) == 0o700
    assert (result.bytes_before, result.bytes_after) == (len(original), gz.stat().st_size)
    assert result.bytes_after < result.bytes_before
    assert archived_ids(home) == [sid] and home.session_ids() == [] and has_log(home, sid)
    assert load_session(sid, home) == before  # same reader, same fold
    assert verify_session(home, sid).ok
    back = unarchive_session(home, sid)
    assert log.read_bytes() == original and not gz.exists()
    assert back.bytes_after == len(original)
    assert archived_ids(home) == []


def test_dry_run_changes_nothing(home: Home) -> None:
    sid = _completed(home)
    result = archive_session(home, sid, dry_run=True)
    assert home.log_path(sid).exists() and not archive_path(home, sid).exists()
    assert result.bytes_before == home.log_path(sid).stat().st_size


def test_only_completed_sessions_are_archived(home: Home) -> None:
    paused = SessionManager(home)
    psid = paused.start_session("p").session_id
    paused.pause_session()
    with pytest.raises(SessionStateError, match="paused"):
        archive_session(home, psid)
    live = SessionManager(home)
    lsid = live.start_session("p").session_id
    try:
        with pytest.raises(SessionLockedError):
            archive_session(home, lsid)
    finally:
        live.close()
    with pytest.raises(SessionStateError, match="only completed"):
        archive_session(home, lsid)  # closed without an end: not completed
    assert home.log_path(psid).exists() and home.log_path(lsid).exists()
    assert archived_ids(home) == []


def test_a_flipped_bit_in_the_archive_is_reported_corrupt(home: Home) -> None:
    sid = _completed(home, "some words to damage")
    original = home.log_path(sid).read_bytes()
    archive_session(home, sid)
    at = original.index(b"damage")
    damaged = original[:at] + bytes([original[at] ^ 0x01]) + original[at + 1 :]
    archive_path(home, sid).write_bytes(gzip.compress(damaged))  # valid gzip, bad content
    report = verify_session(home, sid)
    assert not report.ok
    assert any(e.kind == "corrupt" for e in report.errors)


def test_a_failure_before_the_log_removal_leaves_the_log(home: Home) -> None:
    sid = _completed(home)
    original = home.log_path(sid).read_bytes()

    class Failing(Storage):
        def unlink(self, path: str | os.PathLike[str], *, dir_fd: int | None = None) -> None:
            raise OSError(5, "injected")

    with pytest.raises(OSError, match="injected"):
        archive_session(home, sid, storage=Failing())
    assert home.log_path(sid).read_bytes() == original  # the log wins while both exist
    assert load_session(sid, home).status == "completed"
    archive_session(home, sid)  # a retry completes the move
    assert not home.log_path(sid).exists()


def test_archived_ids_resolve_only_when_asked(home: Home) -> None:
    sid = _completed(home)
    archive_session(home, sid)
    with pytest.raises(SessionNotFoundError, match="archived"):
        resolve_session_ref(home, sid[:13])
    assert resolve_session_ref(home, sid[:13], archived=True) == sid
    assert [type(e).__name__ for e in LogCursor(home.log_path(sid)).read()][-1] == "SessionEnded"


def test_resume_of_an_archived_session_is_refused(home: Home) -> None:
    sid = _completed(home)
    archive_session(home, sid)
    with pytest.raises(SessionNotFoundError, match="is archived: `p8j unarchive"):
        SessionManager(home).resume_session(sid)
    assert not home.log_path(sid).exists()


def test_gc_keeps_blobs_an_archived_session_references(home: Home) -> None:
    sid = _completed(home, "x" * 300_000)  # over the blob threshold
    blobs = os.listdir(home.blobs_dir)
    assert len(blobs) == 1
    archive_session(home, sid)
    past = time.time() - 2 * GRACE_SECONDS
    os.utime(home.blobs_dir / blobs[0], (past, past))
    assert collect_garbage(home).removed == []
    assert (home.blobs_dir / blobs[0]).exists()
    assert load_session(sid, home).missing_blobs == []


def test_unarchive_never_overwrites_a_log(home: Home, tmp_path: Path) -> None:
    sid = _completed(home)
    original = home.log_path(sid).read_bytes()
    archive_session(home, sid)
    home.log_path(sid).write_bytes(original)
    with pytest.raises(Exception, match="already has a log"):
        unarchive_session(home, sid)
    assert archive_path(home, sid).exists()


def test_a_damaged_gzip_is_reported_by_verify_not_raised(home: Home) -> None:
    sid = _completed(home, "words " * 100)
    archive_session(home, sid)
    gz = archive_path(home, sid)
    data = bytearray(gz.read_bytes())
    data[len(data) // 2] ^= 0x10  # inside the deflate stream: CRC/length no longer agree
    gz.write_bytes(bytes(data))
    report = verify_session(home, sid)
    assert not report.ok
    assert any(e.kind == "unreadable" and "damaged archive" in e.message for e in report.errors)


def test_a_failure_before_unarchive_links_the_log_keeps_the_archive(home: Home) -> None:
    sid = _completed(home)
    original = home.log_path(sid).read_bytes()
    archive_session(home, sid)

    class Failing(Storage):
        def link(self, src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
            raise OSError(5, "injected")

    with pytest.raises(OSError, match="injected"):
        unarchive_session(home, sid, storage=Failing())
    assert not home.log_path(sid).exists() and archive_path(home, sid).exists()
    assert [n for n in os.listdir(home.sessions_dir) if n.startswith(".")] == []
    unarchive_session(home, sid)
    assert home.log_path(sid).read_bytes() == original
