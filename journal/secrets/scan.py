"""Secrets in logs already written: `scan_session` finds them, `LogRedactor` redacts events.

Contract:
- A log is read line by line (bounded memory) with the home's redaction rules,
  in record order with the writer's split-secret carry, through the same
  fields, keys and labels the writer redacts (stream.py), and inside the text
  blobs the log refers to and the session's torn-tail sidecars. So what
  `scan_session` finds is what redaction at write time would have replaced.
- Findings say where (line, seq, field; `` (key)`` for a dict key) and which
  rules, with a preview that shows the marker, never the secret.
- Nothing is written here: `LogRedactor` computes the redacted lines (and, when
  asked, writes redacted blobs) for `redact_session` (rewrite.py).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from ..codec import decode_line, encode_event, frame
from ..errors import CorruptLineError, JournalIOError, P8jError, UnsafePathError
from ..events import BlobRef, Event, UnknownEvent
from ..jsontree import Path as TreePath
from ..store.fs.blobs import BlobStore, placeholder
from ..store.fs.layout import Home, check_file
from ..store.fs.sidecars import sidecars
from ..store.fs.syscalls import REAL, Storage
from .config import default_redactor
from .engine import Redactor
from .rules import MARKER_PREFIX
from .stream import LABEL_FIELDS, REDACTED_FIELDS, RedactStream, StreamTree

__all__ = [
    "CHUNK",
    "Finding",
    "LogRedactor",
    "ScanReport",
    "open_log",
    "process",
    "read_small",
    "scan_session",
]

CHUNK = 1 << 20
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


def _where(path: TreePath) -> str:
    """``content[0].text`` for the path ("content", 0, "text")."""
    assert path is not None
    out = str(path[0])
    for p in path[1:]:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


class _Walker(StreamTree):
    """Redacts the text fields of events in order, as the writer does, noting where secrets were."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__(RedactStream(redactor))
        self.found: list[tuple[str, list[str], str]] = []

    def _note(self, where: str, out: str) -> None:
        fired = self.stream.take()
        if fired:
            self.found.append((where, fired, _preview(out)))

    def text(self, s: str, where: str) -> str:
        """Redact a free text (in order, with the carry)."""
        out = self.stream.text(s)
        self._note(where, out)
        return out

    def field(self, name: str, value: Any, where: str) -> Any:
        """Redact an event's field as the writer does (see stream.py)."""
        if name in LABEL_FIELDS and type(value) is str:
            out = self.stream.label(value)
            self._note(where, out)
            return out
        return self.value(value, (where,))

    def string(self, s: str, path: TreePath) -> Any:
        return self.text(s, _where(path))

    def key(self, k: str, path: TreePath) -> Any:
        out = self.stream.label(k)
        self._note(_where(path) + " (key)", out)
        return out

    def entry(self, d: dict[Any, Any], k: Any, item: Any, path: TreePath) -> Any:
        out = super().entry(d, k, item, path)
        self._note(_where(path), out if isinstance(out, str) else "")
        return out


def _lines(fd: int) -> Iterator[tuple[bytes, bool]]:
    """(line without newline, complete?) for every line of the file, read in chunks."""
    pending = b""
    pos = 0
    while True:
        data = os.pread(fd, CHUNK, pos)
        if not data:
            break
        pos += len(data)
        parts = (pending + data).split(b"\n")
        pending = parts.pop()
        for part in parts:
            yield part, True
    if pending:
        yield pending, False


def open_log(home: Home, sid: str) -> tuple[int, os.stat_result]:
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


class LogRedactor:
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
        new = self.walker.value(value, (where,))
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
            if value is msgspec.UNSET or value is None or value == "":
                continue
            new = self.walker.field(name, value, name)
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
            new = self.walker.value(value, (key,))
            if new is not value:
                raw[key] = new
                changed = True
        self._flush(lineno, ev.seq)
        if not changed:
            return None
        return frame(_ENC.encode(raw))[:-1]


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


def process(rw: LogRedactor, fd: int) -> Iterator[tuple[bytes, bool, bool]]:
    """(line as it should be, complete?, changed?) for every line of the log, through `rw`."""
    for lines, (raw, complete) in enumerate(_lines(fd), 1):
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
        yield (raw, complete, False) if out is None else (out, complete, True)


def scan_session(home: Home, session_id: str, *, redactor: Redactor | None = None) -> ScanReport:
    """Find secrets in a session's log, its text blobs and its torn-tail sidecars."""
    red = redactor if redactor is not None else default_redactor(home.path)
    path = home.log_path(session_id)
    fd, _ = open_log(home, session_id)
    rw = LogRedactor(home, red, write_blobs=False, storage=REAL)
    try:
        lines = sum(1 for _ in process(rw, fd))
    except OSError as exc:
        raise JournalIOError(f"read failed: {exc.strerror}", path=path) from exc
    finally:
        os.close(fd)
    for side in sidecars(home, session_id):
        rw.walker.stream.reset()
        try:
            data = read_small(side)
        except P8jError:
            continue
        rw.raw(data, 0, f"torn sidecar {side.name}")
    return ScanReport(session_id, str(path), lines, rw.findings)


def read_small(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise JournalIOError(f"cannot open: {exc.strerror}", path=path) from exc
    try:
        check_file(path, os.fstat(fd))
        os.set_blocking(fd, True)
        parts = []
        while chunk := os.read(fd, CHUNK):
            parts.append(chunk)
        return b"".join(parts)
    except OSError as exc:
        raise JournalIOError(f"cannot read: {exc.strerror}", path=path) from exc
    finally:
        os.close(fd)
