"""An exception at any point of a record (Ctrl-C in a syscall, the lock wait, encode, the fold).

After it, the session is consistent: the event is in the log and folded, or in
neither, or the writer refuses every later record until the session is reopened;
the log always replays equal to the in-memory Session, and the session resumes.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

from p8j.journal import Home, JournalIOError, P8jError, SessionManager, SessionNotFoundError
from p8j.journal.store.fs import read_events
from p8j.journal.store.fs.store import FileWriter
from p8j.journal.store.fs.syscalls import Storage
from p8j.journal.store.fs.writer import Durability
from p8j.replay import load_session

BIG = "b" * (300 * 1024)  # over the blob threshold: the blob write is on the path


class InterruptingStorage(Storage):
    """Raises KeyboardInterrupt at the `fail_at`-th call (1-based, main thread only), once."""

    def __init__(self) -> None:
        self.fail_at = 0
        self.calls = 0
        self.hit: str | None = None

    def _tick(self, kind: str) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # the batch flusher: an interrupt only ever reaches the main thread
        self.calls += 1
        if self.calls == self.fail_at:
            self.hit = kind
            raise KeyboardInterrupt(kind)

    def arm(self, nth: int) -> None:
        """Interrupt the `nth` call from now (0: never)."""
        self.fail_at = self.calls + nth if nth else 0
        self.hit = None

    def open(self, path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        self._tick("open")
        return super().open(path, flags, mode, dir_fd=dir_fd)

    def write(self, fd: int, data: Any) -> int:
        self._tick("write")
        return super().write(fd, data)

    def fsync(self, fd: int) -> None:
        self._tick("fsync")
        super().fsync(fd)

    def fdatasync(self, fd: int) -> None:
        self._tick("fdatasync")
        super().fdatasync(fd)

    def ftruncate(self, fd: int, length: int) -> None:
        self._tick("ftruncate")
        super().ftruncate(fd, length)

    def close(self, fd: int) -> None:
        self._tick("close")
        super().close(fd)

    def replace(self, src: Any, dst: Any, **kw: Any) -> None:
        self._tick("replace")
        super().replace(src, dst, **kw)

    def link(self, src: Any, dst: Any) -> None:
        self._tick("link")
        super().link(src, dst)

    def unlink(self, path: Any, *, dir_fd: int | None = None) -> None:
        self._tick("unlink")
        super().unlink(path, dir_fd=dir_fd)

    def fsync_dir(self, path: Any) -> None:
        self._tick("fsync_dir")
        super().fsync_dir(path)


def _records(mgr: SessionManager) -> list[Callable[[], object]]:
    return [
        lambda: mgr.record_message({"role": "user", "content": "hello"}),
        lambda: mgr.record_message({"role": "assistant", "content": [{"t": 1}], "x": 2}),
        lambda: mgr.record_message({"role": "user", "content": BIG}),
        lambda: mgr.record_command("ls -la"),
        lambda: mgr.record_execution("make", 0, BIG),
        lambda: mgr.update_metadata(step=5),
        lambda: mgr.record_message({"role": "user", "content": "last"}),
    ]


def _consistent(mgr: SessionManager, home: Home, sid: str) -> None:
    events, cursor = read_events(home.log_path(sid), session_id=sid)
    assert [e.seq for e in events] == list(range(len(events))), "a gap or a reused seq"
    assert cursor.issues == []
    assert load_session(sid, home) == mgr.current_session


def _life(home: Home, durability: Durability, nth: int) -> tuple[str | None, int]:
    """Start, then record with an interrupt at the `nth` call; check after every step."""
    storage = InterruptingStorage()
    mgr = SessionManager(home, durability=durability, storage=storage, batch_max_events=2)
    sid = mgr.start_session("interrupts").session_id
    storage.arm(nth)
    for record in _records(mgr):
        try:
            record()
        except KeyboardInterrupt:
            pass
        except P8jError:
            # Allowed only once the writer is failed: it says so until reopened.
            assert mgr._writer is not None and mgr._writer.failed
        _consistent(mgr, home, sid)
    hit = storage.hit
    storage.arm(0)
    try:
        mgr.end_session()
    except P8jError:
        assert mgr._writer is None or mgr._writer.failed
    mgr.close()
    # Whatever happened, the session reopens, ends, and replays equal to what was kept.
    again = SessionManager(home)
    if load_session(sid, home).status != "completed":
        again.resume_session(sid)
        again.record_message({"role": "user", "content": "after"})
        again.end_session()
        _consistent(again, home, sid)
    assert load_session(sid, home).status == "completed"
    return hit, storage.calls


@pytest.mark.parametrize("durability", ["default", "fsync", "batch"])
def test_an_interrupt_at_every_call_of_the_record_path_keeps_the_session_whole(
    home: Home, durability: Durability
) -> None:
    _, total = _life(Home(home.path / "clean"), durability, 0)
    hit: set[str] = set()
    for nth in range(1, total + 2):
        kind, _ = _life(Home(home.path / f"n{nth}"), durability, nth)
        if kind is not None:
            hit.add(kind)
    expected = {"open", "write", "fsync", "replace", "fsync_dir", "close"}
    if durability != "default":
        expected.add("fdatasync")
    assert expected <= hit, hit


def test_an_interrupt_in_fdatasync_keeps_the_written_event_and_its_seq(home: Home) -> None:
    storage = InterruptingStorage()
    mgr = SessionManager(home, durability="fsync", storage=storage)
    sid = mgr.start_session("fsync").session_id
    storage.arm(2)  # the record's write, then its fdatasync
    with pytest.raises(KeyboardInterrupt):
        mgr.record_message({"role": "user", "content": "one"})
    assert storage.hit == "fdatasync"
    assert mgr.current_session is not None and mgr.current_session.last_seq == 1
    assert mgr.record_message({"role": "user", "content": "two"}) == 2  # not seq 1 again
    mgr.end_session()
    events, _ = read_events(home.log_path(sid), session_id=sid)
    assert [e.seq for e in events] == [0, 1, 2, 3]
    assert load_session(sid, home).conversation_history[0]["content"] == "one"


class _InterruptOnEnter:
    """A stand-in for the batch writer's Condition whose next `with` (main thread) raises."""

    def __init__(self, cond: threading.Condition) -> None:
        self.cond = cond
        self.armed = True

    def __enter__(self) -> bool:
        if self.armed and threading.current_thread() is threading.main_thread():
            self.armed = False
            raise KeyboardInterrupt("lock wait")
        return self.cond.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.cond.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cond, name)


