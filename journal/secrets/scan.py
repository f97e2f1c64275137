"""Secrets in logs already written: find them (`scan_session`) and remove them (`redact_session`).

Contract:
- Both read a log line by line (bounded memory) with the home's redaction rules
  (see redact.py), in record order with the same split-secret carry as the
  writer, and look inside text blobs the log refers to and in the session's
  torn-tail sidecars. They report where (line, seq, field) and which rule,
  with a preview that shows the marker, never the secret.
- `redact_session` takes the session's write lock (a live writer makes it fail
  with `SessionLockedError`) and rewrites the log crash-safely: a new file in
  the sessions directory, fsynced, renamed over the log, the directory fsynced.
  A crash leaves either the old log or the new one, whole. Every event keeps
  its seq, ts and all other fields; a changed event is re-encoded (new crc) and
  its ``redactions`` gains the rule ids; unchanged lines stay byte-identical.
  Lines that do not decode are redacted as raw text (they stay as corrupt as
  they were). A text blob holding a secret is replaced by a redacted blob (new
  hash) and the old one is deleted unless another log still refers to it.
  Derived caches that may hold the old text (the session's snapshot, the
  catalog) are dropped or refreshed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from ..codec import decode_line, encode_event
from ..errors import CorruptLineError, JournalIOError, P8jError, UnsafePathError
from ..events import BlobRef, Event, UnknownEvent
from ..store.fs.blobs import BlobStore, placeholder
from ..store.fs.layout import Home, check_file
from ..store.fs.lock import SessionLock, lock_log
from ..store.fs.syscalls import REAL, Storage, write_all
from .redact import MARKER_PREFIX, REDACTED_FIELDS, Redactor, RedactStream, default_redactor

__all__ = ["Finding", "RedactReport", "ScanReport", "redact_session", "scan_session"]

_CHUNK = 1 << 20
_PREVIEW = 60
_ENC = msgspec.json.Encoder()
_RAW = msgspec.json.Decoder(dict[str, Any])


class Finding(msgspec.Struct, frozen=True):
    """One place in a log (or a blob or sidecar it owns) where secrets were found."""

    line: int
    seq: int | None
    field: str
    rules: list[str]
    preview: str


class ScanReport(msgspec.Struct):
    """What `scan_session` found in one session."""

    session_id: str
    path: str
    lines: int
    findings: list[Finding]

    @property
    def secrets(self) -> int:
        """How many secrets were found (a field may hold several)."""
        return sum(len(f.rules) for f in self.findings)


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


def _preview(text: str) -> str:
    """A short excerpt around the first marker: shows where, never what."""
    i = text.find(MARKER_PREFIX)
    if i < 0:
        return text[:_PREVIEW]
    start = max(0, i - _PREVIEW // 2)
    end = text.find("]", i) + 1 or len(text)
    stop = max(end, start + _PREVIEW)
    out = text[start:stop].replace("\n", "⏎")
    return ("…" if start else "") + out + ("…" if stop < len(text) else "")


class _Walker:
    """Redacts the text fields of events in order, recording where secrets were."""

    def __init__(self, redactor: Redactor) -> None:
        self.stream = RedactStream(redactor)
        self.found: list[tuple[str, list[str], str]] = []

    def text(self, s: str, where: str) -> str:
        out = self.stream.text(s)
        fired = self.stream.take()
        if fired:
            self.found.append((where, fired, _preview(out)))
        return out

    def value(self, v: Any, where: str) -> Any:
        if isinstance(v, str):
            return self.text(v, where)
        if isinstance(v, list):
            out: list[Any] | None = None
            for i, item in enumerate(v):
                changed = self.value(item, f"{where}[{i}]")
                if changed is not item:
                    if out is None:
                        out = list(v)
                    out[i] = changed
            return v if out is None else out
        if isinstance(v, dict):
            dout: dict[Any, Any] | None = None
            new: Any
            for k, item in v.items():
                key_where = f"{where}.{k}"
                if isinstance(item, str) and isinstance(k, str):
                    rid = self.stream.redactor.fields(k, item)
                    if rid is not None:
                        new = f"{MARKER_PREFIX}{rid}]"
                        self.found.append((key_where, [rid], new))
                    else:
                        new = self.text(item, key_where)
                else:
                    new = self.value(item, key_where)
                if new is not item:
                    if dout is None:
                        dout = dict(v)
                    dout[k] = new
            return v if dout is None else dout
        return v


def _lines(fd: int) -> Iterator[tuple[bytes, bool]]:
    """(line without newline, complete?) for every line of the file, read in chunks."""
    pending = b""
    pos = 0
    while True:
        data = os.pread(fd, _CHUNK, pos)
        if not data:
            break
        pos += len(data)
        parts = (pending + data).split(b"\n")
        pending = parts.pop()
        for part in parts:
            yield part, True
    if pending:
        yield pending, False


def _open_log(home: Home, sid: str) -> tuple[int, os.stat_result]:
    try:
        fd = home.open_file("sessions", home.log_path(sid).name, os.O_RDONLY)
    except FileNotFoundError as exc:
        raise JournalIOError("no such session log", path=home.log_path(sid)) from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UnsafePathError("not a regular file", path=home.log_path(sid))
    os.set_blocking(fd, True)
    return fd, st


class _Rewriter:
    """Redacts one log's lines (and the text blobs they refer to)."""

    def __init__(self, home: Home, redactor: Redactor, *, write_blobs: bool, storage: Storage):
        self.walker = _Walker(redactor)
        self.store = BlobStore(home.blobs_dir, storage=storage)
        self.write_blobs = write_blobs
        self.findings: list[Finding] = []
        self.blobs_written: list[str] = []
        self.blobs_dropped: list[str] = []

    def _flush(self, line: int, seq: int | None) -> None:
        for where, rules, preview in self.walker.found:
            self.findings.append(Finding(line, seq, where, rules, preview))
        self.walker.found.clear()

    def raw(self, data: bytes, lineno: int, where: str) -> bytes:
        """Redact bytes that are not a decodable event, as text."""
        text = data.decode("utf-8", "surrogateescape")
        out = self.walker.text(text, where)
        self._flush(lineno, None)
        return data if out is text else out.encode("utf-8", "surrogateescape")

    def _fired(self) -> list[str]:
        return [r for _, rules, _ in self.walker.found for r in rules]

    def _blob(self, ref: BlobRef) -> tuple[BlobRef | None, list[str]]:
        """A redacted copy of a text/JSON blob (None if it holds no secret) and the rules."""
        if ref.encoding not in ("utf-8", "json"):
            return None, []  # binary (an image): nothing the text rules can read
        try:
            data = self.store.get(ref.sha256, ref.size)
        except P8jError:
            return None, []  # verify reports missing or damaged blobs
        where = f"blob {ref.sha256[:12]} ({'.'.join(map(str, ref.path))})"
        try:
            value: Any = data.decode("utf-8")
            if ref.encoding == "json":
                value = msgspec.json.decode(data)
        except (UnicodeDecodeError, msgspec.DecodeError, RecursionError):
            return None, []
        before = len(self.walker.found)
        new = self.walker.value(value, where)
        fired = [r for _, rules, _ in self.walker.found[before:] for r in rules]
        if new is value:
            return None, fired
        payload = new.encode("utf-8") if ref.encoding == "utf-8" else _ENC.encode(new)
        digest = hashlib.sha256(payload).hexdigest()
        if self.write_blobs:
            digest = self.store.put(payload)
            self.blobs_written.append(digest)
            self.blobs_dropped.append(ref.sha256)
        return msgspec.structs.replace(ref, sha256=digest, size=len(payload)), fired

    def event(self, ev: Event, lineno: int) -> Event | None:
        """The redacted event, or None if it holds no secret."""
        changes: dict[str, Any] = {}
        for name in REDACTED_FIELDS.get(type(ev).__name__, ()):
            value = getattr(ev, name)
            if value is msgspec.UNSET:
                continue
            new = self.walker.value(value, name)
            if new is not value:
                changes[name] = new
        fired = self._fired()
        refs: list[BlobRef] = list(getattr(ev, "blobs", []))
        blob_changed = False
        for i, ref in enumerate(refs):
            new_ref, blob_fired = self._blob(ref)
            fired += blob_fired
            if new_ref is not None and ref.path:
                blob_changed = True
                refs[i] = new_ref
                field = str(ref.path[0])
                current = changes.get(field, getattr(ev, field))
                changes[field] = _set_placeholder(current, ref.path[1:], placeholder(new_ref))
        self._flush(lineno, ev.seq)
        if not changes:
            return None
        if blob_changed:
            changes["blobs"] = refs
        previous: list[str] = list(getattr(ev, "redactions", []))
        changes["redactions"] = sorted(set(previous) | set(fired))
        out: Event = msgspec.structs.replace(ev, **changes)
        return out

    def unknown(self, ev: UnknownEvent, lineno: int) -> bytes | None:
        """A redacted re-encoding of an event of unknown type, or None if clean."""
        raw = dict(ev.raw)
        changed = False
        for key, value in list(raw.items()):
            if key in ("type", "v", "session_id", "seq", "ts"):
                continue
            new = self.walker.value(value, key)
            if new is not value:
                raw[key] = new
                changed = True
        self._flush(lineno, ev.seq)
        if not changed:
            return None
        body = _ENC.encode(raw)
        return body[:-1] + b',"crc":"%08x"}' % zlib.crc32(body)


