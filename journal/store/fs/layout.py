"""The journal home: where session logs and derived caches live.

Resolution order: an explicit path, else ``$P8J_HOME``, else the platform's user
data dir (``~/.local/share/p8j`` on Linux, via platformdirs).

Layout (contract)::

    <home>/sessions/<session-id>.jsonl     one append-only log per session (source of truth)
    <home>/locks/<session-id>.lock         flock()ed by the session's single writer
    <home>/torn/<session-id>.<offset>.torn bytes cut from a torn tail on repair
    <home>/cache/                          derived, rebuildable (catalog, snapshots)
    <home>/blobs/<sha256>                  payloads too large for a line (see blobs.py)
    <home>/archive/<session-id>.jsonl.gz   a completed session's log, gzipped (see archive.py)
    <home>/redact.json                     optional redaction rules (see redact.py)

Directories are created 0700 and files 0600 whatever the umask. Paths are built
only from validated session ids.

Hostile file systems (contract): the home and its subdirectories must be real
directories (not symlinks), owned by the current user and not group- or
world-writable, or `UnsafePathError` says which and how to fix it. One rule for
every command: writers check when they create the layout (`Home.ensure`),
readers (listing, resolving a session reference, listing session ids) call
`Home.check` first, so a read-only command refuses an unsafe home as a write
does; a home that does not exist yet passes (it lists empty). ``cache/`` is not
part of that rule: it is derived, so an unsafe cache directory or file is
ignored (never followed, never written through) and the logs are read instead.
Files are opened relative to a descriptor of their directory (`Home.open_dir`,
`Home.open_file`), each step without following a symlink (``O_NOFOLLOW``) and
checked with `check_dir`, never blocking on a FIFO (``O_NONBLOCK`` until the
file is known to be regular), so swapping a path for a symlink between a check
and a use gains nothing. `Home.replace_file` writes (the caches) the same way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from ...checks import wrong_type
from ...errors import JournalIOError, UnsafePathError
from ...ids import is_session_id, validate_session_id
from .syscalls import Storage, replace_file

__all__ = ["ENV_VAR", "Home", "check_dir", "check_file", "check_home_arg", "resolve_home"]

ENV_VAR = "P8J_HOME"
LOG_SUFFIX = ".jsonl"
ARCHIVE_SUFFIX = ".jsonl.gz"


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The journal home directory path (not created)."""
    if home is not None:
        return Path(home).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs  # only needed when no home is given

    return Path(platformdirs.user_data_path("p8j", appauthor=False))


_KINDS = (
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "another kind of file")


def check_dir(path: str | os.PathLike[str], st: os.stat_result) -> None:
    """Raise UnsafePathError unless `st` is a directory of ours that others cannot write."""
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePathError(
            "is a symlink; p8j does not follow symlinks in its home "
            "(point P8J_HOME or --home at the real directory)",
            path=path,
        )
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePathError(f"expected a directory, found {_kind(st.st_mode)}", path=path)
    uid = os.geteuid()
    if st.st_uid != uid:
        raise UnsafePathError(
            f"is owned by uid {st.st_uid}, not by you (uid {uid}); "
            "p8j only uses a journal home that is yours",
            path=path,
        )
    if st.st_mode & 0o022:
        raise UnsafePathError(
            f"is group- or world-writable (mode {stat.S_IMODE(st.st_mode):o}), so another user "
            f"could plant files in it; run: chmod 700 {os.fspath(path)}",
            path=path,
        )


def check_file(path: str | os.PathLike[str], st: os.stat_result) -> None:
    """Raise UnsafePathError unless `st` is a regular file of ours with exactly one link."""
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError("not a regular file (a FIFO, device or directory)", path=path)
    if st.st_nlink != 1:
        raise UnsafePathError(
            f"has {st.st_nlink} hard links; writing would change another file too", path=path
        )
    if st.st_uid != os.geteuid():
        raise UnsafePathError(f"is owned by uid {st.st_uid}, not by you", path=path)


