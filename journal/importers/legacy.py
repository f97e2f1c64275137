"""The original session manager's JSON files (`Session.to_dict()`), imported as p8j sessions.

A legacy file is one JSON document, not lines: ``session_id``, ``project_name``,
``start_time``, ``status`` (active/paused/completed), ``end_time``,
``conversation_history`` (``{role, content, timestamp, ...}``), ``command_history``
(strings), ``execution_histories`` (``{command, exit_code, output, ...}``) and
``metadata``. The original manager rewrote the whole file on every save, so it
only ever grew its lists (or changed its top-level fields).

Mapping (every history item becomes exactly one event, nothing is dropped):
- a conversation item with a string ``role`` -> `MessageRecorded` (``role`` and
  ``content`` moved, the rest of the item in ``origin.rest``);
- a command (a string, or an item with a string ``command``) -> `CommandRecorded`;
- an execution with a string ``command`` -> `ExecutionRecorded` (``exit_code``
  when an int, ``output`` when a string);
- any other item -> `RecordImported` whose `kind` is its list's name; a change
  of the top-level fields since the last import -> `RecordImported` of kind
  ``document`` (the new top-level fields, histories emptied).
- the top-level fields are the `SessionStarted`: ``project_name`` and
  ``metadata`` moved, the rest (histories emptied, key order kept) in its
  ``origin.rest``; cwd stays unknown (the format never recorded one).

Incremental unit: the item index. ``Origin.line`` is the item's index in its own
list + 1 (0 for a ``document`` record) and ``Origin.end`` the count of items
imported so far over all three lists; the state (`resume_state`) counts the items
of each list already imported, so a list that grew is read from where it stopped
whatever the others did. Timestamps without an offset (the original wrote local
``datetime.isoformat()``) are taken as UTC; the original text stays in the record.
`native` rebuilds the document exactly (as JSON values).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from ..events import (
    SCHEMA_VERSION,
    AnyEvent,
    CommandRecorded,
    Event,
    ExecutionRecorded,
    MessageRecorded,
    Origin,
    RecordImported,
    SessionStarted,
    SourceInfo,
    UnknownEvent,
)
from ..timefmt import format_ts, parse_ts
from .base import Mapped, ReadPoint, SourceFile, rebuild_record, split_record

__all__ = ["HISTORIES", "IMPORTER", "LegacyImporter"]

HISTORIES = ("conversation_history", "command_history", "execution_histories")
_LIST_OF: dict[type[Any], str] = {
    MessageRecorded: "conversation_history",
    CommandRecorded: "command_history",
    ExecutionRecorded: "execution_histories",
}
_BYTE_RE = re.compile(r"byte (\d+)")
_DECODE = msgspec.json.Decoder()


def _ts(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return format_ts(parse_ts(value))
    except ValueError:
        try:  # the original wrote naive local times: taken as UTC
            return format_ts(parse_ts(value + "Z"))
        except ValueError:
            return None


def _top(doc: dict[str, Any]) -> dict[str, Any]:
    """The document's top-level fields, its histories emptied (key order kept)."""
    return {k: ([] if k in HISTORIES else v) for k, v in doc.items()}


def _draft(cls: type[Event], **fields: Any) -> Any:
    return cls(SCHEMA_VERSION, "", 0, "", **fields)


def _origin(rest: Any, moved: dict[str, Any], values: dict[str, Any], **kw: Any) -> Origin:
    return Origin(rest=rest, moved={f: p for f, p in moved.items() if f in values}, **kw)


def _message(item: Any, **kw: Any) -> Event | None:
    if not isinstance(item, dict) or not isinstance(item.get("role"), str):
        return None
    moves: dict[str, list[str | int]] = {"role": ["role"], "content": ["content"]}
    rest, values = split_record(item, moves)
    origin = _origin(rest, moves, values, ts=_ts(item.get("timestamp")), **kw)
    return _draft(MessageRecorded, origin=origin, **values)  # type: ignore[no-any-return]


def _command(item: Any, **kw: Any) -> Event | None:
    if isinstance(item, str):
        return _draft(CommandRecorded, command=item, origin=Origin(moved={"command": []}, **kw))  # type: ignore[no-any-return]
    if not isinstance(item, dict) or not isinstance(item.get("command"), str):
        return None
    moves: dict[str, list[str | int]] = {"command": ["command"]}
    if isinstance(item.get("cwd"), str):
        moves["cwd"] = ["cwd"]
    rest, values = split_record(item, moves)
    origin = _origin(rest, moves, values, ts=_ts(item.get("timestamp")), **kw)
    return _draft(CommandRecorded, origin=origin, **values)  # type: ignore[no-any-return]


def _execution(item: Any, **kw: Any) -> Event | None:
    if not isinstance(item, dict) or not isinstance(item.get("command"), str):
        return None
    moves: dict[str, list[str | int]] = {"command": ["command"]}
    code = item.get("exit_code")
    if type(code) is int:
        moves["exit_code"] = ["exit_code"]
    if isinstance(item.get("output"), str):
        moves["output"] = ["output"]
    rest, values = split_record(item, moves)
    origin = _origin(rest, moves, values, ts=_ts(item.get("timestamp")), **kw)
    return _draft(ExecutionRecorded, origin=origin, **values)  # type: ignore[no-any-return]


_BUILD = {
    "conversation_history": _message,
    "command_history": _command,
    "execution_histories": _execution,
}


