"""The importer interface: how another agent's log becomes p8j sessions.

An importer is one module with one object satisfying `Importer` (registered by
name in registry.py, or by a third party under the ``p8j.importers`` entry
point group). It is a pure parser: it finds source files (`discover`) and maps
the records of one file (`read`) to `Mapped` items; the engine (engine.py) owns
everything else: which p8j session a source session is, where the last import
stopped, redaction, blobs, appending through the store, reporting.

Contract of `Importer.read(file, data, start)`:
- `data` is the file's bytes (decompressed), and `start` the `ReadPoint` the
  previous import reached (``ReadPoint()`` for a new file). Yield one `Mapped`
  per complete source line from ``start.offset`` on, in file order, with its
  1-based `line` and its `end` (offset just after its newline). A last line
  without its newline is not complete: never yield it (the agent is writing it).
  While following (``--follow``) the engine may pass only the tail of a
  line-based file, from the previous read point on (``start.offset`` 0, line
  numbers continuing); it shifts the ends back, so offsets in `data` must only
  ever be relative to `start` (set ``line_based = False`` on an importer whose
  files are one document, to always get the whole file).
- A line that is whole becomes exactly one `Mapped`: an `event` (a draft: its
  envelope ``session_id``/``seq``/``ts`` are placeholders the engine fills in;
  its ``origin`` set, with ``line`` and ``end``), or `skipped` with the reason
  (malformed JSON, not a record of this agent...). Blank lines are skipped
  silently (`skipped` = "" and no event).
- The event's own fields plus ``origin.rest``/``origin.moved`` rebuild the
  source record exactly (`rebuild_record`); records that are not conversation
  become `RecordImported` with ``moved = {"record": []}``. Nothing is dropped.
- `target` names the source session a record belongs to when it is not the
  file's own (an inline sub-agent record, e.g. Claude's ``isSidechain``): the
  engine keeps one p8j session per target, each a child of the file's session.
- `state` carries what the importer must remember between records of one file
  (the last cwd, the model, open tool calls...). The engine passes the state
  the previous read ended with back in (it is rebuilt from the session's events
  with `resume_state` when a new process resumes an import), so per-turn
  context and pairing work across incremental imports.

`native(events)` is the inverse used by ``p8j export -f native``: the source
records, in order, as JSON values (by default `rebuild_record` of every event
that has an origin).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import msgspec

from ..events import AnyEvent, Event, Origin, SessionStarted, SourceInfo, UnknownEvent

__all__ = [
    "Importer",
    "Mapped",
    "ReadPoint",
    "SourceFile",
    "event_origin",
    "malformed_json",
    "rebuild_record",
    "split_record",
]


class SourceFile(msgspec.Struct, frozen=True, omit_defaults=True):
    """One source file that holds one source session (or a sub-agent's).

    `parent_source_id` and `parent_call_id` link a sub-agent's file to the
    session (and the tool call in it) that spawned it; `compressed` is the
    compression of the file on disk (``zstd``) or None.
    """

    path: str
    source: SourceInfo
    parent_source_id: str | None = None
    parent_call_id: str | None = None
    compressed: str | None = None
    title: str | None = None
    # Found but not importable (not a transcript, a missing optional dependency): why.
    skipped: str | None = None


class ReadPoint(msgspec.Struct, frozen=True):
    """How far a source file has been imported: bytes and lines consumed."""

    offset: int = 0
    line: int = 0


class Mapped(msgspec.Struct, frozen=True, omit_defaults=True):
    """One whole source line: the event it became, or why it was skipped (see module docstring)."""

    line: int
    end: int
    kind: str = ""
    event: Event | None = None
    skipped: str | None = None
    target: str | None = None


@runtime_checkable
class Importer(Protocol):
    """What an importer module provides (see the module docstring)."""

    @property
    def agent(self) -> str:
        """The importer's name: ``p8j import <agent>``; also `SourceInfo.agent`."""
        ...

    def default_paths(self) -> list[Path]:
        """Where the agent keeps its logs when no PATH is given."""
        ...

    def discover(self, path: Path) -> Iterator[SourceFile]:
        """The source files under `path` (a directory tree) or `path` itself (one file)."""
        ...

    def read(
        self, file: SourceFile, data: bytes, start: ReadPoint, state: Any = None
    ) -> Iterator[Mapped]:
        """Map the complete lines of `data` from `start` on (see the module docstring)."""
        ...

    def resume_state(self, events: Iterable[AnyEvent | UnknownEvent]) -> Any:
        """The `state` to continue a file whose imported events so far are `events`."""
        ...

    def start_event(self, file: SourceFile, first: Mapped | None) -> SessionStarted:
        """The draft SessionStarted of a new imported session (project, cwd, source, origin)."""
        ...

    def native(self, events: Iterable[AnyEvent | UnknownEvent]) -> Iterator[Any]:
        """The source records rebuilt from an imported session's events, in order."""
        ...


def malformed_json(exc: Exception) -> str:
    """The skip reason for a line msgspec cannot decode, without its own repeated prefix."""
    return "malformed JSON: " + str(exc).removeprefix("JSON is malformed: ")


def event_origin(event: object) -> Origin | None:
    """The event's `Origin`, or None (a native event, or one without that field)."""
    origin = getattr(event, "origin", None)
    return origin if isinstance(origin, Origin) else None


def _set_path(record: Any, path: list[str | int], value: Any) -> Any:
    if not path:
        return value
    node = record
    for key in path[:-1]:
        node = node[key]
    last = path[-1]
    if isinstance(node, list) and isinstance(last, int) and last == len(node):
        node.append(value)
    else:
        node[last] = value
    return record


def rebuild_record(event: object) -> Any:
    """The source record an imported event came from: ``origin.rest``, moved fields put back.

    Raises ValueError when the event has no origin (it was not imported).
    """
    origin = event_origin(event)
    if origin is None:
        raise ValueError(f"{type(event).__name__} has no origin: it was not imported")
    rest = origin.rest
    # A copy: rest may be shared with the event, which is frozen and may be reused.
    record: Any = {} if rest is msgspec.UNSET else msgspec.json.decode(msgspec.json.encode(rest))
    # Moved values go back in order of path length, so a value moved out of a value
    # that itself was moved (never done, but cheap to honour) lands inside it.
    for field, path in sorted(origin.moved.items(), key=lambda kv: len(kv[1])):
        value = getattr(event, field)
        if value is msgspec.UNSET:
            continue
        if isinstance(value, (dict, list)):
            # A copy: a value moved from inside another moved value is put back into it,
            # which must not write into the (frozen) event's own value.
            value = msgspec.json.decode(msgspec.json.encode(value))
        record = _set_path(record, list(path), value)
    return record


def split_record(record: Any, moves: dict[str, list[str | int]]) -> tuple[Any, dict[str, Any]]:
    """Take the values at `moves` (event field -> path) out of `record`.

    Returns (rest, values): `rest` is a copy of `record` without them (an empty
    path takes the whole record: rest is UNSET), `values` maps each field to
    its value. Paths that are absent in `record` are left out of `values`, so
    the caller drops them from ``origin.moved`` too. List items are only taken
    from the end of their list (so indices stay valid when put back in order).
    """
    values: dict[str, Any] = {}
    if any(not path for path in moves.values()):
        (field,) = [f for f, p in moves.items() if not p]
        return msgspec.UNSET, {field: record}
    rest: Any = msgspec.json.decode(msgspec.json.encode(record))
    for field, path in sorted(moves.items(), key=lambda kv: -len(kv[1])):
        node = rest
        try:
            for key in path[:-1]:
                node = node[key]
            last = path[-1]
            if isinstance(node, dict) and isinstance(last, str) and last in node:
                values[field] = node.pop(last)
            elif isinstance(node, list) and isinstance(last, int) and last == len(node) - 1:
                values[field] = node.pop()
        except (KeyError, IndexError, TypeError):
            continue
    return rest, values
