"""Tiny importers for the engine tests: Claude-shaped and Codex-shaped JSONL (not a test module).

`CLAUDE_LIKE` reads records ``{"type": "user"|"assistant", "uuid", "parentUuid",
"timestamp", "message": {"role", "content"}, "isSidechain", "agentId"}`` (an inline
sidechain record goes to the `target` of its agentId); sub-agent files live in
``<session>/subagents/*.jsonl``. `CODEX_LIKE` reads ``{"timestamp", "type":
"response_item", "payload": {"type": "message", "role", "content"}}``. Any other
record type is kept raw; malformed lines and non-objects are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from p8j.journal.events import (
    SCHEMA_VERSION,
    AnyEvent,
    MessageRecorded,
    Origin,
    RecordImported,
    SessionStarted,
    SourceInfo,
    UnknownEvent,
)
from p8j.journal.importers.base import (
    Mapped,
    ReadPoint,
    SourceFile,
    event_origin,
    rebuild_record,
    split_record,
)
from p8j.journal.timefmt import format_ts, parse_ts

__all__ = ["CLAUDE_LIKE", "CODEX_LIKE", "LineImporter"]

_DEC = msgspec.json.Decoder()


def _ts(value: Any) -> str | None:
    try:
        return format_ts(parse_ts(value)) if isinstance(value, str) else None
    except ValueError:
        return None


class LineImporter:
    """A JSONL importer of one of the two shapes (see the module docstring)."""

    def __init__(self, agent: str, shape: str) -> None:
        self.agent = agent
        self.shape = shape
        self.on_line: Any = None  # a hook the kill -9 child uses to announce each line

    def default_paths(self) -> list[Path]:
        """None: tests always give a path."""
        return []

    def discover(self, path: Path) -> Iterator[SourceFile]:
        """``*.jsonl`` under `path` (or `path`); ``<sid>/subagents/x.jsonl`` are sub-agents."""
        files = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]
        for file in files:
            parent = None
            if file.parent.name == "subagents":
                parent = file.parent.parent.name
            info = SourceInfo(self.agent, file.stem, str(file))
            yield SourceFile(str(file), info, parent_source_id=parent)

    def _event(self, record: dict[str, Any], line: int, end: int) -> tuple[Any, str | None]:
        ts = _ts(record.get("timestamp"))
        if self.shape == "claude":
            ok = record.get("type") in ("user", "assistant") and isinstance(
                record.get("message"), dict
            )
            moves: dict[str, list[str | int]] = {
                "role": ["message", "role"],
                "content": ["message", "content"],
            }
        else:
            payload = record.get("payload")
            ok = record.get("type") == "response_item" and isinstance(payload, dict)
            ok = ok and isinstance(payload, dict) and payload.get("type") == "message"
            moves = {"role": ["payload", "role"], "content": ["payload", "content"]}
        if not ok:
            origin = Origin(ts=ts, line=line, end=end, moved={"record": []})
            kind = str(record.get("type"))
            return RecordImported(SCHEMA_VERSION, "", 0, "", kind, record, origin=origin), None
        rest, values = split_record(record, moves)
        origin = Origin(
            ts=ts,
            id=record.get("uuid"),
            parent_id=record.get("parentUuid"),
            line=line,
            end=end,
            rest=rest,
            moved={f: p for f, p in moves.items() if f in values},
        )
        values.setdefault("role", "unknown")
        side = bool(record.get("isSidechain"))
        event = MessageRecorded(SCHEMA_VERSION, "", 0, "", origin=origin, sidechain=side, **values)
        target = record.get("agentId") if side else None
        return event, target if isinstance(target, str) else None

    def read(
        self, file: SourceFile, data: bytes, start: ReadPoint, state: Any = None
    ) -> Iterator[Mapped]:
        """One Mapped per complete line from `start`."""
        pos, line = start.offset, start.line
        while True:
            nl = data.find(b"\n", pos)
            if nl < 0:
                return
            raw, end = data[pos:nl], nl + 1
            pos, line = end, line + 1
            if self.on_line is not None:
                self.on_line(line)
            if not raw.strip():
                yield Mapped(line, end, skipped="")
                continue
            try:
                record = _DEC.decode(raw)
            except msgspec.DecodeError as exc:
                yield Mapped(line, end, skipped=f"malformed JSON: {exc}")
                continue
            if not isinstance(record, dict):
                yield Mapped(line, end, skipped="not a record (a JSON object)")
                continue
            event, target = self._event(record, line, end)
            if state is not None:
                state["lines"] = line
            yield Mapped(line, end, str(record.get("type")), event, target=target)

    def resume_state(self, events: Iterable[AnyEvent | UnknownEvent]) -> Any:
        """The last line imported (a state the engine must carry)."""
        last = 0
        for ev in events:
            origin = event_origin(ev)
            if origin is not None and origin.line is not None:
                last = max(last, origin.line)
        return {"lines": last}

    def start_event(self, file: SourceFile, first: Mapped | None) -> SessionStarted:
        """A start named after the file's directory; the first record's time."""
        origin = event_origin(first.event) if first is not None else None
        return SessionStarted(
            SCHEMA_VERSION,
            "",
            0,
            "",
            Path(file.path).parent.name,
            source=file.source,
            origin=Origin(ts=origin.ts if origin else None),
        )

    def native(self, events: Iterable[AnyEvent | UnknownEvent]) -> Iterator[Any]:
        """Every imported record rebuilt, in order."""
        for ev in events:
            origin = event_origin(ev)
            if origin is not None and not isinstance(ev, SessionStarted):
                yield rebuild_record(ev)


CLAUDE_LIKE = LineImporter("fakeclaude", "claude")
CODEX_LIKE = LineImporter("fakecodex", "codex")
