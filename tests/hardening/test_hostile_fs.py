"""Hostile file systems (symlinks, hard links, FIFOs, unsafe homes): refused, never written to."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from p8j.journal import Home, JournalIOError, SessionManager, UnsafePathError
from p8j.journal.secrets.rewrite import redact_session
from p8j.journal.secrets.scan import scan_session
from p8j.replay import load_session


def _fingerprint(path: Path) -> tuple[bytes, int, int]:
    st = os.stat(path)
    return hashlib.sha256(path.read_bytes()).digest(), st.st_mtime_ns, st.st_size


def _victim(tmp_path: Path) -> Path:
    """A file outside the home standing for ~/.bashrc."""
    victim = tmp_path / "outside" / "bashrc"
    victim.parent.mkdir()
    victim.write_text("# my shell settings\nexport EDITOR=vi\n")
    return victim


def _paused_session(home: Home) -> str:
    with SessionManager(home) as mgr:
        sid = mgr.start_session("hostile").session_id
        mgr.record_message({"role": "user", "content": "hi"})
    return sid


# -- the home itself ----------------------------------------------------------------------------


def test_a_home_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(UnsafePathError, match="symlink") as info:
        SessionManager(link).start_session("x")
    assert info.value.path == str(link)
    assert list(real.iterdir()) == []  # nothing was created through it


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777, 0o720])
def test_a_group_or_world_writable_home_is_refused(tmp_path: Path, mode: int) -> None:
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(home, mode)
    with pytest.raises(UnsafePathError, match=f"chmod 700 {home}"):
        SessionManager(home).start_session("x")
    assert list(home.iterdir()) == []


def test_a_writable_subdirectory_is_refused_too(home: Home) -> None:
    home.ensure()
    os.chmod(home.sessions_dir, 0o777)
    with pytest.raises(UnsafePathError, match="group- or world-writable"):
        SessionManager(home).start_session("x")


def test_a_home_owned_by_someone_else_is_refused(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    home.ensure()
    me = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: me + 4242)  # as if we were another user
    with pytest.raises(UnsafePathError, match=f"owned by uid {me}, not by you"):
        SessionManager(home).start_session("x")
    assert not any(home.sessions_dir.iterdir())


def test_a_sessions_directory_that_is_a_symlink_is_refused(home: Home, tmp_path: Path) -> None:
    sid = _paused_session(home)
    elsewhere = tmp_path / "elsewhere"
    os.rename(home.sessions_dir, elsewhere)
    home.sessions_dir.symlink_to(elsewhere)
    before = _fingerprint(elsewhere / f"{sid}.jsonl")
    with pytest.raises(UnsafePathError):
        SessionManager(home).resume_session(sid)
    with pytest.raises(UnsafePathError):
        SessionManager(home).start_session("new")
    assert _fingerprint(elsewhere / f"{sid}.jsonl") == before


# -- session files ----------------------------------------------------------------------------


def test_a_session_log_replaced_by_a_symlink_is_refused(home: Home, tmp_path: Path) -> None:
    sid = _paused_session(home)
    victim = _victim(tmp_path)
    before = _fingerprint(victim)
    log = home.log_path(sid)
    log.unlink()
    log.symlink_to(victim)
    mgr = SessionManager(home)
    with pytest.raises(UnsafePathError, match="symlink"):
        mgr.resume_session(sid)
    with pytest.raises(UnsafePathError):
        load_session(sid, home)
    with pytest.raises(UnsafePathError):
        scan_session(home, sid)
    with pytest.raises(UnsafePathError):
        redact_session(home, sid)
    assert _fingerprint(victim) == before


def test_a_session_log_hard_linked_to_another_file_is_refused(home: Home, tmp_path: Path) -> None:
    sid = _paused_session(home)
    victim = _victim(tmp_path)
    before = _fingerprint(victim)
    log = home.log_path(sid)
    log.unlink()
    os.link(victim, log)
    with pytest.raises(UnsafePathError, match="2 hard links"):
        SessionManager(home).resume_session(sid)
    assert _fingerprint(victim) == before


def _within(seconds: float, fn: Callable[[], object]) -> BaseException | None:
    """Run `fn` in a thread; fail the test if it has not returned after `seconds`."""
    error: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # the caller inspects it
            error.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "it hung"
    return error[0] if error else None


def test_a_fifo_in_place_of_a_session_log_never_hangs(home: Home) -> None:
    sid = _paused_session(home)
    log = home.log_path(sid)
    log.unlink()
    os.mkfifo(log, 0o600)
    for action in (
        lambda: SessionManager(home).resume_session(sid),
        lambda: load_session(sid, home),
        lambda: scan_session(home, sid),
        lambda: redact_session(home, sid),
        lambda: SessionManager(home).list_sessions(),
    ):
        error = _within(10, action)
        assert error is None or isinstance(error, UnsafePathError | JournalIOError), error
        if error is not None:
            assert "FIFO" in str(error) or "regular file" in str(error)


def test_a_hard_linked_lock_file_is_not_truncated(home: Home, tmp_path: Path) -> None:
    sid = _paused_session(home)
    victim = _victim(tmp_path)
    before = _fingerprint(victim)
    lock = home.lock_path(sid)
    lock.unlink()
    os.link(victim, lock)
    with pytest.raises(UnsafePathError, match="hard links"):
        SessionManager(home).resume_session(sid)
    with pytest.raises(UnsafePathError, match="hard links"):
        redact_session(home, sid)
    lock.unlink()
    lock.symlink_to(victim)
    with pytest.raises(UnsafePathError, match="symlink"):
        SessionManager(home).resume_session(sid)
    assert _fingerprint(victim) == before


def test_a_planted_torn_sidecar_name_is_never_truncated(home: Home, tmp_path: Path) -> None:
    with SessionManager(home) as mgr:
        sid = mgr.start_session("torn").session_id
        mgr.record_message({"role": "user", "content": "hi"})
    log = home.log_path(sid)
    good = log.stat().st_size
    with open(log, "ab") as f:
        f.write(b'{"half a line')
    victim = _victim(tmp_path)
    before = _fingerprint(victim)
    os.link(victim, home.torn_dir / f"{sid}.{good}.torn")  # the name repair would use
    with SessionManager(home) as mgr:
        mgr.resume_session(sid)
    assert _fingerprint(victim) == before
    sidecars = sorted(p.name for p in home.torn_dir.iterdir())
    assert f"{sid}.{good}.1.torn" in sidecars
    assert (home.torn_dir / f"{sid}.{good}.1.torn").read_bytes() == b'{"half a line'


# -- a race: the log swapped for a symlink while a writer appends ------------------------------

_WRITER = textwrap.dedent(
    """
    import sys
    from p8j.journal import SessionManager, P8jError
    home, sid = sys.argv[1], sys.argv[2]
    mgr = SessionManager(home)
    mgr.resume_session(sid)
    print("ready", flush=True)
    n = refused = 0
    while sys.stdin.readline().strip() != "stop":
        for _ in range(20):
            try:
                mgr.record_message({"role": "user", "content": f"message {n}"})
                n += 1
                if n % 7 == 0:  # reopen now and then: the moment a swapped path matters
                    mgr.pause_session()
                    mgr.resume_session(sid)
            except P8jError:
                refused += 1
                try:
                    mgr.close()
                except P8jError:
                    pass
                mgr = SessionManager(home)
                try:
                    mgr.resume_session(sid)
                except P8jError:
                    refused += 1
        print("tick", flush=True)
    print(f"done {n} {refused}", flush=True)
    """
)


@pytest.mark.parametrize("swap", ["symlink", "hardlink"])
def test_swapping_the_log_while_a_writer_appends_never_touches_outside_files(
    home: Home, tmp_path: Path, swap: str
) -> None:
    sid = _paused_session(home)
    victim = _victim(tmp_path)
    before = _fingerprint(victim)
    log = home.log_path(sid)
    saved = home.sessions_dir / ".saved"
    with subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(home.path), sid],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        swaps = 0
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            child.stdin.write("go\n")
            child.stdin.flush()
            os.rename(log, saved)
            if swap == "symlink":
                log.symlink_to(victim)
            else:
                os.link(victim, log)
            assert child.stdout.readline().strip() == "tick"  # the writer ran meanwhile
            log.unlink()
            os.rename(saved, log)
            swaps += 1
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "tick"
        child.stdin.write("stop\n")
        child.stdin.flush()
        done = child.stdout.readline().split()
        assert child.wait(timeout=30) == 0
    assert done[0] == "done" and int(done[1]) > 0 and int(done[2]) > 0, done
    assert swaps >= 3
    assert _fingerprint(victim) == before  # nothing outside the home was modified
    with SessionManager(home) as mgr:  # and the session is still whole
        mgr.resume_session(sid)
    session = load_session(sid, home, skip_corrupt=True)
    assert session.conversation_history[0] == {"role": "user", "content": "hi"}
