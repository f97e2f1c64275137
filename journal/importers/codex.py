"""The Codex CLI importer: ``~/.codex/sessions`` rollouts as p8j sessions.

Files (`discover`): ``$CODEX_HOME`` (default ``~/.codex``) ``sessions/YYYY/MM/DD/
rollout-<local time>-<uuid>.jsonl`` and ``archived_sessions/``, also compressed
(``.jsonl.zst``: needs the optional ``p8j[zstd]``; without it such a file is
reported skipped), or one file. Every ``*.jsonl``/``*.jsonl.zst`` of a tree
whose first record is a Codex one is a rollout; ``history.jsonl`` (prompt
history) and other JSONL files are reported skipped. One rollout holds one
source session: its id is ``session_meta.payload.id`` (the legacy header's
``id``; else the uuid in the file name), its format the ``cli_version``.

Links: a fork (``session_meta.payload.forked_from_id``) and a spawned thread
(``source.subagent.thread_spawn.parent_thread_id``, or ``parent_thread_id``)
name their parent session; a thread's spawning tool call is the ``call_id`` of
the parent's ``collab_agent_spawn_end`` whose ``new_thread_id`` is the thread
(found when the parent's rollout is in the same tree). Parents are yielded
before their children.

Records (`read`): one `Mapped` per whole line, in order, mapped by
codex_map.py; an unterminated last line is never read (Codex is writing it);
CRLF ends, blank lines (skipped silently), malformed JSON and non-objects
(skipped with the reason) are accounted for line by line. The read `state` is
a `CodexState`, updated in place as each line is yielded; `resume_state`
rebuilds it from the events, so an import resumed in a new process maps the
rest exactly as one read would have.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from ..codec import MAX_NESTING, check_nesting
from ..errors import InvalidEventError, JournalIOError
from ..events import SCHEMA_VERSION, AnyEvent, Origin, SessionStarted, SourceInfo, UnknownEvent
from .base import Mapped, ReadPoint, SourceFile, event_origin, malformed_json, rebuild_record
from .codex_map import RESPONSE_ITEMS, WRAPPED, CodexState, map_record, record_ts

__all__ = ["IMPORTER", "CodexImporter", "read_source"]

ZSTD_MISSING = "compressed rollout: install p8j[zstd] to import it"
HISTORY = "Codex prompt history (history.jsonl), not a session transcript"
NOT_CODEX = "not a Codex rollout (its first record is no Codex record)"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SUFFIXES = (".jsonl", ".jsonl.zst")
_CHUNK = 1 << 16
_HEAD_LIMIT = 1 << 24  # a first line longer than 16 MiB is not looked at by discover
_CWD_SCAN = 1 << 21  # start_event looks for an <environment_context> cwd this far


def _zstd_available() -> bool:
    try:
        import zstandard  # noqa: F401
    except ImportError:
        return False
    return True


def _chunks(file: SourceFile) -> Iterator[bytes]:
    """The file's (decompressed) bytes, a chunk at a time."""
    try:
        with open(file.path, "rb") as handle:
            if file.compressed != "zstd":
                while chunk := handle.read(_CHUNK):
                    yield chunk
                return
            try:
                import zstandard
            except ImportError as exc:
                raise JournalIOError(ZSTD_MISSING, path=file.path) from exc
            try:
                reader = zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True)
                while chunk := reader.read(_CHUNK):
                    yield chunk
            except zstandard.ZstdError as exc:
                raise JournalIOError(
                    f"cannot decompress zstd rollout: {exc}", path=file.path
                ) from exc
    except OSError as exc:
        raise JournalIOError(f"cannot read rollout: {exc.strerror}", path=file.path) from exc


def read_source(file: SourceFile, limit: int | None = None) -> bytes:
    """The file's (decompressed) bytes, the first `limit` of them when given."""
    data = bytearray()
    for chunk in _chunks(file):
        data += chunk
        if limit is not None and len(data) >= limit:
            return bytes(data[:limit])
    return bytes(data)


def _head(file: SourceFile) -> bytes:
    """The file's first bytes, up to a whole line that is not blank (or `_HEAD_LIMIT`)."""
    data = bytearray()
    for chunk in _chunks(file):
        data += chunk
        if len(data) >= _HEAD_LIMIT or data[: data.rfind(b"\n") + 1].strip():
            break
    return bytes(data)


def _first_record(data: bytes) -> Any:
    """The first non-blank whole line of `data`, decoded (None: none, or not JSON)."""
    for raw in data.split(b"\n")[:-1]:
        if raw.strip():
            try:
                return msgspec.json.decode(raw.rstrip(b"\r"))
            except (msgspec.DecodeError, RecursionError):
                return None
    return None


