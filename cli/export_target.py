"""Where `p8j export -o PATH` writes: through links, into FIFOs and devices, never into the journal.

Contract (what ``-o PATH`` does with what is at PATH):
- ``-`` is standard output (the caller's business: `is_stdout`).
- A symlink is followed: its target is written, the link stays. A path that,
  resolved, lies inside the journal home (the session's own log, say), or a hard
  link to a file in the home, is refused (`click.BadParameter`, exit 2) before
  anything is read or written.
- A regular file with one link, or no file yet, is replaced crash-safely: the
  export goes to a temp file beside it, created with an unpredictable name,
  exclusively and without following symlinks (``tempfile.mkstemp``: O_EXCL and
  O_NOFOLLOW), fsynced, and renamed over the target; the directory is fsynced. An
  existing file keeps its permission bits (and owner, where we may set it); a new
  one gets ``0666 & ~umask``, as the shell's ``>`` would.
- A regular file with more than one hard link, or in a directory we may not create
  files in, is written in place, so every name sees the export: the export first
  goes whole to an anonymous temp file (a failure while producing it leaves the
  target untouched), then is copied over the target.
- A file we may not write is not replaced either (EACCES), as with the shell's ``>``.
- A FIFO or character device (``/dev/null``, a terminal) is opened and written
  directly, as a stream; nothing is created or renamed beside it.
- Failures are `JournalIOError` naming the path; no temp file outlives one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

import click

from p8j.journal import Home, JournalIOError
from p8j.journal.store.fs.layout import fsync_dir

__all__ = ["check_target", "is_stdout", "write_target"]

_OPEN_FLAGS = os.O_WRONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NOFOLLOW


def is_stdout(path: str) -> bool:
    """True for ``-o -``."""
    return path == "-"


def _inside(path: str, directory: str) -> bool:
    return os.path.commonpath([path, directory]) == directory


def _links_into(home_dir: str, st: os.stat_result) -> str | None:
    """A file under `home_dir` that is the same file as `st` (a hard link), if any."""
    for root, _dirs, files in os.walk(home_dir):
        for name in files:
            with contextlib.suppress(OSError):
                other = os.lstat(os.path.join(root, name))
                if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                    return os.path.join(root, name)
    return None


def check_target(path: str, home: Home | None) -> str:
    """The resolved path to write for ``-o PATH``; a usage error if it is empty or in `home`.

    `home` is None for a store that keeps no files here (nothing local to protect).
    """
    if not path:
        raise click.BadParameter("the path is empty", param_hint="'-o' / '--output'")
    target = os.path.realpath(path)  # a symlink is written through, so judge where it leads
    if home is None:
        return target
    home_dir = os.path.realpath(home.path)
    refusal = f"{path} is inside the journal home {home_dir}; choose a path outside it"
    if _inside(target, home_dir):
        raise click.BadParameter(refusal, param_hint="'-o' / '--output'")
    with contextlib.suppress(OSError):
        st = os.stat(target)
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and os.path.isdir(home_dir):
            twin = _links_into(home_dir, st)
            if twin is not None:
                raise click.BadParameter(
                    f"{path} is a hard link to {twin} in the journal home; "
                    "choose a path outside it",
                    param_hint="'-o' / '--output'",
                )
    return target


def _write_fd(fd: int, chunks: Iterable[bytes]) -> None:
    with open(fd, "wb", closefd=False) as out:
        for chunk in chunks:
            out.write(chunk)


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def _temp_beside(target: str) -> tuple[int, str]:
    directory, name = os.path.split(target)
    return tempfile.mkstemp(prefix=f".{name}.", suffix=".p8j-tmp", dir=directory)


def _replace(target: str, st: os.stat_result | None, chunks: Iterable[bytes]) -> None:
    fd, tmp = _temp_beside(target)
    renamed = False
    try:
        try:
            if st is None:
                os.fchmod(fd, 0o666 & ~_umask())
            else:
                if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                    with contextlib.suppress(PermissionError):
                        os.fchown(fd, st.st_uid, st.st_gid)  # before fchmod: it clears set-id bits
                os.fchmod(fd, stat.S_IMODE(st.st_mode))
            _write_fd(fd, chunks)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        renamed = True
        fsync_dir(Path(target).parent)
    finally:
        if not renamed:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _same_file(fd: int, st: os.stat_result) -> None:
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
        raise OSError(f"it was replaced while being opened (expected inode {st.st_ino})")


def _in_place(target: str, st: os.stat_result, chunks: Iterable[bytes]) -> None:
    with tempfile.TemporaryFile() as staged:  # anonymous: no name to plant or leave behind
        _write_fd(staged.fileno(), chunks)
        staged.seek(0)
        fd = os.open(target, _OPEN_FLAGS | os.O_TRUNC)
        try:
            _same_file(fd, st)
            with open(fd, "wb", closefd=False) as out:
                shutil.copyfileobj(staged, out)
            os.fsync(fd)
        finally:
            os.close(fd)


def _stream(target: str, st: os.stat_result, chunks: Iterable[bytes]) -> None:
    fd = os.open(target, _OPEN_FLAGS)  # a FIFO blocks here until it has a reader
    try:
        _same_file(fd, st)
        _write_fd(fd, chunks)
    finally:
        os.close(fd)


def write_target(path: str, target: str, chunks: Iterable[bytes]) -> None:
    """Write `chunks` to `target` (from `check_target`) as the module docstring says."""
    try:
        try:
            st: os.stat_result | None = os.stat(target)
        except FileNotFoundError:
            st = None
        if st is None:
            _replace(target, None, chunks)
        elif stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        elif not stat.S_ISREG(st.st_mode):
            _stream(target, st, chunks)
        elif not os.access(target, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        elif st.st_nlink > 1 or not os.access(os.path.dirname(target), os.W_OK | os.X_OK):
            _in_place(target, st, chunks)
        else:
            _replace(target, st, chunks)
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise JournalIOError(f"cannot write the export: {why}", path=path) from exc
