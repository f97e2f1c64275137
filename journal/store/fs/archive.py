"""Archived session logs: ``<home>/archive/<session-id>.jsonl.gz``.

Contract: only a completed session is archived, and only on request (`p8j
archive`); nothing is archived or deleted automatically. The archive holds the
log's exact bytes, gzipped (standard library, no new dependency). Archiving
runs under `hold_session` (a live writer is refused): the archive is written
whole, 0600 in a 0700 directory checked like every home directory, fsynced
(file and directory) before the log is removed, so a crash at any point leaves
the log, the archive, or both; never neither. While both exist the log wins.

Reading is archived.py's (`open_archived`): archived logs go through the same
reader (`LogCursor`) and checksum checks as live ones.
`unarchive_session` restores the log the same crash-safe way (write a temporary
file, fsync, link it in, fsync the directory, then remove the archive).
"""

from __future__ import annotations

import gzip
import os

import msgspec

from ...errors import JournalIOError, SessionStateError
from .archived import ARCHIVE_SUFFIX, archive_path, open_archived
from .cursor import LogCursor
from .layout import Home
from .lock import hold_session
from .syscalls import REAL, Storage, write_all

__all__ = ["ArchiveResult", "archive_session", "unarchive_session"]

_CHUNK = 1 << 20


class ArchiveResult(msgspec.Struct, frozen=True):
    """One session archived (or restored): its log's size and its archive's size."""

    session_id: str
    bytes_before: int
    bytes_after: int


def _state(home: Home, session_id: str) -> str | None:
    cursor = LogCursor(home.log_path(session_id), session_id=session_id, resolve_blobs=False)
    for _ in cursor.read_blocks():  # strict: a damaged log is refused (repair it first)
        pass
    return cursor.state


def _fsync_write(storage: Storage, fd: int, chunks: bytes) -> None:
    write_all(storage, fd, chunks)
    storage.fsync(fd)


def archive_session(
    home: Home, session_id: str, *, dry_run: bool = False, storage: Storage | None = None
) -> ArchiveResult:
    """Move a completed session's log into the archive; see the module docstring.

    Raises SessionLockedError (a live writer), SessionStateError (not completed),
    JournalIOError / UnsafePathError.
    """
    st_os = storage if storage is not None else REAL
    with hold_session(home, session_id) as (fd, _):
        state = _state(home, session_id)
        if state != "completed":
            raise SessionStateError(
                f"session {session_id} is {state or 'not started'}; only completed "
                "sessions are archived (end it first)"
            )
        before = os.fstat(fd).st_size
        data = gzip.compress(_read_all(fd), compresslevel=9, mtime=0)
        if dry_run:
            return ArchiveResult(session_id, before, len(data))
        home.replace_file("archive", session_id + ARCHIVE_SUFFIX, data)  # fsyncs file and dir
        st_os.unlink(home.log_path(session_id))
        st_os.fsync_dir(home.sessions_dir)
    return ArchiveResult(session_id, before, len(data))


def _read_all(fd: int) -> bytes:
    parts, pos = [], 0
    while chunk := os.pread(fd, _CHUNK, pos):
        parts.append(chunk)
        pos += len(chunk)
    return b"".join(parts)


def unarchive_session(
    home: Home, session_id: str, *, storage: Storage | None = None
) -> ArchiveResult:
    """Put an archived session's log back in ``sessions/``; remove the archive last."""
    st_os = storage if storage is not None else REAL
    log = home.log_path(session_id)
    gz = archive_path(home, session_id)
    home.check()
    if log.exists():
        raise JournalIOError(f"session {session_id} already has a log; not overwriting", path=log)
    mem = open_archived(log)
    try:
        data = _read_all(mem)
    finally:
        os.close(mem)
    after = os.lstat(gz).st_size
    tmp = home.sessions_dir / f".{session_id}.unarchive"
    home.ensure()
    fd = st_os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        _fsync_write(st_os, fd, data)
    finally:
        st_os.close(fd)
    try:
        st_os.link(tmp, log)  # never replaces a log that appeared meanwhile
    finally:
        st_os.unlink(tmp)
    st_os.fsync_dir(home.sessions_dir)
    st_os.unlink(gz)
    st_os.fsync_dir(home.archive_dir)
    return ArchiveResult(session_id, after, len(data))