def _parse(data: bytes) -> tuple[dict[str, Any] | None, str, int]:
    """(the document, or None with why and the line that says so)."""
    if not data.strip():
        return None, "empty file: no session in it", 0
    try:
        doc = _DECODE.decode(data)
    except msgspec.DecodeError as exc:
        m = _BYTE_RE.search(str(exc))
        line = data.count(b"\n", 0, int(m.group(1))) + 1 if m else 1
        return None, f"not valid JSON: {exc}", line
    if not isinstance(doc, dict):
        return None, f"not a session file: a JSON {type(doc).__name__}, not an object", 1
    bad = [k for k in HISTORIES if k in doc and not isinstance(doc[k], list)]
    if bad or not any(k in doc for k in HISTORIES):
        why = f"{bad[0]} is not a list" if bad else "no conversation_history, command_history"
        return None, f"not a session file: {why}", 1
    return doc, "", 0


class LegacyImporter:
    """Imports the original session manager's JSON files (see the module docstring)."""

    agent = "legacy"
    line_based = False  # one JSON document: the engine waits for no newline

    def default_paths(self) -> list[Path]:
        """None: the original design kept its files wherever its caller said."""
        return []

    def discover(self, path: Path) -> Iterator[SourceFile]:
        """`path` itself, or every ``*.json`` under it (sorted)."""
        files = [path] if not path.is_dir() else sorted(p for p in path.rglob("*.json"))
        for file in files:
            source_id = file.stem
            try:
                doc, _, _ = _parse(file.read_bytes())
            except OSError:
                doc = None
            if doc is not None and isinstance(doc.get("session_id"), str) and doc["session_id"]:
                source_id = doc["session_id"]
            yield SourceFile(str(file.absolute()), SourceInfo("legacy", source_id, str(file)))

    def read(
        self, file: SourceFile, data: bytes, start: ReadPoint, state: Any = None
    ) -> Iterator[Mapped]:
        """One `Mapped` per history item not imported yet (counts in `state`)."""
        doc, why, line = _parse(data)
        if doc is None:
            yield Mapped(line=line, end=start.offset, skipped=why)
            return
        if state is None:
            state = self.resume_state([])
        done: dict[str, int] = state["done"]
        end = sum(done.values())
        top = _top(doc)
        if state["top"] is not None and state["top"] != top:
            record = _draft(RecordImported, kind="document", record=top)
            origin = Origin(ts=_ts(doc.get("end_time")), line=0, end=end, moved={"record": []})
            yield Mapped(0, end, "document", msgspec.structs.replace(record, origin=origin))
        state["top"] = top
        for name in HISTORIES:
            items = doc.get(name) or []
            for index in range(done[name], len(items)):
                end += 1
                item = items[index]
                event = _BUILD[name](item, line=index + 1, end=end)
                if event is None:
                    origin = Origin(line=index + 1, end=end, moved={"record": []})
                    event = _draft(RecordImported, kind=name, record=item, origin=origin)
                yield Mapped(index + 1, end, name, event)
                done[name] = index + 1

    def resume_state(self, events: Iterable[AnyEvent | UnknownEvent]) -> Any:
        """Items imported per history, and the top-level fields as last imported."""
        done = dict.fromkeys(HISTORIES, 0)
        top: Any = None
        for ev in events:
            if isinstance(ev, SessionStarted) and ev.origin is not None:
                top = rebuild_record(ev)
            elif isinstance(ev, RecordImported) and ev.kind == "document":
                top = ev.record
            elif getattr(ev, "origin", None) is not None:
                name = ev.kind if isinstance(ev, RecordImported) else _LIST_OF.get(type(ev))
                if name in done:
                    done[name] += 1
        return {"done": done, "top": top}

    def start_event(self, file: SourceFile, first: Mapped | None) -> SessionStarted:
        """The session's start: the document's top-level fields (read from the file again)."""
        try:
            doc, _, _ = _parse(Path(file.path).read_bytes())
        except OSError:
            doc = None
        top = _top(doc or {})
        moves: dict[str, list[str | int]] = {}
        for name, kind in (("project_name", str), ("metadata", dict)):
            if isinstance(top.get(name), kind):
                moves[name] = [name]
        rest, values = split_record(top, moves)
        origin = _origin(rest, moves, values, ts=_ts(top.get("start_time")))
        project = values.pop("project_name", None) or Path(file.path).stem
        return SessionStarted(
            SCHEMA_VERSION, "", 0, "", project, source=file.source, origin=origin, **values
        )

    def native(self, events: Iterable[AnyEvent | UnknownEvent]) -> Iterator[Any]:
        """The one document: the latest top-level fields, every item back in its list."""
        doc: dict[str, Any] = {}
        items: dict[str, list[Any]] = {name: [] for name in HISTORIES}
        for ev in events:
            if isinstance(ev, SessionStarted) and ev.origin is not None:
                doc = rebuild_record(ev)
            elif isinstance(ev, RecordImported) and ev.kind == "document":
                doc = dict(ev.record)
            elif getattr(ev, "origin", None) is not None:
                name = ev.kind if isinstance(ev, RecordImported) else _LIST_OF.get(type(ev))
                if name in items:
                    items[name].append(rebuild_record(ev))
        for name, values in items.items():
            if name in doc or values:
                doc[name] = values
        yield doc


IMPORTER = LegacyImporter()
