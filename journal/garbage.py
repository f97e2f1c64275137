"""`collect_garbage`: remove what no session needs any more (``p8j gc``); never automatic.

Contract: it removes, and with ``dry_run`` only lists, exactly these:

- ``blob``: a ``<home>/blobs/<sha256>`` that no session log (archived ones
  included) and no repair sidecar mentions, last changed more than `grace`
  seconds ago. A writer stores a blob (fsynced) before it appends the event
  that refers to it, so a blob younger than that may belong to an event still
  being written; it is kept. If any log or
  sidecar cannot be read, no blob is removed (what it refers to is unknown).
- ``lock``: ``<home>/locks/<id>.lock`` of a session whose log does not exist,
  unless someone holds it (a writer creating that session holds it first).
- ``snapshot`` and ``sidecar``: ``<home>/cache/snapshots/<id>.snap`` and
  ``<home>/torn/<id>.*.torn`` of a session whose log does not exist (what a
  ``p8j rm`` interrupted after removing the log leaves).
- ``temp``: temporary files of crash-safe writes (``.*.tmp``, ``.*.new``,
  ``.tmp-*``) in the home's directories, unlocked and older than `grace`.
- ``empty-log``: a log holding no complete first line (a start cut short by a
  crash, e.g. of an older p8j), removed while held against writers
  (`hold_session`): a live writer's log is never touched. Its lock file goes too.

The catalog is refreshed afterwards. Every removal is of a file whose absence
changes no session: logs with a start line are never removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import time
from pathlib import Path

import msgspec

from .cache.catalog import list_summaries
from .errors import JournalIOError, P8jError, SessionLockedError
from .housekeeping import RemovedFile
from .ids import is_session_id
from .store.fs.archived import ARCHIVE_SUFFIX, open_archived
from .store.fs.cursor import LogCursor
from .store.fs.layout import Home
from .store.fs.lock import hold_session, lock_holder
from .store.fs.syscalls import REAL, Storage

__all__ = ["GRACE_SECONDS", "GcReport", "collect_garbage"]

GRACE_SECONDS = 3600.0
_DIGEST = re.compile(rb'"sha256":"([0-9a-f]{64})"')
_BLOB_NAME = re.compile(r"[0-9a-f]{64}")
_TEMP = re.compile(r"\..+\.(tmp|new)|\.tmp-.+")
_CHUNK = 1 << 20
_OVERLAP = 80  # longer than one '"sha256":"<64 hex>"'


class GcReport(msgspec.Struct, frozen=True):
    """What `collect_garbage` removed (or, with `dry_run`, would remove)."""

    dry_run: bool
    removed: list[RemovedFile]
    # Why blobs were kept whole this time (an unreadable log), else None.
    blobs_kept_because: str | None = None

    @property
    def bytes_freed(self) -> int:
        """Bytes of every file removed (or to be removed)."""
        return sum(f.size for f in self.removed)


def _names(directory: Path) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise JournalIOError(f"cannot list: {exc.strerror}", path=directory) from exc


def _regular(path: Path) -> os.stat_result | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _digests_in(path: Path, found: set[bytes]) -> None:
    """Add every blob digest `path` mentions to `found` (raises OSError, P8jError).

    An archived log (``archive/*.jsonl.gz``) is read decompressed: its blobs stay referenced.
    """
    if path.parent.name == "archive" and path.name.endswith(ARCHIVE_SUFFIX):
        log = path.parent.parent / "sessions" / path.name[: -len(".gz")]
        fd = open_archived(log)
    else:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        tail, pos = b"", 0
        while data := os.pread(fd, _CHUNK, pos):
            pos += len(data)
            found.update(_DIGEST.findall(tail + data))
            tail = data[-_OVERLAP:]
    finally:
        os.close(fd)


def _referenced(home: Home) -> tuple[set[str], str | None]:
    """Digests the logs and sidecars mention, or why that cannot be known."""
    found: set[bytes] = set()
    for directory in (home.sessions_dir, home.torn_dir, home.archive_dir):
        for name in _names(directory):
            if name.startswith("."):
                continue
            try:
                _digests_in(directory / name, found)
            except OSError as exc:
                return set(), f"cannot read {directory / name}: {exc.strerror}"
            except P8jError as exc:
                return set(), f"cannot read {directory / name}: {exc.message}"
    return {d.decode("ascii") for d in found}, None


def _unlocked(path: Path) -> bool:
    """True if nobody holds a flock on `path` (a live writer of a temp file does)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def _session_of(name: str) -> str | None:
    """The session id a file of the home is named after (``<id>.lock``, ``<id>.3.torn``)."""
    sid = name.split(".", 1)[0]
    return sid if is_session_id(sid) else None


def _candidates(home: Home, now: float, grace: float) -> tuple[list[RemovedFile], str | None]:
    """Every file to remove but empty logs (see the module docstring)."""
    out: list[RemovedFile] = []
    old = now - grace

    def add(kind: str, path: Path, st: os.stat_result) -> None:
        out.append(RemovedFile(kind, str(path), st.st_size))

    exists = {n[: -len(".jsonl")] for n in _names(home.sessions_dir) if n.endswith(".jsonl")}
    exists.update(n[: -len(ARCHIVE_SUFFIX)] for n in _names(home.archive_dir))  # archived: kept
    refs, why = _referenced(home)
    for name in _names(home.blobs_dir):
        st = _regular(home.blobs_dir / name)
        if st is None or st.st_mtime > old:
            continue
        if _TEMP.fullmatch(name) and _unlocked(home.blobs_dir / name):
            add("temp", home.blobs_dir / name, st)
        elif why is None and _BLOB_NAME.fullmatch(name) and name not in refs:
            add("blob", home.blobs_dir / name, st)
    for kind, directory, suffix in (
        ("lock", home.locks_dir, ".lock"),
        ("snapshot", home.cache_dir / "snapshots", ".snap"),
        ("sidecar", home.torn_dir, ".torn"),
    ):
        for name in _names(directory):
            path = directory / name
            st = _regular(path)
            if st is None:
                continue
            sid = _session_of(name)
            if sid is not None and sid not in exists and name.endswith(suffix):
                if kind != "lock" or lock_holder(path) is None:
                    add(kind, path, st)
            elif _TEMP.fullmatch(name) and st.st_mtime <= old and _unlocked(path):
                add("temp", path, st)
    for directory in (home.sessions_dir, home.cache_dir, home.archive_dir):
        for name in _names(directory):
            st = _regular(directory / name)
            fresh = st is None or st.st_mtime > old
            if (
                st is not None
                and not fresh
                and _TEMP.fullmatch(name)
                and _unlocked(directory / name)
            ):
                add("temp", directory / name, st)
    return out, why


def _never_started(home: Home, sid: str) -> bool:
    cursor = LogCursor(home.log_path(sid), session_id=sid, skip_corrupt=True, resolve_blobs=False)
    for _ in cursor.read_blocks():
        return False
    return cursor.offset == 0 or (cursor.torn is not None and cursor.torn.line == 1)


def _empty_logs(home: Home, dry_run: bool, storage: Storage) -> list[RemovedFile]:
    """Logs with no complete first line, removed (unless `dry_run`) while held."""
    out: list[RemovedFile] = []
    for name in _names(home.sessions_dir):
        sid = _session_of(name)
        st = _regular(home.sessions_dir / name)
        if sid is None or st is None or st.st_size > _CHUNK or not name.endswith(".jsonl"):
            continue
        try:
            if not _never_started(home, sid):
                continue
            with hold_session(home, sid):
                if not _never_started(home, sid):
                    continue  # a writer finished its start since
                out.append(RemovedFile("empty-log", str(home.log_path(sid)), st.st_size))
                if not dry_run:
                    storage.unlink(home.log_path(sid))
                    storage.fsync_dir(home.sessions_dir)
            lock = home.lock_path(sid)
            lst = _regular(lock)
            if lst is not None:
                out.append(RemovedFile("lock", str(lock), lst.st_size))
                if not dry_run:
                    with contextlib.suppress(FileNotFoundError):
                        storage.unlink(lock)
        except SessionLockedError:
            continue  # a live writer: never touched
        except OSError as exc:
            raise JournalIOError(f"cannot remove: {exc.strerror}", path=home.log_path(sid)) from exc
    return out


def collect_garbage(
    home: Home,
    *,
    dry_run: bool = False,
    grace: float = GRACE_SECONDS,
    now: float | None = None,
    storage: Storage | None = None,
) -> GcReport:
    """Remove (or with `dry_run` list) what no session needs; see the module docstring."""
    st_os = storage if storage is not None else REAL
    home.check()
    if not home.exists():
        return GcReport(dry_run, [])
    when = time.time() if now is None else now
    removed = _empty_logs(home, dry_run, st_os)
    found, why = _candidates(home, when, grace)
    for item in found:
        if not dry_run:
            try:
                st_os.unlink(item.path)
            except FileNotFoundError:
                continue  # gone meanwhile: not ours to report
            except OSError as exc:
                raise JournalIOError(f"cannot remove: {exc.strerror}", path=item.path) from exc
        removed.append(item)
    if not dry_run:
        with contextlib.suppress(P8jError):
            list_summaries(home)
    return GcReport(dry_run, removed, why)
