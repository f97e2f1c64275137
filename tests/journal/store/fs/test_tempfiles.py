"""Blob temp files: a writer killed mid-blob leaves one, and the next writer sweeps it away.

Never one a live writer is still writing: it holds the file's lock, which the
kernel drops only when the writer dies.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from p8j.journal import Home, SessionManager
from p8j.journal.store.fs import tempfiles
from p8j.journal.store.fs.blobs import DEFAULT_BLOB_THRESHOLD, BlobStore
from p8j.replay import load_session

HOUR = 3600.0

# Stalls in the middle of writing a blob (any write of 1 MiB or more; log lines are
# smaller) until it is killed, after saying so: the parent never has to guess a delay.
_STALLING_WRITER = textwrap.dedent(
    """
    import sys
    from p8j.journal import SessionManager
    from p8j.journal.store.fs.syscalls import Storage

    class Stall(Storage):
        def write(self, fd, data):
            if len(data) < 1 << 20:
                return super().write(fd, data)
            written = super().write(fd, data[: len(data) // 2])
            print("mid-blob", flush=True)
            sys.stdin.read()  # until killed
            return written

    mgr = SessionManager(sys.argv[1], storage=Stall())
    mgr.start_session("killed mid-blob")
    mgr.record_message({"role": "tool", "content": "x" * (2 << 20)})
    """
)


def _temps(home: Home) -> list[str]:
    return sorted(n for n in os.listdir(home.blobs_dir) if n.startswith(tempfiles.PREFIX))


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_writer_killed_mid_blob_leaves_a_temp_file_the_next_writer_removes(
    home: Home,
) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _STALLING_WRITER, str(home.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        try:
            assert child.stdout.readline().strip() == "mid-blob"
            (name,) = _temps(home)
            assert name.startswith(f".tmp-{tempfiles.owner_tag()}-{child.pid}-")
            tmp = home.blobs_dir / name
            assert tmp.stat().st_size == 1 << 20  # half of the blob so far
            # While its writer lives the file stays, however old it looks: the writer
            # holds its lock.
            _age(tmp, 10 * HOUR)
            assert BlobStore(home.blobs_dir).sweep_temp() == []
            assert tmp.exists()
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
    _age(tmp, 0)  # fresh again: only the writer being gone makes it an orphan
    assert _temps(home) == [name]
    # The next writer's first blob sweeps the orphan away, and writes its own blob.
    with SessionManager(home) as mgr:
        sid = mgr.start_session("next").session_id
        mgr.record_message({"role": "tool", "content": "y" * (DEFAULT_BLOB_THRESHOLD + 1)})
    assert _temps(home) == []
    assert len(os.listdir(home.blobs_dir)) == 1
    assert load_session(sid, home).conversation_history[0]["content"][0] == "y"


def _store_with(home: Home, *names: str) -> tuple[BlobStore, list[Path]]:
    home.ensure()
    os.makedirs(home.blobs_dir, mode=0o700, exist_ok=True)
    paths = [home.blobs_dir / n for n in names]
    for p in paths:
        p.write_bytes(b"partial")
    return BlobStore(home.blobs_dir), paths


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    try:
        os.kill(child.pid, 0)
    except ProcessLookupError:
        return child.pid
    pytest.skip("the pid was reused at once")


def test_a_dead_writer_of_this_namespace_is_an_orphan_at_once(home: Home) -> None:
    tag = tempfiles.owner_tag()
    store, (dead, mine, alive) = _store_with(
        home,
        f".tmp-{tag}-{_dead_pid()}-{'a' * 16}-{'0' * 12}",
        # This process's pid but not written by it: an earlier process with our pid.
        f".tmp-{tag}-{os.getpid()}-{'b' * 16}-{'0' * 12}",
        f".tmp-{tag}-{os.getppid()}-{'c' * 16}-{'0' * 12}",  # alive: kept
    )
    assert sorted(store.sweep_temp()) == sorted([dead.name, mine.name])
    assert not dead.exists() and not mine.exists() and alive.exists()


def test_files_of_unknown_writers_go_only_when_stale(home: Home) -> None:
    store, paths = _store_with(
        home,
        f".tmp-00000000-{os.getppid()}-{'a' * 16}-{'0' * 12}",  # another host or container
        f".tmp-{'d' * 16}-{'0' * 12}",  # named by an older p8j, no owner at all
    )
    assert store.sweep_temp() == []
    _age(paths[0], HOUR + 60)
    assert store.sweep_temp() == [paths[0].name]
    _age(paths[1], HOUR + 60)
    assert store.sweep_temp() == [paths[1].name]


def test_a_locked_file_and_other_entries_are_never_touched(home: Home) -> None:
    tag = tempfiles.owner_tag()
    store, (locked, blob) = _store_with(
        home, f".tmp-{tag}-{_dead_pid()}-{'a' * 16}-{'0' * 12}", "f" * 64
    )
    _age(locked, 10 * HOUR)
    _age(blob, 10 * HOUR)
    os.symlink("/nonexistent", home.blobs_dir / ".tmp-link")
    os.mkdir(home.blobs_dir / ".tmp-dir")
    fd = os.open(locked, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as its writer would
        assert store.sweep_temp() == []
    finally:
        os.close(fd)
    assert store.sweep_temp() == [locked.name]
    assert sorted(os.listdir(home.blobs_dir)) == [".tmp-dir", ".tmp-link", "f" * 64]


def test_a_temp_file_this_process_is_writing_is_kept(home: Home) -> None:
    name = tempfiles.temp_name("e" * 64)
    assert name.startswith(f".tmp-{tempfiles.owner_tag()}-{os.getpid()}-eeeeeeeeeeeeeeee-")
    store, (path,) = _store_with(home, name)
    with tempfiles.writing(name):
        assert store.sweep_temp() == []
    assert store.sweep_temp() == [name]
    assert not path.exists()


def test_sweeping_a_home_without_blobs_does_nothing(home: Home) -> None:
    assert BlobStore(home.blobs_dir).sweep_temp() == []
    assert not home.path.exists()