def _make_dir(path: Path) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise JournalIOError(f"cannot create directory: {exc.strerror}", path=path) from exc
    else:
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask
        return
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise JournalIOError(f"cannot stat directory: {exc.strerror}", path=path) from exc
    check_dir(path, st)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_dir(
    path: Path, dir_fd: int | None = None, name: str | None = None, *, created: bool = False
) -> int:
    try:
        fd = os.open(name if name is not None else path, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            with contextlib.suppress(OSError):
                check_dir(path, os.lstat(path))
            raise UnsafePathError("not a directory (a symlink or a file)", path=path) from exc
        raise JournalIOError(f"cannot open directory: {exc.strerror}", path=path) from exc
    try:
        if created:
            os.fchmod(fd, 0o700)  # mkdir's mode is masked by the umask
        check_dir(path, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    return fd


class _AtDir(Storage):
    """The real system calls, with every name taken relative to one directory descriptor."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def open(
        self,
        path: str | os.PathLike[str],
        flags: int,
        mode: int = 0o777,
        *,
        dir_fd: int | None = None,
    ) -> int:
        """os.open in the directory."""
        return os.open(path, flags, mode, dir_fd=self.fd)

    def replace(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str],
        *,
        src_dir_fd: int | None = None,
        dst_dir_fd: int | None = None,
    ) -> None:
        """os.replace within the directory."""
        os.replace(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, path: str | os.PathLike[str], *, dir_fd: int | None = None) -> None:
        """os.unlink in the directory."""
        os.unlink(path, dir_fd=self.fd)

    def fsync_dir(self, path: str | os.PathLike[str]) -> None:
        """fsync the directory itself."""
        os.fsync(self.fd)


class Home:
    """A resolved journal home and the paths inside it."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = resolve_home(path)
        self.sessions_dir = self.path / "sessions"
        self.locks_dir = self.path / "locks"
        self.torn_dir = self.path / "torn"
        self.cache_dir = self.path / "cache"
        self.blobs_dir = self.path / "blobs"
        self.archive_dir = self.path / "archive"

    def __repr__(self) -> str:
        return f"Home({str(self.path)!r})"

    def _layout(self) -> tuple[Path, ...]:
        """The home and the subdirectories the rule covers (the derived cache is not one)."""
        return (self.path, self.sessions_dir, self.locks_dir, self.torn_dir, self.blobs_dir)

    def ensure(self) -> Home:
        """Create the home and its subdirectories (0700) if missing; return self."""
        parent = self.path.parent
        if not parent.exists():
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise JournalIOError(
                    f"cannot create directory: {exc.strerror}", path=parent
                ) from exc
        for d in self._layout():
            _make_dir(d)
        # The cache is derived: an unsafe one is left alone (its users refuse to use it),
        # it never stops a session from being written.
        with contextlib.suppress(UnsafePathError, JournalIOError):
            _make_dir(self.cache_dir)
        return self

    def check(self) -> Home:
        """Raise UnsafePathError if the home or a subdirectory present is unsafe; return self.

        A home that does not exist passes: there is nothing in it to trust or distrust.
        """
        # archive/ is checked like the others but only made by `p8j archive`.
        for d in (*self._layout(), self.archive_dir):
            try:
                st = os.lstat(d)
            except FileNotFoundError:
                if d == self.path:
                    break
                continue
            except OSError as exc:
                raise JournalIOError(f"cannot stat: {exc.strerror}", path=d) from exc
            check_dir(d, st)
        return self

    def open_dir(self, subdir: str, *, create: bool = False) -> int:
        """A descriptor of ``<home>/<subdir>`` (``a/b`` allowed), opened one step at a time.

        Each step is opened relative to the one before, without following a symlink,
        and must pass `check_dir`. With `create`, missing steps below the home are
        made (0700); the home itself never is. The caller closes the descriptor.
        """
        fd = _open_dir(self.path)
        path = self.path
        try:
            for part in subdir.split("/"):
                path = path / part
                created = False
                if create:
                    try:
                        os.mkdir(part, 0o700, dir_fd=fd)
                        created = True
                    except FileExistsError:
                        pass
                    except OSError as exc:
                        raise JournalIOError(
                            f"cannot create directory: {exc.strerror}", path=path
                        ) from exc
                inner = _open_dir(path, fd, part, created=created)
                os.close(fd)
                fd = inner
        except BaseException:
            os.close(fd)
            raise
        return fd

    def open_file(
        self,
        subdir: str,
        name: str,
        flags: int,
        mode: int = 0o600,
        *,
        opener: Callable[..., int] = os.open,
    ) -> int:
        """Open ``<home>/<subdir>/<name>`` relative to checked directory descriptors.

        Neither the home, the subdirectories (see `open_dir`) nor the file may be
        a symlink (``O_NOFOLLOW`` at every step); the directories must pass
        `check_dir`. Opening a FIFO never blocks (``O_NONBLOCK`` is added; callers
        clear it once `check_file` has passed). ELOOP becomes `UnsafePathError`.
        """
        path = self.path / subdir / name
        sub_fd = self.open_dir(subdir)
        try:
            return opener(
                name, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode, dir_fd=sub_fd
            )
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePathError("refusing to open a symlink", path=path) from exc
            if exc.errno == errno.ENXIO:
                raise UnsafePathError("is a FIFO or socket, not a regular file", path=path) from exc
            raise
        finally:
            os.close(sub_fd)

    def replace_file(self, subdir: str, name: str, data: bytes | Iterable[bytes]) -> None:
        """Write ``<home>/<subdir>/<name>`` crash-safely (`syscalls.replace_file`), via `open_dir`.

        Missing subdirectories are created; every name is taken relative to the
        checked directory descriptor, so nothing is written through a symlink.
        Raises P8jError (an unsafe or uncreatable directory) or OSError.
        """
        fd = self.open_dir(subdir, create=True)
        try:
            replace_file(Path(), name, data, storage=_AtDir(fd))
        finally:
            os.close(fd)

    def exists(self) -> bool:
        """True if the sessions directory exists."""
        return self.sessions_dir.is_dir()

    def log_path(self, session_id: str) -> Path:
        """Path of a session's log (the id is validated first)."""
        return self.sessions_dir / (validate_session_id(session_id) + LOG_SUFFIX)

    def lock_path(self, session_id: str) -> Path:
        """Path of a session's lock file."""
        return self.locks_dir / (validate_session_id(session_id) + ".lock")

    def session_ids(self) -> list[str]:
        """Ids of every session log in the home, sorted (= by start time); checks the home."""
        return self.check()._ids()

    def _ids(self) -> list[str]:
        try:
            names = os.listdir(self.sessions_dir)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise JournalIOError(
                f"cannot list sessions: {exc.strerror}", path=self.sessions_dir
            ) from exc
        ids = [
            n[: -len(LOG_SUFFIX)]
            for n in names
            if n.endswith(LOG_SUFFIX) and is_session_id(n[: -len(LOG_SUFFIX)])
        ]
        ids.sort()
        return ids

    def _archived_ids(self) -> list[str]:
        """Ids of the archived sessions (``archive/<id>.jsonl.gz``), sorted; no home check."""
        try:
            names = os.listdir(self.archive_dir)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise JournalIOError(
                f"cannot list archive: {exc.strerror}", path=self.archive_dir
            ) from exc
        n = len(ARCHIVE_SUFFIX)
        return sorted(x[:-n] for x in names if x.endswith(ARCHIVE_SUFFIX) and is_session_id(x[:-n]))


def fsync_dir(path: Path) -> None:
    """fsync a directory so a file created or renamed in it survives power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def resolve_session_ref(home: Home, ref: str, *, archived: bool = False) -> str:
    """Resolve a full id, a unique id prefix, or ``latest`` to a session id.

    With `archived`, archived sessions (``archive/``) are candidates too (read-only
    commands); ``latest`` is always a live one.

    Raises InvalidSessionIdError for a malformed ref, UnsafePathError for an
    unsafe home (`Home.check`) and SessionNotFoundError (with `candidates`) for
    an unknown or ambiguous one.
    """
    from ...errors import SessionNotFoundError
    from ...ids import validate_prefix

    if ref != "latest":
        validate_prefix(ref)  # before the home is touched at all
    home.check()  # one rule for every command, reading ones included
    if ref != "latest" and is_session_id(ref) and home.log_path(ref).is_file():
        return ref  # a full id needs no directory listing
    ids = home._ids()
    if ref == "latest":
        if not ids:
            raise SessionNotFoundError(f"no sessions in {home.path}")
        return ids[-1]
    if archived:
        ids = sorted({*ids, *home._archived_ids()})
    matches = [i for i in ids if i.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        hidden = [] if archived else [i for i in home._archived_ids() if i.startswith(ref)]
        if len(hidden) == 1:  # only read-only commands see archived sessions
            raise SessionNotFoundError(
                f"session {hidden[0]} is archived: `p8j unarchive {hidden[0]}` brings it back"
            )
        raise SessionNotFoundError(f"no session matches {ref!r} in {home.path}")
    shown = ", ".join(matches[:10]) + (
        f" (and {len(matches) - 10} more)" if len(matches) > 10 else ""
    )
    raise SessionNotFoundError(
        f"session id {ref!r} is ambiguous: it matches {shown}", candidates=matches
    )


def check_home_arg(value: object) -> None:
    """Raise InvalidTypeError unless `value` can name a journal home (str, path, Home, None)."""
    if value is None or isinstance(value, (str, Home)):
        return
    if not isinstance(value, os.PathLike) or not isinstance(os.fspath(value), str):
        raise wrong_type("home", "a path (str or os.PathLike), a Home or None", value)
