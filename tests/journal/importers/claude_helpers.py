"""Helpers for the Claude Code importer's tests: records as Claude Code writes them, reading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from p8j.journal.events import AnyEvent, SourceInfo
from p8j.journal.importers.base import Mapped, ReadPoint, SourceFile
from p8j.journal.importers.claude import IMPORTER
from p8j.journal.importers.claude_map import ClaudeState

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "claude" / "projects"
REALDATA = Path(__file__).resolve().parents[3].parent / "shared" / "realdata" / "claude-code"
SESSION = "29ccd257-68b1-427f-ae5f-6524b7cb6f20"


def record(kind: str, n: int = 1, **fields: Any) -> dict[str, Any]:
    """A Claude Code record of type `kind` with the usual envelope (uuid ``u<n>``)."""
    base: dict[str, Any] = {
        "parentUuid": f"u{n - 1}" if n > 1 else None,
        "isSidechain": False,
        "userType": "external",
        "cwd": "/home/me/app",
        "sessionId": "s1",
        "version": "2.0.64",
        "gitBranch": "main",
        "type": kind,
        "uuid": f"u{n}",
        "timestamp": f"2026-01-23T17:34:{n % 60:02d}.719Z",
    }
    base.update(fields)
    return base


def user(n: int, content: Any, **fields: Any) -> dict[str, Any]:
    """A user record."""
    return record("user", n, message={"role": "user", "content": content}, **fields)


def assistant(n: int, block: Any, msg_id: str = "msg_1", **fields: Any) -> dict[str, Any]:
    """An assistant record holding one content block of response `msg_id`."""
    message = {
        "model": "claude-opus-4-5-20251101",
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "content": [block],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 3,
            "cache_creation_input_tokens": 120,
            "cache_read_input_tokens": 4000,
            "output_tokens": 7,
            "service_tier": "standard",
        },
    }
    return record("assistant", n, message=message, requestId="req_1", **fields)


def jsonl(records: list[Any]) -> bytes:
    """The records as Claude Code writes them: one compact JSON object per line."""
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)


def source(path: Path | str = "/nowhere/s1.jsonl") -> SourceFile:
    """A SourceFile for `path` (which need not exist)."""
    info = SourceInfo(agent="claude", source_id="s1", path=str(path))
    return SourceFile(path=str(path), source=info)


def read_all(
    data: bytes, file: SourceFile | None = None, state: ClaudeState | None = None
) -> list[Mapped]:
    """Every Mapped of `data`, from its start."""
    return list(IMPORTER.read(file or source(), data, ReadPoint(), state))


def events(data: bytes, file: SourceFile | None = None) -> list[AnyEvent]:
    """The events of `data` (skips left out)."""
    return [cast("AnyEvent", m.event) for m in read_all(data, file) if m.event is not None]
