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

import os
import zlib
from collections.abc import Iterator

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


def _copy(storage: Storage, src: int, dst: int) -> int:
    """Copy file `src` (from byte 0) to `dst`; the number of bytes."""
    pos = 0
    while chunk := os.pread(src, _CHUNK, pos):
        write_all(storage, dst, chunk)
        pos += len(chunk)
    return pos


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
        written = [0]
        if dry_run:
            for _ in _gzipped(fd, written):
                pass
            return ArchiveResult(session_id, before, written[0])
        # Streamed (the log is never held whole); replace_file fsyncs the file and the dir.
        home.replace_file("archive", session_id + ARCHIVE_SUFFIX, _gzipped(fd, written))
        st_os.unlink(home.log_path(session_id))
        st_os.fsync_dir(home.sessions_dir)
    return ArchiveResult(session_id, before, written[0])


def _gzipped(fd: int, written: list[int]) -> Iterator[bytes]:
    """The gzip stream of the file `fd` from byte 0; its length is added to written[0]."""
    co = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 16+15: a gzip header and trailer
    pos = 0
    while chunk := os.pread(fd, _CHUNK, pos):
        pos += len(chunk)
        out = co.compress(chunk)
        written[0] += len(out)
        yield out
    out = co.flush()
    written[0] += len(out)
    yield out


def unarchive_session(
    home: Home, session_id: str, *, storage: Storage | None = None
) -> ArchiveResult:
    """Put an archived session's log back in ``sessions/``; remove the archive last."""
    st_os = storage if storage is not None else REAL
    log = home.log_path(session_id)
    gz = archive_path(home, session_id)
    home.check()
    if os.path.lexists(log):
        raise JournalIOError(f"session {session_id} already has a log; not overwriting", path=log)
    mem = open_archived(log)
    try:
        archived = os.lstat(gz).st_size
        tmp = home.sessions_dir / f".{session_id}.jsonl.unarchive.tmp"  # gc removes a leftover
        home.ensure()
        fd = st_os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            size = _copy(st_os, mem, fd)
            st_os.fsync(fd)
        finally:
            st_os.close(fd)
    finally:
        os.close(mem)
    try:
        st_os.link(tmp, log)  # never replaces a log that appeared meanwhile
    finally:
        st_os.unlink(tmp)
    st_os.fsync_dir(home.sessions_dir)
    st_os.unlink(gz)
    st_os.fsync_dir(home.archive_dir)
    return ArchiveResult(session_id, archived, size)