def _set_placeholder(container: Any, path: list[str | int], value: str) -> Any:
    if not path:
        return value
    key, rest = path[0], path[1:]
    if isinstance(container, list) and isinstance(key, int):
        out = list(container)
        out[key] = _set_placeholder(container[key], rest, value)
        return out
    if isinstance(container, dict) and isinstance(key, str):
        dout = dict(container)
        dout[key] = _set_placeholder(container[key], rest, value)
        return dout
    return container


def _process(rw: _Rewriter, fd: int, sink: Any | None) -> tuple[int, int]:
    """Run every line through `rw`, writing the result to `sink` (if any); return counts."""
    lines = changed = 0
    for raw, complete in _lines(fd):
        lines += 1
        out: bytes | None = None
        if complete:
            try:
                ev = decode_line(raw, lineno=lines)
            except (CorruptLineError, RecursionError, UnicodeDecodeError):
                new_raw = rw.raw(raw, lines, "undecodable line")
                out = None if new_raw is raw else new_raw
            else:
                if isinstance(ev, UnknownEvent):
                    out = rw.unknown(ev, lines)
                else:
                    new_ev = rw.event(ev, lines)
                    out = None if new_ev is None else encode_event(new_ev)[:-1]
        else:
            new_raw = rw.raw(raw, lines, "torn tail (no newline)")
            out = None if new_raw is raw else new_raw
        if out is not None:
            changed += 1
        if sink is not None:
            sink(out if out is not None else raw, complete)
    return lines, changed


