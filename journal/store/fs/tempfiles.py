"""Temporary files of blob writes: named after their writer, swept once it is gone.

Contract:
- A blob is first written to ``.tmp-<owner>-<pid>-<hash16>-<random>`` in the blobs
  directory, then renamed into place (see blobs.py). ``<owner>`` (8 hex digits)
  names the writer's pid namespace: on Linux a hash of the boot id and the pid
  namespace, so two processes with the same owner mean the same process by a pid;
  elsewhere a hash of the host name. From creation until it closes the file, the
  writer holds an exclusive ``flock`` on it, which the kernel drops when the
  writer dies.
- `sweep` removes a ``.tmp-*`` regular file only when nobody holds its lock and
  either its writer is gone (same owner and no such pid any more; or this very
  process, which is not writing it) or the file has not changed for
  `STALE_AFTER` seconds (a writer on another host or in another container, a
  reused pid, a name from an older p8j).
- So a live writer's file is never removed: it holds the lock, and in the moment
  between creating the file and locking it the file is fresh and its pid alive.
  Were a stalled writer's file removed anyway, its rename would fail and the
  write raise `JournalIOError`: no event ever refers to a blob that is not whole.
- A ``kill -9`` mid-blob leaves its ``.tmp-*`` file until the next blob write in
  that home (every `BlobStore` sweeps before its first write) or
  `BlobStore.sweep_temp`. On a filesystem without locks, nothing is swept.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import re
import stat
import threading
import time
from collections.abc import Iterator

from .syscalls import Storage

__all__ = ["PREFIX", "STALE_AFTER", "lock", "owner_tag", "sweep", "temp_name", "writing"]

PREFIX = ".tmp-"
STALE_AFTER = 3600.0
_NAME_RE = re.compile(r"\.tmp-([0-9a-f]{8})-([1-9][0-9]{0,9})-")
_writing: set[str] = set()  # temp files this process is writing right now
_writing_lock = threading.Lock()


@functools.cache
def owner_tag() -> str:
    """8 hex digits naming the pid namespace this process's pids belong to."""
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            boot = f.read().strip()
        ns = os.stat("/proc/self/ns/pid")
        key = b"%s:%d:%d" % (boot, ns.st_dev, ns.st_ino)
    except OSError:  # not Linux (or no /proc): pids are per host
        import socket  # here only: `p8j ls` imports this module and never needs it

        key = socket.gethostname().encode("utf-8", "surrogateescape")
    from hashlib import sha256  # here only: hashlib (OpenSSL) costs `p8j ls` ~3 ms to load

    return sha256(key).hexdigest()[:8]


def temp_name(digest: str) -> str:
    """A fresh temp-file name for blob `digest` that says which process writes it."""
    return f"{PREFIX}{owner_tag()}-{os.getpid()}-{digest[:16]}-{os.urandom(6).hex()}"


@contextlib.contextmanager
def writing(name: str) -> Iterator[None]:
    """Mark temp file `name` as being written by this process (for `sweep` in this process)."""
    with _writing_lock:
        _writing.add(name)
    try:
        yield
    finally:
        with _writing_lock:
            _writing.discard(name)


def lock(fd: int) -> None:
    """Take the writer's lock on a temp file just created (best effort, never blocks)."""
    # A sweeper may hold it for an instant (it then sees a fresh file of a live pid and
    # leaves it); without locks on this filesystem, sweepers skip every file.
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it exists, as another user
        return False
    return False


def _orphaned(name: str, mtime: float, now: float) -> bool:
    m = _NAME_RE.match(name)
    if m is not None and m.group(1) == owner_tag():
        pid = int(m.group(2))
        if pid == os.getpid():  # ours, or an earlier process's with our pid (containers)
            with _writing_lock:
                return name not in _writing
        if _gone(pid):
            return True
    return now - mtime > STALE_AFTER


def sweep(dir_fd: int, storage: Storage, *, now: float | None = None) -> list[str]:
    """Remove the orphaned temp files in the directory `dir_fd`; return their names."""
    try:
        names = [n for n in os.listdir(dir_fd) if n.startswith(PREFIX)]
    except OSError:
        return []
    when = time.time() if now is None else now
    removed: list[str] = []
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    for name in names:
        try:
            fd = os.open(name, flags, dir_fd=dir_fd)
        except OSError:  # gone already, or a symlink: not ours to judge
            continue
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # a live writer holds it (or this filesystem has no locks)
                continue
            if _orphaned(name, st.st_mtime, when):
                storage.unlink(name, dir_fd=dir_fd)
                removed.append(name)
        except OSError:  # renamed into place or removed meanwhile
            continue
        finally:
            os.close(fd)
    return removed