def test_an_interrupt_in_the_batch_lock_wait_keeps_the_written_event(home: Home) -> None:
    mgr = SessionManager(home, durability="batch")
    sid = mgr.start_session("batch").session_id
    assert isinstance(mgr._writer, FileWriter)
    writer = mgr._writer.log  # the LogWriter behind the file store's seam
    wrapper = _InterruptOnEnter(writer._cond)
    writer._cond = wrapper  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        mgr.record_message({"role": "user", "content": "one"})
    assert not wrapper.armed
    _consistent(mgr, home, sid)
    assert mgr.record_message({"role": "user", "content": "two"}) == 2
    mgr.pause_session()
    assert SessionManager(home).resume_session(sid).last_seq == 4
    events, _ = read_events(home.log_path(sid), session_id=sid)
    assert [e.seq for e in events] == [0, 1, 2, 3, 4]


def test_an_interrupt_in_encode_writes_nothing(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("encode").session_id
    import p8j.journal.store.fs.writer as writer_module

    real = writer_module.encode_event  # type: ignore[attr-defined]

    def interrupted(event: Any) -> bytes:
        monkeypatch.setattr(writer_module, "encode_event", real)
        raise KeyboardInterrupt("encode")

    monkeypatch.setattr(writer_module, "encode_event", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mgr.record_command("ls")
    _consistent(mgr, home, sid)
    assert mgr.record_command("ls") == 1
    _consistent(mgr, home, sid)


def test_an_interrupt_part_way_through_the_fold_is_refolded_from_the_log(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("fold").session_id
    mgr.record_command("first")
    import p8j.journal.manager as manager_module

    def half_applied(session: Any, event: Any, when: Any = None) -> Any:
        session.command_history.append(event.command)  # mutated, last_seq not yet set
        raise KeyboardInterrupt("fold")

    monkeypatch.setattr(manager_module, "apply", half_applied)
    with pytest.raises(KeyboardInterrupt):
        mgr.record_command("second")
    monkeypatch.undo()
    session = mgr.current_session
    assert session is not None
    assert session.command_history == ["first", "second"] and session.last_seq == 2
    _consistent(mgr, home, sid)
    assert mgr.record_command("third") == 3


class _FailThenInterrupt(Storage):
    """ENOSPC on the next log write, then KeyboardInterrupt in the rollback's ftruncate."""

    armed = False

    def write(self, fd: int, data: Any) -> int:
        if self.armed:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(fd, data)

    def ftruncate(self, fd: int, length: int) -> None:
        if self.armed:
            self.armed = False
            raise KeyboardInterrupt("rollback")
        super().ftruncate(fd, length)


def test_an_interrupted_rollback_fails_the_writer_until_the_session_is_reopened(
    home: Home,
) -> None:
    storage = _FailThenInterrupt()
    mgr = SessionManager(home, storage=storage)
    sid = mgr.start_session("rollback").session_id
    storage.armed = True
    with pytest.raises(KeyboardInterrupt):
        mgr.record_message({"role": "user", "content": "x" * 100})
    for _ in range(2):
        with pytest.raises(JournalIOError, match=r"stopped accepting writes.*interrupted"):
            mgr.record_message({"role": "user", "content": "refused"})
    mgr.resume_session(sid)  # reopening is the way on
    assert mgr.record_message({"role": "user", "content": "after"}) == 2
    mgr.end_session()
    _consistent(mgr, home, sid)


@pytest.mark.parametrize("no_tmpfile", [False, True], ids=["o_tmpfile", "named-temp"])
def test_an_interrupt_anywhere_in_start_never_leaves_a_log_without_its_start(
    home: Home, no_tmpfile: bool
) -> None:
    class Storage_(InterruptingStorage):
        def open(
            self, path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None
        ) -> int:
            if no_tmpfile and flags & os.O_TMPFILE == os.O_TMPFILE:
                raise OSError(errno.EOPNOTSUPP, "no O_TMPFILE here")
            return super().open(path, flags, mode, dir_fd=dir_fd)

    clean = Storage_()
    SessionManager(Home(home.path / "clean"), storage=clean).start_session("s")
    assert clean.calls >= 4
    for nth in range(1, clean.calls + 1):
        h = Home(home.path / f"n{nth}")
        storage = Storage_()
        storage.arm(nth)
        mgr = SessionManager(h, storage=storage)
        try:
            mgr.start_session("s")
        except KeyboardInterrupt:
            assert storage.hit is not None
        names = os.listdir(h.sessions_dir)
        assert [n for n in names if not n.endswith(".jsonl")] == []  # no temp file left
        for sid in h.session_ids():
            events, _ = read_events(h.log_path(sid), session_id=sid)
            assert events and events[0].seq == 0  # never an empty log
        if h.session_ids():  # a start that got as far as publishing the log resumes
            assert SessionManager(h).resume_session("latest").last_seq == 1
        else:
            with pytest.raises(SessionNotFoundError):
                SessionManager(h).resume_session("latest")
