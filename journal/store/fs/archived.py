"""Reading archived session logs (``<home>/archive/<session-id>.jsonl.gz``); see archive.py.

Contract: `open_log_readonly` opens a log for reading (never through a
symlink, never blocking on a FIFO, only a regular file) and, when the log is
missing, its archive instead. `open_archived` decompresses an archive into an anonymous memory file
(``memfd_create``) and returns its descriptor, so the one verifying reader
(`LogCursor`, which falls back to it when a log is missing) reads archived logs
with the same checksum checks as live ones. Nothing here writes to the home.
"""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from pathlib import Path

from ...errors import JournalIOError, UnsafePathError
from ...ids import validate_session_id
from .layout import ARCHIVE_SUFFIX, Home, check_file
from .syscalls import REAL, write_all

__all__ = [
    "ARCHIVE_SUFFIX",
    "archive_path",
    "archived_ids",
    "has_log",
    "open_archived",
    "open_log_readonly",
]

_CHUNK = 1 << 20


def archive_path(home: Home, session_id: str) -> Path:
    """Path of a session's archive (the id is validated first)."""
    return home.archive_dir / (validate_session_id(session_id) + ARCHIVE_SUFFIX)


def has_log(home: Home, session_id: str) -> bool:
    """True if something is where the session's log or archive goes (the reader checks it)."""
    return os.path.lexists(home.log_path(session_id)) or os.path.lexists(
        archive_path(home, session_id)
    )


def archived_ids(home: Home) -> list[str]:
    """Ids of every archived session, sorted; checks the home."""
    return home.check()._archived_ids()


def _open_gz(home: Home, name: str) -> int:
    path = home.archive_dir / name
    fd = home.open_file("archive", name, os.O_RDONLY)
    try:
        check_file(path, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_archived(log_path: Path) -> int:
    """A memfd holding the decompressed archive of `log_path` (read it with pread).

    Raises FileNotFoundError when there is no archive, JournalIOError when it
    cannot be decompressed (damaged gzip framing).
    """
    home = Home(log_path.parent.parent)
    name = log_path.name + ".gz"
    if not os.path.lexists(home.archive_dir / name):
        raise FileNotFoundError(log_path)  # the common case: neither log nor archive
    try:
        fd = _open_gz(home, name)
    except FileNotFoundError:
        raise FileNotFoundError(log_path) from None
    mem = os.memfd_create(log_path.name, os.MFD_CLOEXEC)
    try:
        with os.fdopen(fd, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as gz:
            while data := gz.read(_CHUNK):
                write_all(REAL, mem, data)
    except (OSError, EOFError, zlib.error) as exc:
        os.close(mem)
        raise JournalIOError(f"damaged archive: {exc}", path=home.archive_dir / name) from exc
    return mem


def open_log_readonly(path: str | Path) -> int:
    """Open a log for reading without following symlinks or blocking on FIFOs."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return open_archived(Path(path))  # an archived log reads like a live one (or re-raises)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the last component is a symlink
            raise UnsafePathError("refusing to follow a symlink", path=path) from exc
        raise JournalIOError(f"cannot open: {exc.strerror}", path=path) from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UnsafePathError("not a regular file", path=path)
    return fd
