"""The import engine: source files in, p8j sessions out, incrementally (`import_path`).

Contract:
- Each source file's session is found by its identity (sources.py) among past
  imports, else created with an id derived from the identity and the first
  source time. A sub-agent's session gets ``parent_id`` = its parent's p8j id
  (parents are imported first); records the importer routes to a `target`
  (inline sub-agent records) go to one child session per target.
- The journal is the only import state: a file is read from the largest
  ``origin.end`` among its sessions' events, and the importer's state is
  rebuilt from those events (`Importer.resume_state`). So an import killed at
  any point resumes exactly: each source line is one event, written whole by
  one append; the torn tail a kill can leave is set aside by the store's crash
  recovery when the session is next opened.
- Writing goes through the store seam exactly as `SessionManager` writes:
  every event redacted (one `RedactStream` per session and pass, carrying
  across its records) and payloads over the blob threshold moved into blobs
  (recording.py). The envelope is filled here: ``session_id``, ``seq``, and
  ``ts`` = the append time (the source time is ``origin.ts``).
- Lifecycle: no live process writes an imported session, so each pass that
  appends to one ends with ``SessionPaused(reason="import")``; the next pass
  opens with ``SessionResumed(reason="import")`` (``recovered`` after a killed
  pass). A session with nothing new is not opened at all (``unchanged``).
- Skipped lines are reported with file and line, never silent; an incomplete
  last line (no newline yet) is reported when `final`, waited for otherwise
  (`--follow`); importers whose files are one document, not lines, say so
  with ``line_based = False``. Lines skipped at a file's end are read (and reported) again by
  the next import, since no event marks them read.
- `dry_run` writes nothing and reports what would be imported.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec

from ..errors import P8jError
from ..events import (
    SCHEMA_VERSION,
    AnyEvent,
    Event,
    Origin,
    RecordImported,
    SessionEnded,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    UnknownEvent,
)
from ..fidelity import IMPORT_REASON
from ..recording import append_event, open_for_append, p8j_version, redact_event
from ..secrets.config import default_redactor, redaction_enabled
from ..secrets.engine import Redactor
from ..secrets.stream import RedactStream
from ..store.base import Position, SessionStore, StoreWriter
from ..store.fs.blobs import DEFAULT_BLOB_THRESHOLD
from ..store.fs.store import FileStore
from ..store.select import open_store
from ..timefmt import format_ts, now_ts
from .base import Importer, Mapped, ReadPoint, SourceFile, event_origin
from .registry import get_importer
from .report import ImportReport, SessionReport, Skipped
from .sources import SourceEntry, SourceIndex, derive_id, identity_of, read_source

__all__ = ["ImportRun", "Progress", "default_roots", "import_path"]

Progress = Callable[[int, int], None]


class _Open:
    """A p8j session this pass appends to (writer None: a dry run)."""

    __slots__ = ("report", "seq", "sid", "stream", "writer")

    def __init__(self, sid: str, writer: StoreWriter | None, seq: int, report: SessionReport):
        self.sid, self.writer, self.seq, self.report = sid, writer, seq, report
        self.stream: RedactStream | None = None


class _Resume(msgspec.Struct):
    """Where a file stands (follow mode keeps it between passes while the logs do not move)."""

    point: ReadPoint
    state: Any
    heads: dict[str, Position]
    left_open: list[str] = []  # sessions a killed pass did not pause


class ImportRun:
    """One import (or a follow): the index of past imports, the report, per-file progress."""

    def __init__(
        self,
        importer: Importer,
        store: SessionStore,
        *,
        dry_run: bool = False,
        redact: bool | None = None,
        blob_threshold: int | None = DEFAULT_BLOB_THRESHOLD,
    ) -> None:
        self.importer, self.store, self.dry_run = importer, store, dry_run
        self.index = SourceIndex(store)
        self.report = ImportReport(importer.agent, dry_run=dry_run)
        on = redaction_enabled() if redact is None else redact
        home = store.home.path if isinstance(store, FileStore) else None
        self.redactor: Redactor | None = default_redactor(home) if on else None
        self.threshold = blob_threshold or 0
        self.blobs = store.blobs if blob_threshold else None
        self._resume: dict[str, _Resume] = {}
        self._pass_open: dict[str, _Open] = {}  # the sessions this file's pass writes to
        self._seen: dict[str, SessionReport] = {}

    def new_pass(self) -> None:
        """Start a new report (``--follow``: one per pass); past imports stay known."""
        self.report = ImportReport(self.importer.agent, dry_run=self.dry_run)
        self._seen = {}

    # -- one file ------------------------------------------------------------------

    def run_file(self, file: SourceFile, *, final: bool = True) -> int:
        """Import what is new in `file`; return the number of events written (or counted)."""
        if file.skipped is not None:
            self._skip(file.path, 0, file.skipped)
            return 0
        main = self.index.lookup(identity_of(file))
        sids = [main, *self.index.inline_children(main)] if main else []
        resume = self._resume_point(file.path, sids)
        lines = getattr(self.importer, "line_based", True)  # legacy: one JSON document
        # Following, a line-based source is read from where it stopped only: a growing
        # transcript of hundreds of MB costs what was appended, not its size, per pass.
        base = resume.point.offset if not final and lines and file.compressed is None else 0
        try:
            data = read_source(file, base)
        except (OSError, P8jError) as exc:
            self._skip(file.path, 0, f"cannot read: {exc}")
            return 0
        self.report.files += 1
        opened: dict[str | None, _Open] = {}
        self._pass_open = {}
        written = 0
        point = seen = resume.point
        start = ReadPoint(resume.point.offset - base, resume.point.line)
        try:
            for sid in [] if self.dry_run else resume.left_open:
                self._reopen(sid)  # a killed pass left it active: resumed and paused now
            for m in self.importer.read(file, data, start, resume.state):
                if base:
                    m = _shifted(m, base)
                seen = ReadPoint(m.end, m.line)
                if m.event is None:
                    if m.skipped:
                        self._skip(file.path, m.line, m.skipped)
                    continue
                target = self._target(file, m, opened, main)
                self._append(target, m)
                written += 1
                point = seen
        except P8jError as exc:
            # The store refused (a completed or damaged session, a record over the cap):
            # this file stops here, the others go on; the next import retries it.
            self._skip(file.path, point.line + 1, f"not imported: {exc}")
            seen = point
        finally:
            heads = self._close(self._pass_open.values())
        size = base + len(data)
        self.report.bytes_read += max(0, size - resume.point.offset)
        if final and lines and data and not data.endswith(b"\n") and seen.offset < size:
            line = seen.line + 1
            self._skip(file.path, line, "incomplete last line (no newline): not imported yet")
        for sid in sids:
            self._note(sid, "unchanged")
        if not self.dry_run:
            # In memory only (--follow): skipped lines are not read again while nothing
            # else wrote to these sessions; a new process re-reads them from the journal.
            all_sids = [*self._pass_open, *sids]
            self._resume[file.path] = _Resume(seen, resume.state, self._heads(all_sids, heads))
        return written

    def _heads(self, sids: Iterable[str], known: dict[str, Position]) -> dict[str, Position]:
        heads = dict(known)
        for sid in sids:
            if sid not in heads:
                heads[sid] = self.store.head(sid)
        return heads

    def _resume_point(self, path: str, sids: list[str]) -> _Resume:
        """Where the file's sessions stop: the largest origin end, and the importer's state."""
        cached = self._resume.get(path)
        if cached is not None and set(sids) <= set(cached.heads):
            try:
                if all(self.store.head(s) == p for s, p in cached.heads.items()):
                    return cached  # nobody else appended since our last pass: no re-read
            except P8jError:
                pass
        events: list[AnyEvent | UnknownEvent] = []
        left_open = []
        for sid in sids:
            cursor = self.store.open_cursor(sid, resolve_blobs=False, skip_corrupt=True)
            mine = list(cursor.read())
            if mine and not isinstance(mine[-1], (SessionPaused, SessionEnded)):
                left_open.append(sid)
            events.extend(mine)
        best = ReadPoint()
        imported = []
        for ev in events:
            origin = event_origin(ev)
            if origin is not None and origin.end is not None:
                imported.append((origin.end, ev))
                if origin.end > best.offset:
                    best = ReadPoint(origin.end, origin.line or 0)
        imported.sort(key=lambda pair: pair[0])
        starts = [ev for ev in events if isinstance(ev, SessionStarted)]
        state = self.importer.resume_state([*starts[:1], *(ev for _, ev in imported)])
        return _Resume(best, state, {}, left_open)

    # -- sessions ------------------------------------------------------------------

    def _target(
        self, file: SourceFile, m: Mapped, opened: dict[str | None, _Open], main: str | None
    ) -> _Open:
        """The open session `m` goes to (opened or created on its first record)."""
        key = m.target
        if key in opened:
            return opened[key]
        if key is None:
            sid = main
            sub = file
            parent = self.index.lookup((file.source.agent, file.parent_source_id or "", ""))
            if not file.parent_source_id:
                parent = None
        else:
            owner = self._target(file, msgspec.structs.replace(m, target=None), opened, main)
            source = msgspec.structs.replace(file.source, source_id=key)
            sub = msgspec.structs.replace(
                file, source=source, parent_source_id=file.source.source_id, parent_call_id=None
            )
            sid = self.index.lookup(identity_of(sub))
            parent = owner.sid
        if sid is not None:
            opened[key] = self._reopen(sid)
        else:
            opened[key] = self._create(sub, m, parent)
        return opened[key]

    def _create(self, file: SourceFile, first: Mapped, parent: str | None) -> _Open:
        draft = self.importer.start_event(file, first)
        first_ts = _first_ts(file, draft, first)
        sid = derive_id(identity_of(file), first_ts)
        if first_ts is not None and (draft.origin is None or draft.origin.ts is None):
            # No source time of its own (a file of summaries): start when the id says,
            # the file's mtime, rather than at the import's clock (ls would say "now").
            origin = draft.origin or Origin()
            draft = msgspec.structs.replace(
                draft, origin=msgspec.structs.replace(origin, ts=first_ts)
            )
        source = draft.source or file.source
        if source.host is None:
            source = msgspec.structs.replace(source, host=socket.gethostname())
        if file.parent_source_id and source.parent_source_id is None:
            source = msgspec.structs.replace(source, parent_source_id=file.parent_source_id)
        start = msgspec.structs.replace(
            draft,
            v=SCHEMA_VERSION,
            session_id=sid,
            seq=0,
            ts=now_ts(),
            host=draft.host or socket.gethostname(),
            pid=os.getpid(),
            p8j_version=p8j_version(),
            source=source,
            parent_id=draft.parent_id or parent,
            parent_call_id=draft.parent_call_id or file.parent_call_id,
        )
        report = SessionReport(sid, source.source_id, file.path, "new", parent_id=start.parent_id)
        self._seen[sid] = report
        self.report.sessions.append(report)
        stream = RedactStream(self.redactor) if self.redactor is not None else None
        start = redact_event(stream, start)  # type: ignore[assignment]
        writer = None
        if not self.dry_run:
            if self.store.exists(sid):
                raise P8jError(
                    f"derived session id {sid} is taken by a session of another source",
                    path=file.path,
                )
            writer = self.store.open_writer(sid, first=start)
        entry = SourceEntry(
            sid, source.agent, source.source_id, source.path, start.parent_id,
            source.parent_source_id,
        )  # fmt: skip
        self.index.add(entry)
        opened = _Open(sid, writer, 1, report)
        opened.stream = stream
        self._pass_open[sid] = opened
        return opened

    def _reopen(self, sid: str) -> _Open:
        if sid in self._pass_open:
            return self._pass_open[sid]
        self._note(sid, "updated")
        report = self._seen[sid]
        if self.dry_run:
            return _Open(sid, None, 0, report)
        writer, session, repaired = open_for_append(self.store, sid, None, {})
        opened = _Open(sid, writer, session.last_seq + 1, report)
        self._pass_open[sid] = opened
        if self.redactor is not None:
            opened.stream = RedactStream(self.redactor)
        self._write(
            opened,
            SessionResumed(
                SCHEMA_VERSION, sid, opened.seq, now_ts(), reason=IMPORT_REASON,
                recovered=session.status == "active", repaired_bytes=repaired,
                pid=os.getpid(), host=socket.gethostname(),
            ),
        )  # fmt: skip
        return opened

    def _note(self, sid: str, status: str) -> None:
        if sid in self._seen:
            if status == "updated":
                self._seen[sid].status = "new" if self._seen[sid].status == "new" else "updated"
            return
        entry = self.index.entries.get(sid)
        if entry is None:
            return
        report = SessionReport(
            sid, entry.source_id, entry.path, "updated" if status == "updated" else "unchanged",
            parent_id=entry.parent_id,
        )  # fmt: skip
        self._seen[sid] = report
        self.report.sessions.append(report)

    # -- writing -------------------------------------------------------------------

    def _append(self, opened: _Open, m: Mapped) -> None:
        draft = m.event
        assert draft is not None
        event = msgspec.structs.replace(
            draft, v=SCHEMA_VERSION, session_id=opened.sid, seq=opened.seq, ts=now_ts()
        )
        kind = event.kind if isinstance(event, RecordImported) else None
        if opened.writer is not None:
            event = redact_event(opened.stream, event)
            append_event(opened.writer, event, self.blobs, self.threshold, decode=False)
        opened.seq += 1
        opened.report.records += 1
        self.report.count(type(event).__name__, kind)

    def _write(self, opened: _Open, event: Event) -> None:
        assert opened.writer is not None
        opened.writer.append(redact_event(opened.stream, event))
        opened.seq += 1

    def _close(self, opened: Iterable[_Open]) -> dict[str, Position]:
        """End the pass of every session opened: a pause, then release the lock."""
        heads: dict[str, Position] = {}
        for o in opened:
            writer = o.writer
            if writer is None:
                continue
            try:
                if not writer.failed and not writer.closed:
                    pause = SessionPaused(SCHEMA_VERSION, o.sid, o.seq, now_ts(), IMPORT_REASON)
                    self._write(o, pause)
                    heads[o.sid] = writer.position
            finally:
                writer.close()
        return heads

    def _skip(self, path: str, line: int, reason: str) -> None:
        self.report.skipped.append(Skipped(path, line, reason))

    # -- many files ----------------------------------------------------------------

    def discover(self, paths: Iterable[Path]) -> list[SourceFile]:
        """Every source file under `paths`, parents before their sub-agents."""
        files: list[SourceFile] = []
        for path in paths:
            if not path.exists():
                self._skip(str(path), 0, "no such file or directory")
                continue
            files.extend(self.importer.discover(path))
        return sorted(files, key=lambda f: (f.parent_source_id is not None, f.path))

    def run(self, files: list[SourceFile], progress: Progress | None = None) -> ImportReport:
        """Import every file in order; return the report."""
        total = sum(_size(f) for f in files)
        done = 0
        for file in files:
            self.run_file(file)
            done += _size(file)
            if progress is not None:
                progress(done, total)
        return self.report.finish()


def _shifted(m: Mapped, base: int) -> Mapped:
    """`m` read from a tail starting at byte `base`: its ends made offsets in the whole file."""
    event = m.event
    origin = event_origin(event)
    if event is not None and origin is not None and origin.end is not None:
        moved = msgspec.structs.replace(origin, end=origin.end + base)
        event = msgspec.structs.replace(event, origin=moved)
    return msgspec.structs.replace(m, end=m.end + base, event=event)


def _first_ts(file: SourceFile, draft: SessionStarted, first: Mapped) -> str | None:
    """The source session's first time: its start's, its first record's, else the file's mtime."""
    for origin in (draft.origin, event_origin(first.event)):
        if origin is not None and origin.ts is not None:
            return origin.ts
    try:
        mtime = os.stat(file.path).st_mtime
    except OSError:
        return None
    return format_ts(datetime.fromtimestamp(mtime, timezone.utc))


def _size(file: SourceFile) -> int:
    try:
        return os.stat(file.path).st_size
    except OSError:
        return 0


def default_roots(importer: Importer) -> list[Path]:
    """The agent's own places that exist; P8jError naming them when none does."""
    places = importer.default_paths()
    found = [p for p in places if p.exists()]
    if places and not found:
        where = ", ".join(str(p) for p in places)
        raise P8jError(f"no {importer.agent} sessions here: {where} does not exist; give a PATH")
    return found


def import_path(
    agent: str | Importer,
    path: str | os.PathLike[str] | None = None,
    *,
    store: SessionStore | str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
    dry_run: bool = False,
    redact: bool | None = None,
    blob_threshold: int | None = DEFAULT_BLOB_THRESHOLD,
    progress: Progress | None = None,
) -> ImportReport:
    """Import `agent`'s sessions under `path` (default: the agent's own places) into the store.

    `agent` is an importer's name (see registry.py) or an `Importer`; `store`
    and `home` choose the store as `SessionManager` does; `redact` None means
    on unless ``P8J_REDACT=0``; `progress(done, total)` is called with source
    bytes after each file.
    """
    importer = get_importer(agent) if isinstance(agent, str) else agent
    roots = [Path(path)] if path is not None else default_roots(importer)
    run = ImportRun(
        importer, open_store(store, home), dry_run=dry_run, redact=redact,
        blob_threshold=blob_threshold,
    )  # fmt: skip
    return run.run(run.discover(roots), progress)