def _is_codex(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    kind = record.get("type")
    if kind is None:  # the legacy header, or a legacy state marker
        return ("id" in record and "timestamp" in record) or "record_type" in record
    return kind in WRAPPED or kind in RESPONSE_ITEMS


def _meta(record: Any) -> dict[str, Any]:
    """The session_meta payload (or legacy header) in `record`, else {}."""
    if not isinstance(record, dict):
        return {}
    if record.get("type") == "session_meta" and isinstance(record.get("payload"), dict):
        return dict(record["payload"])
    return record if "type" not in record and "id" in record else {}


def _parent_thread(meta: dict[str, Any]) -> str | None:
    source = meta.get("source")
    spawn = source.get("subagent") if isinstance(source, dict) else None
    spawn = spawn.get("thread_spawn") if isinstance(spawn, dict) else None
    for holder in (spawn, meta):
        if isinstance(holder, dict) and isinstance(holder.get("parent_thread_id"), str):
            return str(holder["parent_thread_id"])
    return None


class CodexImporter:
    """Codex CLI rollouts (see the module docstring)."""

    @property
    def agent(self) -> str:
        """``codex``."""
        return "codex"

    def default_paths(self) -> list[Path]:
        """``$CODEX_HOME/sessions`` and ``$CODEX_HOME/archived_sessions`` (default ``~/.codex``)."""
        home = Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex")
        return [home / "sessions", home / "archived_sessions"]

    def discover(self, path: Path) -> Iterator[SourceFile]:
        """The rollouts under `path` (or `path` itself), parents before children."""
        if path.is_dir():
            # os.walk, not rglob: ~/.codex is a dot folder, and so are folders above a tree.
            walk = os.walk(path)
            paths = sorted(Path(d) / n for d, _, ns in walk for n in ns if n.endswith(_SUFFIXES))
            found = [self._source(p, in_tree=True) for p in paths]
        else:
            found = [self._source(path, in_tree=False)]
        yield from _link(found)

    def _source(self, path: Path, *, in_tree: bool) -> SourceFile:
        compressed = "zstd" if path.name.endswith(".zst") else None
        ids = _UUID.findall(path.name)
        name_id = ids[-1] if ids else path.name.split(".")[0]
        draft = SourceFile(
            path=str(path.absolute()),
            source=SourceInfo(agent="codex", source_id=name_id, path=str(path.absolute())),
            compressed=compressed,
        )
        if path.name == "history.jsonl":
            return msgspec.structs.replace(draft, skipped=HISTORY)
        if compressed and not _zstd_available():
            return msgspec.structs.replace(draft, skipped=ZSTD_MISSING)
        try:
            first = _first_record(_head(draft))
        except JournalIOError as exc:
            if not in_tree:  # the one file asked for: an error, not a report
                raise
            return msgspec.structs.replace(draft, skipped=exc.message)
        if isinstance(first, dict) and set(first) == {"session_id", "ts", "text"}:
            return msgspec.structs.replace(draft, skipped=HISTORY)
        if first is not None and not _is_codex(first):
            return msgspec.structs.replace(draft, skipped=NOT_CODEX)
        meta = _meta(first)
        source_id = meta.get("id") if isinstance(meta.get("id"), str) else name_id
        version = meta.get("cli_version") if isinstance(meta.get("cli_version"), str) else None
        forked = meta.get("forked_from_id")
        parent = forked if isinstance(forked, str) else _parent_thread(meta)
        return msgspec.structs.replace(
            draft,
            source=msgspec.structs.replace(draft.source, source_id=source_id, format=version),
            parent_source_id=parent,
        )

    def read(
        self, file: SourceFile, data: bytes, start: ReadPoint, state: Any = None
    ) -> Iterator[Mapped]:
        """Map the whole lines of `data` from `start` on (see base.py's contract).

        `state` is the `CodexState` of `resume_state` (None: a new file's); it is
        updated in place as each line is yielded, so the caller keeps it for the
        next read of the same file.
        """
        st = state if isinstance(state, CodexState) else CodexState()
        pos, line = start.offset, start.line
        while (newline := data.find(b"\n", pos)) >= 0:
            line += 1
            mapped = _map_line(data[pos:newline], line, newline + 1, st)
            pos = newline + 1
            if mapped.event is not None:
                st.apply(mapped.event)
            yield mapped

    def resume_state(self, events: Iterable[AnyEvent | UnknownEvent]) -> CodexState:
        """The state a read that produced `events` ended with."""
        state = CodexState()
        for event in events:
            state.apply(event)
        return state

    def start_event(self, file: SourceFile, first: Mapped | None) -> SessionStarted:
        """The draft SessionStarted: project from the session's cwd, source, start time."""
        record = getattr(first.event, "record", None) if first is not None else None
        meta = _meta(record)
        if not meta:
            try:
                meta = _meta(_first_record(_head(file)))
            except JournalIOError:
                meta = {}
        cwd = meta.get("cwd") if isinstance(meta.get("cwd"), str) else None
        if cwd is None:
            cwd = _context_cwd(self, file)
        first_origin = event_origin(first.event) if first is not None else None
        start = record_ts(meta) or (first_origin.ts if first_origin is not None else None)
        return SessionStarted(
            v=SCHEMA_VERSION,
            session_id="",
            seq=0,
            ts="",
            project_name=_project_name(cwd, meta),
            cwd=cwd,
            source=file.source,
            origin=Origin(ts=start),
            parent_call_id=file.parent_call_id,
        )

    def native(self, events: Iterable[AnyEvent | UnknownEvent]) -> Iterator[Any]:
        """The rollout's records rebuilt from the imported events, in order."""
        for event in events:
            origin = event_origin(event)
            if origin is not None and origin.line is not None:
                yield rebuild_record(event)


def _context_cwd(importer: CodexImporter, file: SourceFile) -> str | None:
    """The cwd an early ``<environment_context>`` message states (a meta without cwd)."""
    try:
        head = read_source(file, _CWD_SCAN)
    except JournalIOError:
        return None
    for mapped in importer.read(file, head, ReadPoint()):
        origin = event_origin(mapped.event)
        if origin is not None and origin.cwd is not None:
            return origin.cwd
    return None


def _project_name(cwd: str | None, meta: dict[str, Any]) -> str:
    if cwd and (name := re.split(r"[\\/]", cwd.rstrip("/\\"))[-1]):
        return name
    git = meta.get("git")
    url = git.get("repository_url") if isinstance(git, dict) else None
    if isinstance(url, str) and (name := url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")):
        return name
    return "codex"


def _map_line(raw: bytes, line: int, end: int, state: CodexState) -> Mapped:
    raw = raw[:-1] if raw.endswith(b"\r") else raw
    if not raw.strip():
        return Mapped(line=line, end=end, skipped="")
    try:
        record = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError) as exc:
        return Mapped(line=line, end=end, skipped=malformed_json(exc))
    if not isinstance(record, dict):
        return Mapped(line=line, end=end, skipped=f"not a JSON object: {type(record).__name__}")
    # The event holds the record two levels down (origin.rest), and p8j must read it back.
    # Counting brackets bounds the depth cheaply; only a record with many walks it.
    if raw.count(b"[") + raw.count(b"{") > MAX_NESTING - 2:
        try:
            check_nesting([[record]], "the record")
        except InvalidEventError as exc:
            return Mapped(line=line, end=end, skipped=f"{exc} (max {MAX_NESTING - 2} in a record)")
    kind, event = map_record(record, line, end, state)
    return Mapped(line=line, end=end, kind=kind, event=event)


def _link(found: list[SourceFile]) -> list[SourceFile]:
    """Fill in spawning call ids and order parents before children."""
    by_id = {f.source.source_id: f for f in found if f.skipped is None}
    calls: dict[str, str] = {}
    for parent in {f.parent_source_id for f in found if f.parent_source_id} & set(by_id):
        calls.update(_spawned(by_id[parent]))
    linked = [
        msgspec.structs.replace(f, parent_call_id=calls[f.source.source_id])
        if f.parent_source_id and f.source.source_id in calls
        else f
        for f in found
    ]

    def depth(file: SourceFile) -> int:
        seen: set[str] = set()
        while file.parent_source_id in by_id and file.parent_source_id not in seen:
            seen.add(file.parent_source_id)
            file = by_id[file.parent_source_id]
        return len(seen)

    return sorted(linked, key=depth)  # stable: each depth keeps the path order


def _spawned(parent: SourceFile) -> dict[str, str]:
    """Thread id -> the call id that spawned it, from the parent's ``collab_agent_spawn_end``."""
    try:
        data = read_source(parent)
    except JournalIOError:
        return {}
    found: dict[str, str] = {}
    for raw in data.split(b"\n")[:-1]:
        if b"collab_agent_spawn_end" not in raw:
            continue
        try:
            payload = msgspec.json.decode(raw.rstrip(b"\r")).get("payload")
        except (msgspec.DecodeError, RecursionError, AttributeError):
            continue
        if isinstance(payload, dict) and payload.get("type") == "collab_agent_spawn_end":
            thread, call = payload.get("new_thread_id"), payload.get("call_id")
            if isinstance(thread, str) and isinstance(call, str):
                found[thread] = call
    return found


IMPORTER = CodexImporter()