def scan_session(home: Home, session_id: str, *, redactor: Redactor | None = None) -> ScanReport:
    """Find secrets in a session's log, its text blobs and its torn-tail sidecars."""
    red = redactor if redactor is not None else default_redactor(home.path)
    path = home.log_path(session_id)
    fd, _ = _open_log(home, session_id)
    rw = _Rewriter(home, red, write_blobs=False, storage=REAL)
    try:
        lines, _ = _process(rw, fd, None)
    except OSError as exc:
        raise JournalIOError(f"read failed: {exc.strerror}", path=path) from exc
    finally:
        os.close(fd)
    for side in _sidecars(home, session_id):
        rw.walker.stream.reset()
        try:
            data = _read_small(side)
        except P8jError:
            continue
        rw.raw(data, 0, f"torn sidecar {side.name}")
    return ScanReport(session_id, str(path), lines, rw.findings)


def _sidecars(home: Home, session_id: str) -> list[Path]:
    try:
        names = os.listdir(home.torn_dir)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise JournalIOError(f"cannot list: {exc.strerror}", path=home.torn_dir) from exc
    return sorted(home.torn_dir / n for n in names if n.startswith(session_id + "."))


def _read_small(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise JournalIOError(f"cannot open: {exc.strerror}", path=path) from exc
    try:
        check_file(path, os.fstat(fd))
        os.set_blocking(fd, True)
        parts = []
        while chunk := os.read(fd, _CHUNK):
            parts.append(chunk)
        return b"".join(parts)
    except OSError as exc:
        raise JournalIOError(f"cannot read: {exc.strerror}", path=path) from exc
    finally:
        os.close(fd)


def _replace_file(
    home: Home,
    subdir: str,
    name: str,
    produce: Any,
    storage: Storage,
    hold: list[int] | None = None,
) -> bool:
    """Rewrite ``<home>/<subdir>/<name>`` crash-safely: temp file, fsync, rename, fsync dir.

    `produce(fd)` writes the new content and returns whether to keep it; if not,
    the temp file is removed and the old file stays as it was. Returns that choice.
    With `hold`, the new file is flocked (a session log's writer lock) before it is
    renamed in, and a descriptor holding that lock is appended to `hold`.
    """
    directory = home.path / subdir
    tmp = f".{name}.redact-{secrets.token_hex(6)}.tmp"
    fd = home.open_file(
        subdir, tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, opener=storage.open
    )
    done = False
    try:
        try:
            os.set_blocking(fd, True)
            os.fchmod(fd, 0o600)
            keep = bool(produce(fd))
            if keep:
                storage.fsync(fd)
        finally:
            storage.close(fd)
        if not keep:
            return False
        if hold is not None:
            hold.append(home.open_file(subdir, tmp, os.O_RDONLY))
            fcntl.flock(hold[-1], fcntl.LOCK_EX | fcntl.LOCK_NB)
        storage.replace(directory / tmp, directory / name)
        done = True
        storage.fsync_dir(directory)
        return True
    except OSError as exc:
        raise JournalIOError(
            f"rewrite failed: {exc.strerror or exc}", path=directory / name
        ) from exc
    finally:
        if not done:
            with contextlib.suppress(OSError):
                storage.unlink(directory / tmp)


def _referenced(home: Home, digest: str) -> bool:
    """True if any session log still mentions blob `digest`."""
    needle = digest.encode("ascii")
    for sid in home.session_ids():
        try:
            fd, _ = _open_log(home, sid)
        except P8jError:
            return True  # cannot tell: keep the blob
        try:
            tail = b""
            pos = 0
            while data := os.pread(fd, _CHUNK, pos):
                pos += len(data)
                if needle in tail + data:
                    return True
                tail = data[-len(needle) :]
        except OSError:
            return True
        finally:
            os.close(fd)
    return False


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
    lock_path = home.lock_path(session_id)
    with contextlib.suppress(FileNotFoundError):
        lst = os.lstat(lock_path)
        if stat.S_ISLNK(lst.st_mode):
            raise UnsafePathError("the lock file is a symlink", path=lock_path)
        check_file(lock_path, lst)
    lock = SessionLock(lock_path)  # SessionLockedError while a writer has the session open
    held: list[int] = []  # the new log's descriptor, flocked until everything is done
    try:
        fd, st = _open_log(home, session_id)
        rw = _Rewriter(home, red, write_blobs=True, storage=st_os)
        counts = [0, 0]
        try:
            # The writers' lock is on the log's inode: take it on the old one, and on the
            # new one before it is renamed in, so no writer gets in until this returns.
            lock_log(fd, path, lock_path, session_id)
            lock.record()
            check_file(path, st)

            def produce(out_fd: int) -> bool:
                buf: list[bytes] = []
                size = 0

                def sink(data: bytes, complete: bool) -> None:
                    nonlocal size
                    buf.append(data + b"\n" if complete else data)
                    size += len(data) + 1
                    if size >= _CHUNK:
                        write_all(st_os, out_fd, b"".join(buf))
                        buf.clear()
                        size = 0

                counts[:] = _process(rw, fd, sink)
                if buf:
                    write_all(st_os, out_fd, b"".join(buf))
                if counts[1] and os.fstat(fd).st_size != st.st_size:
                    raise JournalIOError("the log changed while it was being read", path=path)
                return counts[1] > 0

            _replace_file(home, "sessions", path.name, produce, st_os, held)
        finally:
            os.close(fd)
        findings = rw.findings
        rewritten: list[str] = []
        for side in _sidecars(home, session_id):
            try:
                data = _read_small(side)
            except P8jError:
                continue
            srw = _Rewriter(home, red, write_blobs=False, storage=REAL)
            new = srw.raw(data, 0, f"torn sidecar {side.name}")
            findings.extend(srw.findings)
            if new is not data:

                def put(f: int, d: bytes = new) -> bool:
                    write_all(st_os, f, d)
                    return True

                _replace_file(home, "torn", side.name, put, st_os)
                rewritten.append(side.name)
        removed: list[str] = []
        for digest in sorted(set(rw.blobs_dropped) - set(rw.blobs_written)):
            if not _referenced(home, digest):
                with contextlib.suppress(OSError):
                    st_os.unlink(home.blobs_dir / digest)
                    removed.append(digest)
        if counts[1] or rewritten:
            _drop_caches(home, session_id)
        return RedactReport(
            session_id,
            str(path),
            counts[0],
            counts[1],
            findings,
            sorted(set(rw.blobs_written)),
            removed,
            rewritten,
        )
    finally:
        for held_fd in held:
            os.close(held_fd)
        lock.release()


def _drop_caches(home: Home, session_id: str) -> None:
    """Forget derived copies of the old text: the session's snapshot; refresh the catalog."""
    from ..cache.catalog import list_summaries
    from ..cache.snapshots import snapshot_path

    with contextlib.suppress(OSError):
        os.unlink(snapshot_path(home, session_id))
    with contextlib.suppress(P8jError):
        list_summaries(home)
