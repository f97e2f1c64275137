"""A quiet watch on one sessions directory: inotify through libc, blocking in the caller.

Contract:
- `InotifyWatch` is registered when its constructor returns (``inotify_add_watch``
  is synchronous): every create, append, rename onto, removal or rename away of
  a ``<id>.jsonl`` in the directory after that is reported by `wait` as a
  `Change` (``created`` for a create or a rename onto the name, as a rewrite
  does; ``appended``; ``removed``), at least once. Other names, subdirectories
  and invalid ids are ignored.
- No thread: `wait` blocks in ``poll(2)`` on the inotify descriptor and a wake
  pipe, so an idle watch never wakes (watchfiles' loop woke every ``step`` ms,
  ~430 times a second); a change is handed over as soon as the kernel reports
  it (no settling delay). A kernel queue overflow reports every wanted log
  present as ``appended`` (watchers re-read from their own positions).
- `close` may be called from any thread and wakes a blocked `wait` at once;
  the ``stop`` event is looked at before and after each block (a thread that
  sets it and needs the waiter back at once also calls `close`). The
  directory's removal ends the watch (`alive` turns false, `wait` returns []).
- Failures to start raise OSError (``ENOSYS`` where libc has no inotify: not
  Linux; ``EMFILE``/``ENOSPC`` at the user's inotify limits; ``ENOENT``); the
  caller (watch.py) turns them into `JournalIOError`.

Why ctypes of our own and not a library (inotify_simple, asyncinotify): what
a library would add is the two calls bound below and the 16-byte event header;
the wake pipe, the close from another thread and the mapping to `Change`s are
ours either way, and watchfiles stays the portable watch elsewhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import math
import os
import select
import struct
import threading
from collections.abc import Sequence
from pathlib import Path

from ...ids import is_session_id
from ..base import Change, ChangeKind

__all__ = ["InotifyWatch", "inotify_available"]

# <sys/inotify.h>
_IN_MODIFY = 0x00000002
_IN_MOVED_FROM = 0x00000040
_IN_MOVED_TO = 0x00000080
_IN_CREATE = 0x00000100
_IN_DELETE = 0x00000200
_IN_DELETE_SELF = 0x00000400
_IN_MOVE_SELF = 0x00000800
_IN_Q_OVERFLOW = 0x00004000
_IN_IGNORED = 0x00008000
_IN_ONLYDIR = 0x01000000
_IN_ISDIR = 0x40000000
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_MASK = (
    _IN_MODIFY
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
    | _IN_ONLYDIR
)
_ENDED = _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_IGNORED
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of NUL-padded name
_SUFFIX = ".jsonl"
_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    """libc with inotify bound, or OSError(ENOSYS) where it has none."""
    global _libc
    if _libc is None:
        lib = ctypes.CDLL(None, use_errno=True)
        if not hasattr(lib, "inotify_init1"):
            raise OSError(errno.ENOSYS, "inotify is not available here")
        lib.inotify_init1.argtypes = [ctypes.c_int]
        lib.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        _libc = lib
    return _libc


def inotify_available() -> bool:
    """True where libc has inotify (Linux)."""
    try:
        _lib()
    except OSError:
        return False
    return True


_LIMITS = {
    errno.EMFILE: "the inotify instance limit is reached (fs.inotify.max_user_instances)",
    errno.ENOSPC: "the inotify watch limit is reached (fs.inotify.max_user_watches)",
}


def _checked(result: int, path: Path) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, _LIMITS.get(code) or os.strerror(code), str(path))
    return result


def _kind(mask: int) -> ChangeKind:
    if mask & (_IN_DELETE | _IN_MOVED_FROM):
        return "removed"
    if mask & (_IN_CREATE | _IN_MOVED_TO):
        return "created"
    return "appended"


class InotifyWatch:
    """A registered inotify watch on one directory (see the module docstring)."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        session_ids: Sequence[str] | None = None,
        *,
        stop: threading.Event | None = None,
    ) -> None:
        self.directory = Path(directory)
        self._wanted = frozenset(session_ids) if session_ids is not None else None
        self._stop = stop
        self._lock = threading.RLock()  # held while waiting: descriptors close after a wake
        self._wake_lock = threading.Lock()  # never held while blocking: guards the wake pipe
        self._closed = False
        self._ended = False
        lib = _lib()
        fd = _checked(lib.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC), self.directory)
        try:
            path = os.fsencode(self.directory)
            _checked(lib.inotify_add_watch(fd, path, _MASK), self.directory)
            self._wake_r, self._wake_w = os.pipe()
        except BaseException:
            os.close(fd)
            raise
        os.set_blocking(self._wake_w, False)
        self._fd = fd
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)
        self._poll.register(self._wake_r, select.POLLIN)

    @property
    def alive(self) -> bool:
        """True while the watch runs (not closed, stopped, or its directory gone)."""
        return not (self._closed or self._ended or (self._stop is not None and self._stop.is_set()))

    def wait(self, timeout: float | None = None) -> list[Change]:
        """The changes seen since the last call, waiting up to `timeout` s; [] on timeout/stop."""
        with self._lock:
            try:
                if not self.alive:
                    return []
                ms = -1 if timeout is None else max(0, math.ceil(timeout * 1000))
                ready = self._poll.poll(ms)
                if not ready or not self.alive:
                    return []
                return self._read()
            finally:
                if self._closed:
                    self._release()

    def _read(self) -> list[Change]:
        data = bytearray()
        while True:
            try:
                chunk = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        return self._parse(data)

    def _parse(self, data: bytearray) -> list[Change]:
        out: dict[tuple[str, str], Change] = {}
        offset, size = 0, _HEADER.size
        while offset + size <= len(data):
            _wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
            name = bytes(data[offset + size : offset + size + length]).rstrip(b"\0")
            offset += size + length
            if mask & _IN_Q_OVERFLOW:
                for sid in self._present():
                    out["appended", sid] = Change("appended", sid)
                continue
            if mask & _ENDED:
                self._ended = True
                continue
            if mask & _IN_ISDIR or not name.endswith(b".jsonl"):
                continue
            sid = os.fsdecode(name[: -len(_SUFFIX)])
            if is_session_id(sid) and (self._wanted is None or sid in self._wanted):
                change = Change(_kind(mask), sid)
                out[change.kind, sid] = change
        return sorted(out.values(), key=lambda c: (c.session_id, c.kind))

    def _present(self) -> list[str]:
        try:
            names = os.listdir(self.directory)
        except OSError:
            return []
        sids = [n[: -len(_SUFFIX)] for n in names if n.endswith(_SUFFIX)]
        return [s for s in sids if is_session_id(s) and (self._wanted is None or s in self._wanted)]

    def close(self) -> None:
        """Stop watching, waking a blocked `wait` at once; idempotent, any thread."""
        self._closed = True
        with self._wake_lock:
            if self._fd >= 0:
                with contextlib.suppress(BlockingIOError):  # full: a wake is pending anyway
                    os.write(self._wake_w, b"x")
        with self._lock:  # free at once, or as soon as the woken waiter returns
            self._release()

    def __del__(self) -> None:
        # A watch dropped without close(): its three descriptors go with it.
        if getattr(self, "_fd", -1) >= 0:
            self._release()

    def _release(self) -> None:
        with self._wake_lock:
            if self._fd < 0:
                return
            for fd in (self._fd, self._wake_r, self._wake_w):
                os.close(fd)
            self._fd = -1
