"""Torn-tail and repair sidecars: bytes moved out of a log, kept in ``<home>/torn/``.

Contract:
- Names: ``<session-id>.<offset>[.<n>].torn``: the byte offset the bytes came from
  in the log, and a counter when that name is taken. Files are created with
  ``O_EXCL`` (never ``O_TRUNC``: a name planted in torn/, a hard link say, is left
  alone), 0600, written whole and fsynced, then the directory is fsynced, before
  the log they came from is cut or rewritten. A sidecar that cannot be written
  whole is removed again: its bytes are still in the log.
- Empty sidecars (what a failed repair of an older p8j left) can be dropped.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from ...errors import JournalIOError
from .layout import Home
from .syscalls import REAL, Storage, write_all

__all__ = ["drop_empty_sidecars", "free_sidecar_name", "sidecars", "write_sidecar"]

_SUFFIX = ".torn"


def _name(session_id: str, offset: int, n: int) -> str:
    return f"{session_id}.{offset}{f'.{n}' if n else ''}{_SUFFIX}"


def free_sidecar_name(home: Home, session_id: str, offset: int) -> str:
    """The name `write_sidecar` would use now (for a dry run)."""
    n = 0
    while (home.torn_dir / _name(session_id, offset, n)).exists():
        n += 1
    return _name(session_id, offset, n)


def write_sidecar(
    home: Home, session_id: str, offset: int, parts: Iterable[bytes], storage: Storage = REAL
) -> str:
    """Write `parts` into a new sidecar, fsync it and torn/; return its name (see contract)."""
    fd, n, name = -1, 0, ""
    while fd < 0:
        name = _name(session_id, offset, n)
        try:
            fd = home.open_file(
                "torn", name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, opener=storage.open
            )
        except FileExistsError:
            n += 1
    done = False
    try:
        try:
            os.set_blocking(fd, True)
            os.fchmod(fd, 0o600)  # O_CREAT's mode is masked by the umask
            for part in parts:
                write_all(storage, fd, part)
            storage.fsync(fd)
        finally:
            storage.close(fd)
        storage.fsync_dir(home.torn_dir)
        done = True
    finally:
        if not done:
            with contextlib.suppress(OSError):
                storage.unlink(home.torn_dir / name)
    return name


def drop_empty_sidecars(home: Home, session_id: str, storage: Storage = REAL) -> None:
    """Remove the session's empty sidecars (what a repair that failed used to leave)."""
    with contextlib.suppress(OSError):
        for path in sidecars(home, session_id):
            st = os.stat(path, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and st.st_size == 0:
                storage.unlink(path)


def sidecars(home: Home, session_id: str) -> list[Path]:
    """The session's sidecars, by name."""
    try:
        names = os.listdir(home.torn_dir)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise JournalIOError(f"cannot list: {exc.strerror}", path=home.torn_dir) from exc
    prefix = session_id + "."
    return sorted(home.torn_dir / n for n in names if n.startswith(prefix) and n.endswith(_SUFFIX))
