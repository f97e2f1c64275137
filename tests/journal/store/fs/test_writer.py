"""The write path: durability modes, size cap, failed and short writes, file safety."""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from journal_helpers import line_ends, patch_os

from p8j.journal import (
    SCHEMA_VERSION,
    CommandRecorded,
    Home,
    JournalIOError,
    RecordTooLargeError,
    SessionLockedError,
    SessionManager,
    SessionResumed,
    SessionStarted,
    SessionStateError,
    UnsafePathError,
)
from p8j.journal.ids import new_session_id
from p8j.journal.store.fs import LogWriter, read_events
from p8j.journal.store.fs.layout import fsync_dir
from p8j.journal.store.fs.store import FileStore, FileWriter
from p8j.journal.store.fs.writer import DEFAULT_MAX_RECORD_BYTES
from p8j.replay import load_session

_real_fdatasync = os.fdatasync


def _start(sid: str) -> SessionStarted:
    return SessionStarted(SCHEMA_VERSION, sid, 0, "2026-01-01T00:00:00.000000Z", project_name="w")


_real_write = os.write


class SyncCounter:
    """A stand-in for os.fdatasync that counts calls and can be told to fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.cond = threading.Condition()

    def __call__(self, fd: int) -> None:
        with self.cond:
            self.calls += 1
            self.cond.notify_all()
        if self.fail:
            raise OSError(errno.EIO, "Input/output error")
        _real_fdatasync(fd)

    def wait_for(self, n: int, timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.calls >= n, timeout)


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> SyncCounter:
    counter = SyncCounter()
    patch_os(monkeypatch, "fdatasync", counter)
    return counter


@pytest.fixture
def managers(home: Home) -> Iterator[Callable[..., SessionManager]]:
    made: list[SessionManager] = []

    def make(**kw: Any) -> SessionManager:
        m = SessionManager(home, **kw)
        made.append(m)
        return m

    yield make
    for m in made:
        with contextlib.suppress(JournalIOError):  # a test broke its writer on purpose
            m.close()


def _msg(i: int) -> dict[str, Any]:
    return {"role": "user", "content": f"message {i}"}


# -- durability ------------------------------------------------------------------------


def test_default_mode_syncs_only_at_save_pause_and_end(
    syncs: SyncCounter, managers: Callable[..., SessionManager]
) -> None:
    mgr = managers()
    mgr.start_session("d")
    base = syncs.calls
    for i in range(50):
        mgr.record_message(_msg(i))
    assert syncs.calls == base
    mgr.save_session()
    assert syncs.calls == base + 1
    mgr.pause_session()
    assert syncs.calls == base + 2
    mgr.end_session()
    assert syncs.calls == base + 3


def test_fsync_mode_syncs_every_record(
    syncs: SyncCounter, managers: Callable[..., SessionManager]
) -> None:
    mgr = managers(durability="fsync")
    mgr.start_session("f")
    for i in range(20):
        before = syncs.calls
        mgr.record_message(_msg(i))
        assert syncs.calls == before + 1
    before = syncs.calls
    mgr.record_command("ls")
    mgr.record_execution("ls", 0)
    mgr.update_metadata(a=1)
    assert syncs.calls == before + 3


def test_batch_mode_syncs_every_m_events(
    syncs: SyncCounter, managers: Callable[..., SessionManager]
) -> None:
    # An interval far away: only the event count can trigger a sync here.
    mgr = managers(durability="batch", batch_max_events=10, batch_interval_ms=600_000)
    mgr.start_session("b")
    base = syncs.calls
    for i in range(9):
        mgr.record_message(_msg(i))
    assert syncs.calls == base
    mgr.record_message(_msg(9))
    assert syncs.calls == base + 1
    for i in range(10):
        mgr.record_message(_msg(i))
    assert syncs.calls == base + 2


def test_batch_mode_syncs_within_the_interval(
    syncs: SyncCounter, managers: Callable[..., SessionManager]
) -> None:
    mgr = managers(durability="batch", batch_max_events=10_000, batch_interval_ms=20)
    mgr.start_session("b")
    base = syncs.calls
    mgr.record_message(_msg(0))
    mgr.record_message(_msg(1))
    assert syncs.wait_for(base + 1), "the background thread never synced"
    mgr.record_message(_msg(2))
    assert syncs.wait_for(base + 2), "a second batch was never synced"
    mgr.pause_session()


def test_fdatasync_failure_refuses_appends_until_reopened(
    syncs: SyncCounter, managers: Callable[..., SessionManager], home: Home
) -> None:
    mgr = managers(durability="fsync")
    sid = mgr.start_session("eio").session_id
    mgr.record_message(_msg(1))
    syncs.fail = True
    with pytest.raises(JournalIOError, match="fdatasync"):
        mgr.record_message(_msg(2))
    syncs.fail = False
    with pytest.raises(JournalIOError, match="reopen"):
        mgr.record_message(_msg(3))
    with pytest.raises(JournalIOError, match="reopen"):
        mgr.record_command("ls")
    # Nothing acknowledged is missing, and nothing is written twice.
    events, _ = read_events(home.log_path(sid))
    assert [e.seq for e in events] == [0, 1, 2]
    # Reopening (resume in the same manager) recovers and continues the seq.
    resumed = mgr.resume_session(sid)
    assert resumed.last_seq == 3 and resumed.status == "active"
    assert mgr.record_message(_msg(4)) == 4
    mgr.end_session()
    assert load_session(sid, home) == mgr.current_session
    assert len(load_session(sid, home).conversation_history) == 3


def test_batch_flusher_failure_refuses_the_next_append(
    syncs: SyncCounter, managers: Callable[..., SessionManager]
) -> None:
    mgr = managers(durability="batch", batch_max_events=10_000, batch_interval_ms=5)
    sid = mgr.start_session("eio").session_id
    syncs.fail = True
    base = syncs.calls
    mgr.record_message(_msg(1))
    assert syncs.wait_for(base + 1)
    with pytest.raises(JournalIOError, match="reopen"):
        mgr.record_message(_msg(2))
    syncs.fail = False
    mgr.resume_session(sid)
    assert mgr.record_message(_msg(3)) == 3


def test_creating_a_log_fsyncs_its_directory(
    monkeypatch: pytest.MonkeyPatch, managers: Callable[..., SessionManager], home: Home
) -> None:
    synced: list[Path] = []

    def spy(path: Path) -> None:
        synced.append(Path(path))
        fsync_dir(path)

    patch_os(monkeypatch, "fsync_dir", spy)
    mgr = managers()
    mgr.start_session("dir")
    assert synced == [home.sessions_dir]


# -- size cap --------------------------------------------------------------------------


def test_record_too_large_writes_nothing(
    managers: Callable[..., SessionManager], home: Home
) -> None:
    # Blobs off: with them, a message over the cap moves its content out of the line.
    mgr = managers(blob_threshold=None)
    sid = mgr.start_session("big").session_id
    mgr.record_message(_msg(1))
    path = home.log_path(sid)
    before = path.read_bytes()
    blocks = [{"type": "text", "text": "x" * 1000} for _ in range(1100)]
    with pytest.raises(RecordTooLargeError, match="cap is 1048576") as info:
        mgr.record_message({"role": "user", "content": blocks})
    assert info.value.path == str(path)
    with pytest.raises(RecordTooLargeError):
        mgr.update_metadata({f"k{i}": "v" * 1000 for i in range(1100)})
    with pytest.raises(RecordTooLargeError):
        mgr.record_execution("cat big", 0, "y" * (2 * DEFAULT_MAX_RECORD_BYTES))
    assert path.read_bytes() == before
    assert mgr.record_message(_msg(2)) == 2  # no seq was used up
    assert load_session(sid, home) == mgr.current_session


def test_record_cap_is_configurable(managers: Callable[..., SessionManager], home: Home) -> None:
    mgr = managers(max_record_bytes=4 << 20)
    sid = mgr.start_session("big").session_id
    mgr.record_message({"role": "user", "content": "x" * (3 << 20)})
    small = managers(max_record_bytes=400)
    with pytest.raises(RecordTooLargeError):
        small.start_session("p", {"pad": "z" * 500})
    assert home.session_ids() == [sid]  # the refused start left no file behind
    with pytest.raises(SessionStateError):
        small.record_message(_msg(1))


# -- failed and short writes --------------------------------------------------------------


def _journal_write(behaviour: Callable[[int, Any, int], int]) -> Callable[[int, Any], int]:
    """An os.write that applies `behaviour(fd, data, nth)` to writes to a journal log only."""
    count = [0]
    log_fds: set[int] = set()

    def fake(fd: int, data: Any) -> int:
        if fd not in log_fds:
            if b'"session_id"' not in bytes(data[:200]):
                return _real_write(fd, data)
            log_fds.add(fd)
        count[0] += 1
        return behaviour(fd, data, count[0])

    return fake


@pytest.mark.parametrize("failure", ["enospc", "zero", "interrupt", "first"])
def test_short_write_is_rolled_back(
    failure: str,
    monkeypatch: pytest.MonkeyPatch,
    managers: Callable[..., SessionManager],
    home: Home,
) -> None:
    mgr = managers()
    sid = mgr.start_session("short").session_id
    mgr.record_message(_msg(1))
    path = home.log_path(sid)
    before = path.read_bytes()

    def behaviour(fd: int, data: Any, nth: int) -> int:
        if failure == "first":
            raise OSError(errno.ENOSPC, "No space left on device")
        if nth == 1:
            return _real_write(fd, data[: len(data) // 2])  # half a line reaches the file
        if failure == "zero":
            return 0
        if failure == "interrupt":
            raise KeyboardInterrupt
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        patch_os(m, "write", _journal_write(behaviour))
        expected: type[BaseException] = (
            KeyboardInterrupt if failure == "interrupt" else (JournalIOError)
        )
        with pytest.raises(expected):
            mgr.record_message({"role": "user", "content": "lost " * 50})
    assert path.read_bytes() == before  # ends on a record boundary
    assert mgr.record_message(_msg(2)) == 2  # the failed record took no seq
    events, cursor = read_events(path, session_id=sid)
    assert [e.seq for e in events] == [0, 1, 2] and cursor.torn is None
    assert load_session(sid, home) == mgr.current_session


def test_a_file_store_writer_appends_with_the_log_writers_own_method(home: Home) -> None:
    # One call per record, not a wrapper calling it (issue 13's regression pass).
    sid = new_session_id()
    writer = FileStore(home).open_writer(sid, first=_start(sid))
    try:
        assert isinstance(writer, FileWriter)
        assert writer.append == writer.log.append
        line = writer.append(CommandRecorded(SCHEMA_VERSION, sid, 1, "t", command="x"))
        assert writer.last_record == line
        assert writer.position.offset == home.log_path(sid).stat().st_size
    finally:
        writer.close()


def test_writer_refuses_after_close(home: Home) -> None:
    sid = new_session_id()
    writer = LogWriter(home, sid, create=True, first=_start(sid))
    writer.close()
    writer.close()  # idempotent
    assert writer.closed
    with pytest.raises(JournalIOError, match="closed"):
        writer.append(CommandRecorded(SCHEMA_VERSION, sid, 0, "t", command="x"))


def test_bad_durability_is_refused(home: Home) -> None:
    with pytest.raises(ValueError, match="durability"):
        SessionManager(home, durability="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="durability"):
        LogWriter(home, new_session_id(), create=True, durability="never")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="first event"):
        LogWriter(home, new_session_id(), create=True)


# -- file safety ---------------------------------------------------------------------------


def test_hard_linked_or_symlinked_log_is_refused(
    managers: Callable[..., SessionManager], home: Home, tmp_path: Path
) -> None:
    mgr = managers()
    sid = mgr.start_session("links").session_id
    mgr.pause_session()
    path = home.log_path(sid)
    os.link(path, tmp_path / "hardlink")
    with pytest.raises(UnsafePathError, match="hard links"):
        mgr.resume_session(sid)
    os.unlink(tmp_path / "hardlink")
    os.rename(path, tmp_path / "elsewhere.jsonl")
    path.symlink_to(tmp_path / "elsewhere.jsonl")
    with pytest.raises(UnsafePathError, match="symlink"):
        mgr.resume_session(sid)
    with pytest.raises(UnsafePathError):
        load_session(sid, home)


def test_second_writer_in_one_process_is_locked_out(home: Home) -> None:
    sid = new_session_id()
    first = LogWriter(home, sid, create=True, first=_start(sid))
    try:
        with pytest.raises(SessionLockedError) as info:
            LogWriter(home, sid, create=False)
        assert info.value.pid == os.getpid()
    finally:
        first.close()
    LogWriter(home, sid, create=False).close()


def test_lines_are_whole_and_newline_terminated(
    managers: Callable[..., SessionManager], home: Home
) -> None:
    mgr = managers()
    sid = mgr.start_session("lines").session_id
    for i in range(10):
        mgr.record_message({"role": "user", "content": "a\nb\r\n\x00" * i})
    data = home.log_path(sid).read_bytes()
    assert len(line_ends(data)) == 11 and data.endswith(b"\n")


def test_leaving_a_manager_after_a_failed_sync_does_not_raise_again(
    syncs: SyncCounter, home: Home
) -> None:
    with SessionManager(home, durability="fsync") as mgr:
        sid = mgr.start_session("eio").session_id
        syncs.fail = True
        with pytest.raises(JournalIOError):
            mgr.record_message(_msg(1))
        syncs.fail = False
    with pytest.raises(SessionStateError, match="not open for writing here; resume it"):
        mgr.record_message(_msg(2))  # closed by the `with`, and it could not pause
    # No pause could be written: the log is left active, and resuming it is a recovery.
    assert load_session(sid, home).status == "active"
    again = SessionManager(home)
    again.resume_session(sid)
    events, _ = read_events(home.log_path(sid))
    assert isinstance(events[-1], SessionResumed) and events[-1].recovered
    again.close()
