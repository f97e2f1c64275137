"""The journal home: where session logs and derived caches live.

Resolution order: an explicit path, else ``$P8J_HOME``, else the platform's user
data dir (``~/.local/share/p8j`` on Linux, via platformdirs).

Layout (contract)::

    <home>/sessions/<session-id>.jsonl     one append-only log per session (source of truth)
    <home>/locks/<session-id>.lock         flock()ed by the session's single writer
    <home>/torn/<session-id>.<offset>.torn bytes cut from a torn tail on repair
    <home>/cache/                          derived, rebuildable (catalog, snapshots)

Directories are created 0700 and files 0600 whatever the umask. Paths are built
only from validated session ids.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import JournalIOError, UnsafePathError
from .ids import _ID_RE, validate_session_id

__all__ = ["ENV_VAR", "Home", "resolve_home"]

ENV_VAR = "P8J_HOME"
LOG_SUFFIX = ".jsonl"


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The journal home directory path (not created)."""
    if home is not None:
        return Path(home).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs  # only needed when no home is given

    return Path(platformdirs.user_data_path("p8j", appauthor=False))


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
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePathError("expected a directory (not a symlink or file)", path=path)


class Home:
    """A resolved journal home and the paths inside it."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = resolve_home(path)
        self.sessions_dir = self.path / "sessions"
        self.locks_dir = self.path / "locks"
        self.torn_dir = self.path / "torn"
        self.cache_dir = self.path / "cache"

    def __repr__(self) -> str:
        return f"Home({str(self.path)!r})"

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
        for d in (self.path, self.sessions_dir, self.locks_dir, self.torn_dir, self.cache_dir):
            _make_dir(d)
        return self

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
        """Ids of every session log in the home, sorted (= by start time)."""
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
            if n.endswith(LOG_SUFFIX) and _ID_RE.fullmatch(n[: -len(LOG_SUFFIX)])
        ]
        ids.sort()
        return ids


def fsync_dir(path: Path) -> None:
    """fsync a directory so a file created or renamed in it survives power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def resolve_session_ref(home: Home, ref: str) -> str:
    """Resolve a full id, a unique id prefix, or ``latest`` to a session id.

    Raises InvalidSessionIdError for a malformed ref and SessionNotFoundError
    (with `candidates`) for an unknown or ambiguous one.
    """
    from .errors import SessionNotFoundError
    from .ids import validate_prefix

    if ref != "latest":
        validate_prefix(ref)  # before the home is touched at all
        if _ID_RE.fullmatch(ref) and home.log_path(ref).is_file():
            return ref  # a full id needs no directory listing
    ids = home.session_ids()
    if ref == "latest":
        if not ids:
            raise SessionNotFoundError(f"no sessions in {home.path}")
        return ids[-1]
    matches = [i for i in ids if i.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise SessionNotFoundError(f"no session matches {ref!r} in {home.path}")
    shown = ", ".join(matches[:10]) + (
        f" (and {len(matches) - 10} more)" if len(matches) > 10 else ""
    )
    raise SessionNotFoundError(
        f"session id {ref!r} is ambiguous: it matches {shown}", candidates=matches
    )
