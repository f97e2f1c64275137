"""The log under a live writer: removed, moved, swapped, its locks folder deleted; torn sidecars."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from journal_helpers import expect_lines, kill_and_reap, run_child, spawn_child

from p8j.journal import (
    Home,
    JournalIOError,
    P8jError,
    SessionLockedError,
    SessionManager,
    SessionNotFoundError,
    UnsafePathError,
)
from p8j.journal.secrets.rewrite import redact_session
from p8j.journal.store.fs import read_events
from p8j.journal.store.fs.lock import log_holder
from p8j.journal.store.fs.syscalls import Storage
from p8j.journal.store.fs.writer import CHECK_BYTES
from p8j.replay import load_session
from p8j.replay.listing import session_state

# -- a log removed or moved under a live writer ----------------------------------------------


def _msg(i: int) -> dict[str, Any]:
    return {"role": "user", "content": f"message {i}"}


@pytest.mark.parametrize("how", ["rm", "mv"])
def test_a_removed_log_is_noticed_on_the_hot_path_and_at_end(home: Home, how: str) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("rm").session_id
    log = home.log_path(sid)
    if how == "rm":
        log.unlink()
    else:
        log.rename(home.path / "moved.jsonl")
    accepted, bound = 0, CHECK_BYTES // 1000 + 1
    with pytest.raises(JournalIOError, match=r"removed|moved away") as info:
        for i in range(bound + 1):
            mgr.record_message({"role": "user", "content": f"{i} " + "x" * 1000})
            accepted += 1
    assert accepted <= bound  # noticed within one check interval
    assert str(log) in str(info.value)
    with pytest.raises(JournalIOError, match="stopped accepting writes"):
        mgr.record_message(_msg(-1))
    with pytest.raises(P8jError):
        mgr.end_session()


@pytest.mark.parametrize("action", ["save", "pause", "end"])
def test_a_removed_log_is_noticed_at_save_pause_and_end(home: Home, action: str) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("rm").session_id
    mgr.record_message(_msg(0))
    home.log_path(sid).unlink()
    with pytest.raises(JournalIOError, match="removed"):
        if action == "save":
            mgr.save_session()
        elif action == "pause":
            mgr.pause_session()
        else:
            mgr.end_session()
    assert not home.log_path(sid).exists()  # nothing recreated a partial log either


def test_fsync_mode_notices_a_removed_log_before_the_next_write(home: Home) -> None:
    mgr = SessionManager(home, durability="fsync")
    sid = mgr.start_session("rm").session_id
    home.log_path(sid).unlink()
    with pytest.raises(JournalIOError, match="removed"):
        mgr.record_message(_msg(0))


def test_a_log_replaced_under_the_writer_is_refused_at_save(home: Home) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("swap").session_id
    log = home.log_path(sid)
    copy = home.sessions_dir / ".copy"
    shutil.copyfile(log, copy)
    os.replace(copy, log)
    with pytest.raises(UnsafePathError, match="replaced"):
        mgr.save_session()


# -- one writer, whatever happens to the coordination files -----------------------------------


def test_rm_rf_locks_never_admits_a_second_writer(home: Home) -> None:
    proc = spawn_child("hold", str(home.path), "new")
    try:
        sid = expect_lines(proc, "held", 1)[0].split()[0]
        shutil.rmtree(home.locks_dir)
        # Still live to a listing, though its lock record is gone.
        assert session_state(home, sid, "active")[0] == "live"
        result = run_child("resume", str(home.path), sid)
        assert result.returncode == 1 and "SessionLockedError" in result.stderr
        with pytest.raises(SessionLockedError, match="open for writing"):
            SessionManager(home).resume_session(sid)
        with pytest.raises(SessionLockedError):
            redact_session(home, sid)
        assert proc.stdin is not None
        proc.stdin.close()
        assert expect_lines(proc, "released", 1) == [""]
        assert proc.wait(timeout=20) == 0
    finally:
        kill_and_reap(proc)
    assert session_state(home, sid, "active")[0] != "live"
    events, cursor = read_events(home.log_path(sid), session_id=sid)
    assert cursor.issues == [] and [e.seq for e in events] == list(range(len(events)))
    mgr = SessionManager(home)
    mgr.resume_session(sid)
    mgr.end_session()


def test_listing_sees_a_live_writer_through_its_log_lock(home: Home) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("live").session_id
    holder = log_holder(home, sid)
    assert holder is not None and holder.pid == os.getpid()
    shutil.rmtree(home.locks_dir)
    assert log_holder(home, sid) is not None
    mgr.close()
    assert log_holder(home, sid) is None
    assert session_state(home, sid, "paused")[0] == "paused"


class _SwapOnOpen(Storage):
    """Swaps the log's name for a hard link to `victim` right after the writer opens it."""

    def __init__(self, log: Path, victim: Path) -> None:
        self.log, self.victim = log, victim
        self.swapped = False

    def open(self, path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        fd = super().open(path, flags, mode, dir_fd=dir_fd)
        if os.fspath(path) == self.log.name and not self.swapped:
            self.swapped = True
            os.rename(self.log, self.log.with_name(".away"))
            os.link(self.victim, self.log)
        return fd


def test_a_hard_link_swapped_in_between_open_and_checks_gets_no_append(
    home: Home, tmp_path: Path
) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("swap").session_id
    mgr.pause_session()
    victim = tmp_path / "outside.txt"
    victim.write_bytes(b"precious\n")
    storage = _SwapOnOpen(home.log_path(sid), victim)
    with pytest.raises(UnsafePathError, match=r"replaced|hard links"):
        SessionManager(home, storage=storage).resume_session(sid)
    assert storage.swapped
    assert victim.read_bytes() == b"precious\n"
    assert read_events(home.sessions_dir / ".away", session_id=sid)[0][-1].seq == 1  # untouched


def test_a_log_swapped_while_it_is_folded_is_refused(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("fold").session_id
    mgr.pause_session()
    log = home.log_path(sid)
    import p8j.journal.recording as recording

    real = recording.fold_log  # type: ignore[attr-defined]

    def swapped(*args: Any, **kw: Any) -> Any:
        copy = home.sessions_dir / ".copy"
        shutil.copyfile(log, copy)
        os.replace(copy, log)  # the fold reads another inode than the one locked
        return real(*args, **kw)

    monkeypatch.setattr(recording, "fold_log", swapped)
    size = log.stat().st_size
    with pytest.raises(UnsafePathError, match="replaced"):
        SessionManager(home).resume_session(sid)
    monkeypatch.undo()
    assert log.stat().st_size == size  # nothing appended to either inode
    SessionManager(home).resume_session(sid)


def test_redact_keeps_the_new_log_locked_until_it_is_done(home: Home) -> None:
    mgr = SessionManager(home, redact=False)
    sid = mgr.start_session("redact").session_id
    mgr.record_message({"role": "user", "content": "key AKIAIOSFODNN7EXAMPLE here"})
    mgr.pause_session()
    refused: list[BaseException] = []

    class _TryWriterAfterRename(Storage):
        def replace(self, src: Any, dst: Any, **kw: Any) -> None:
            super().replace(src, dst, **kw)
            if os.fspath(dst).endswith(".jsonl"):
                try:
                    SessionManager(home).resume_session(sid)
                except SessionLockedError as exc:
                    refused.append(exc)

    report = redact_session(home, sid, storage=_TryWriterAfterRename())
    assert report.changed_lines == 1
    assert len(refused) == 1  # the renamed-in log was already locked
    mgr.resume_session(sid)  # and free again afterwards
    mgr.end_session()


# -- torn-tail sidecars ---------------------------------------------------------------------


class _SidecarWriteFails(Storage):
    def write(self, fd: int, data: Any) -> int:
        if "/torn/" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(fd, data)


def _torn_session(home: Home) -> str:
    with SessionManager(home) as mgr:
        sid = mgr.start_session("torn").session_id
        mgr.record_message(_msg(0))
    with open(home.log_path(sid), "ab") as f:
        f.write(b'{"half a line')
    return sid


def test_a_repair_that_fails_leaves_no_sidecar_and_the_log_as_it_was(home: Home) -> None:
    sid = _torn_session(home)
    before = home.log_path(sid).read_bytes()
    with pytest.raises(JournalIOError, match="torn-tail repair"):
        SessionManager(home, storage=_SidecarWriteFails()).resume_session(sid)
    assert os.listdir(home.torn_dir) == []
    assert home.log_path(sid).read_bytes() == before
    SessionManager(home).resume_session(sid)
    (side,) = os.listdir(home.torn_dir)
    assert (home.torn_dir / side).read_bytes() == b'{"half a line'


def test_a_repair_removes_empty_sidecars_older_versions_left(home: Home) -> None:
    sid = _torn_session(home)
    good = load_session(sid, home)
    empty = home.torn_dir / f"{sid}.123.torn"
    empty.touch(mode=0o600)
    other = home.torn_dir / "01a23c00-0000-7000-8000-000000000000.5.torn"
    other.touch(mode=0o600)  # another session's: not this repair's business
    SessionManager(home).resume_session(sid)
    names = sorted(os.listdir(home.torn_dir))
    assert empty.name not in names and other.name in names
    assert len(names) == 2 and good.last_seq == 2
    (side,) = (n for n in names if n.startswith(sid))
    assert (home.torn_dir / side).read_bytes() == b'{"half a line'


# -- a kill inside start_session --------------------------------------------------------------

_KILLED_START = """
import os, signal, sys
from p8j.journal import SessionManager
from p8j.journal.store.fs.syscalls import Storage

class KillAt(Storage):
    calls = 0
    def _tick(self):
        KillAt.calls += 1
        if KillAt.calls == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)
    def write(self, fd, data):
        self._tick()
        return super().write(fd, data)
    def fsync(self, fd):
        self._tick()
        super().fsync(fd)
    def fsync_dir(self, path):
        self._tick()
        super().fsync_dir(path)

SessionManager(sys.argv[1], storage=KillAt()).start_session("killed")
print("started")
"""


def test_a_kill_inside_start_session_never_leaves_an_empty_log(home: Home) -> None:
    import subprocess
    import sys

    for nth in (1, 2, 3):  # the start line's write, its fsync, the directory's fsync
        h = Home(home.path / f"k{nth}")
        done = subprocess.run(
            [sys.executable, "-c", _KILLED_START, str(h.path), str(nth)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == -9, done.stderr
        for sid in h.session_ids():
            events, _ = read_events(h.log_path(sid), session_id=sid)
            assert events and events[0].seq == 0, "a log without its SessionStarted"
        if h.session_ids():
            SessionManager(h).resume_session("latest")
        else:
            with pytest.raises(SessionNotFoundError):
                SessionManager(h).resume_session("latest")


def test_a_start_that_fails_after_publishing_takes_its_log_back(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    from p8j.journal.store.fs.lock import SessionLock

    def refuse(self: SessionLock) -> None:
        raise JournalIOError("cannot write lock: disk full", path=self.path)

    monkeypatch.setattr(SessionLock, "record", refuse)
    with pytest.raises(JournalIOError, match="disk full"):
        SessionManager(home).start_session("never")
    assert home.session_ids() == []
