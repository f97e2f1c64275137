"""Removing secrets from logs already written: `redact_session`.

Contract:
- `redact_session` redacts a log exactly as `scan_session` finds (scan.py: the
  home's rules, record order, the writer's split-secret carry, keys included,
  text blobs and torn-tail sidecars) and reports the same findings.
- It takes the session's write lock (a live writer makes it fail with
  `SessionLockedError`) and rewrites the log crash-safely with
  `replace_file` (syscalls.py): a new file in the sessions directory, fsynced,
  renamed over the log, the directory fsynced. A crash leaves either the old
  log or the new one, whole; a log with nothing to redact is not rewritten.
  Every event keeps its seq, ts and all other fields; a changed event is
  re-encoded (new crc) and its ``redactions`` gains the rule ids; unchanged
  lines stay byte-identical. Lines that do not decode are redacted as raw text
  (they stay as corrupt as they were). A log that grows while it is read is
  refused (`JournalIOError`), the old log kept.
- A text blob holding a secret is replaced by a redacted blob (new hash) and
  the old one is deleted unless another log still refers to it. Derived caches
  that may hold the old text (the session's snapshot, the catalog) are dropped
  or refreshed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from ..errors import JournalIOError, P8jError
from ..store.fs.layout import Home, check_dir
from ..store.fs.lock import hold_session
from ..store.fs.sidecars import sidecars
from ..store.fs.syscalls import REAL, Storage, replace_file
from .config import default_redactor
from .engine import Redactor
from .scan import CHUNK, Finding, LogRedactor, open_log, process, read_small

__all__ = ["RedactReport", "redact_session"]


class RedactReport(msgspec.Struct):
    """What `redact_session` changed."""

    session_id: str
    path: str
    lines: int
    changed_lines: int
    findings: list[Finding]
    blobs_written: list[str]
    blobs_removed: list[str]
    sidecars_rewritten: list[str]

    @property
    def changed(self) -> bool:
        """True if anything was rewritten."""
        return bool(self.changed_lines or self.sidecars_rewritten)


class _Unchanged(Exception):
    """Nothing to redact: the temp file is dropped and the log stays as it was."""


def _replace(
    directory: Path,
    name: str,
    parts: Iterable[bytes],
    storage: Storage,
    hold: list[int] | None = None,
) -> bool:
    """Replace ``directory/name`` by `parts` crash-safely; False if `parts` raised _Unchanged."""
    try:
        check_dir(directory, os.lstat(directory))  # replace_file does not check the directory
        replace_file(directory, name, parts, storage=storage, hold=hold)
    except _Unchanged:
        return False
    except OSError as exc:
        raise JournalIOError(
            f"rewrite failed: {exc.strerror or exc}", path=directory / name
        ) from exc
    return True


def _log_parts(
    rw: LogRedactor, fd: int, st: os.stat_result, path: Path, counts: list[int]
) -> Iterator[bytes]:
    """The redacted log in chunks of about `CHUNK` bytes; _Unchanged at the end if clean."""
    buf: list[bytes] = []
    size = 0
    for data, complete, changed in process(rw, fd):
        counts[0] += 1
        counts[1] += changed
        buf.append(data + b"\n" if complete else data)
        size += len(data) + 1
        if size >= CHUNK:
            yield b"".join(buf)
            buf.clear()
            size = 0
    if buf:
        yield b"".join(buf)
    if not counts[1]:
        raise _Unchanged
    if os.fstat(fd).st_size != st.st_size:
        raise JournalIOError("the log changed while it was being read", path=path)


def _redact_sidecars(
    home: Home, session_id: str, red: Redactor, findings: list[Finding], storage: Storage
) -> list[str]:
    """Redact the session's torn-tail sidecars; return the names of those rewritten."""
    rewritten: list[str] = []
    for side in sidecars(home, session_id):
        try:
            data = read_small(side)
        except P8jError:
            continue
        srw = LogRedactor(home, red, write_blobs=False, storage=REAL)
        new = srw.raw(data, 0, f"torn sidecar {side.name}")
        findings.extend(srw.findings)
        if new is not data:
            _replace(home.torn_dir, side.name, [new], storage)
            rewritten.append(side.name)
    return rewritten


def redact_session(
    home: Home,
    session_id: str,
    *,
    redactor: Redactor | None = None,
    storage: Storage | None = None,
) -> RedactReport:
    """Rewrite a session's log (and blobs, sidecars) with its secrets replaced; see module doc."""
    st_os = storage if storage is not None else REAL
    red = redactor if redactor is not None else default_redactor(home.path)
    path = home.log_path(session_id)
    home.check()
    with hold_session(home, session_id) as (fd, held):
        st = os.fstat(fd)
        rw = LogRedactor(home, red, write_blobs=True, storage=st_os)
        counts = [0, 0]
        parts = _log_parts(rw, fd, st, path, counts)
        _replace(path.parent, path.name, parts, st_os, held)
        findings = rw.findings
        rewritten = _redact_sidecars(home, session_id, red, findings, st_os)
        removed: list[str] = []
        for digest in sorted(set(rw.blobs_dropped) - set(rw.blobs_written)):
            if not _referenced(home, digest):
                with contextlib.suppress(OSError):
                    st_os.unlink(home.blobs_dir / digest)
                    removed.append(digest)
        if counts[1] or rewritten:
            _drop_caches(home, session_id)
        written = sorted(set(rw.blobs_written))
        return RedactReport(
            session_id, str(path), counts[0], counts[1], findings, written, removed, rewritten
        )


def _referenced(home: Home, digest: str) -> bool:
    """True if any session log still mentions blob `digest`."""
    needle = digest.encode("ascii")
    for sid in home.session_ids():
        try:
            fd, _ = open_log(home, sid)
        except P8jError:
            return True  # cannot tell: keep the blob
        try:
            tail = b""
            pos = 0
            while data := os.pread(fd, CHUNK, pos):
                pos += len(data)
                if needle in tail + data:
                    return True
                tail = data[-len(needle) :]
        except OSError:
            return True
        finally:
            os.close(fd)
    return False


def _drop_caches(home: Home, session_id: str) -> None:
    """Forget derived copies of the old text: the session's snapshot; refresh the catalog."""
    from ..cache.catalog import list_summaries
    from ..cache.snapshots import snapshot_path

    with contextlib.suppress(OSError):
        os.unlink(snapshot_path(home, session_id))
    with contextlib.suppress(P8jError):
        list_summaries(home)
