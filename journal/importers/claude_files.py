"""Claude Code's files on disk: which are sessions, which are sub-agents, and how they link.

Layout (``~/.claude/projects``, FORMATS.md 1.1): ``<project>/<session>.jsonl`` is
a session; its sub-agents are ``<project>/agent-<id>.jsonl`` (2.0.x, beside it)
or ``<project>/<session>/subagents/agent-<id>.jsonl`` (2.1.x, with an optional
``agent-<id>.meta.json``); spilled tool outputs are
``<project>/<session>/tool-results/<name>``. ``<project>`` is the starting cwd
with ``/`` turned into ``-``: lossy, so the cwd comes from the records and the
folder name is only a fallback (`project_from_folder`).

A sub-agent file's records carry its parent's ``sessionId`` and its own
``agentId``; the parent names the tool call that spawned it in the
``toolUseResult.agentId`` of that call's result (or, 2.1.x, in an
``agent_progress`` record's ``data.agentId`` with ``parentToolUseID``):
`spawning_calls` reads those from the parent file.

Everything here only reads; unreadable files read as empty (the read that
follows reports what is wrong with them, line by line).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from .codex_map import WRAPPED as _CODEX_WRAPPED

__all__ = [
    "MAX_SIDE_FILE",
    "Header",
    "agent_id_of",
    "is_agent_file",
    "project_dir",
    "project_from_folder",
    "read_meta",
    "read_side_file",
    "scan_header",
    "spawning_calls",
]

# A spilled output larger than this stays a preview: the import must not read
# an arbitrarily large file into memory on the word of a record.
MAX_SIDE_FILE = 64 << 20

_DECODE = msgspec.json.Decoder().decode
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SEP = re.compile(r"[\\/]")


@dataclass
class Header:
    """What the first records of a file say: its session, agent, cwd, CLI version, first time."""

    session_id: str | None = None
    agent_id: str | None = None
    cwd: str | None = None
    version: str | None = None
    ts: str | None = None
    # The agent whose file this is when its first record is not Claude Code's.
    foreign: str | None = None
    # The first file-history-snapshot's own time: the only one a file of snapshots has.
    snapshot_ts: str | None = None

    def complete(self) -> bool:
        """True once every value a file can state has been found."""
        return None not in (self.session_id, self.cwd, self.version, self.ts)


def _records(path: Path, needle: bytes = b"") -> Any:
    """The decodable JSON objects of `path` (of lines holding `needle`), in order."""
    try:
        handle = path.open("rb")
    except OSError:
        return
    with handle:
        for raw in handle:  # binary iteration splits on b"\n" only
            if not raw.endswith(b"\n"):
                return  # an unterminated last line is still being written
            if needle not in raw:
                continue
            try:
                record = _DECODE(raw)
            except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
                continue
            if isinstance(record, dict):
                yield record


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def scan_header(path: Path) -> Header:
    """The `Header` of a Claude Code file: read from the top until every value is found."""
    head = Header()
    for index, record in enumerate(_records(path)):
        if index == 0 and _is_codex(record):
            head.foreign = "Codex"
            return head
        head.session_id = head.session_id or _text(record.get("sessionId"))
        head.agent_id = head.agent_id or _text(record.get("agentId"))
        head.cwd = head.cwd or _text(record.get("cwd"))
        head.version = head.version or _text(record.get("version"))
        head.ts = head.ts or _text(record.get("timestamp"))
        if head.snapshot_ts is None and record.get("type") == "file-history-snapshot":
            snapshot = record.get("snapshot")
            head.snapshot_ts = (
                _text(snapshot.get("timestamp")) if isinstance(snapshot, dict) else None
            )
        if head.complete():
            break
    if is_agent_file(path) or not _UUID.fullmatch(path.stem):
        return head
    # Claude Code names a session's file after its id; records copied from an
    # earlier session (a resume) may carry that one's id, the file is still this one.
    head.session_id = path.stem
    return head


def _is_codex(record: dict[str, Any]) -> bool:
    """A Codex rollout's record: ``{"timestamp", "type": "session_meta"..., "payload": {...}}``."""
    return record.get("type") in _CODEX_WRAPPED and isinstance(record.get("payload"), dict)


def is_agent_file(path: Path) -> bool:
    """True for a sub-agent's transcript (``agent-<id>.jsonl``)."""
    return path.name.startswith("agent-") and path.name.endswith(".jsonl")


def agent_id_of(path: Path, head: Header) -> str:
    """A sub-agent's id: its records' ``agentId``, else the file name's."""
    return head.agent_id or path.name[len("agent-") : -len(".jsonl")]


def project_dir(path: Path) -> Path:
    """The ``<project>`` folder of a session or sub-agent file."""
    if path.parent.name == "subagents":
        return path.parent.parent.parent
    return path.parent


def project_from_folder(name: str) -> str:
    """A project's name from its folder name (``-home-me-my-app``): as far as this machine can tell.

    ``-`` stands for ``/`` and for a ``-`` in a name alike; a prefix that is an
    existing directory here is taken as a path, the rest stays one name.
    """
    parts = [p for p in name.split("-") if p]
    if not parts:
        return name
    base = os.sep
    current = parts[0]
    for part in parts[1:]:
        if os.path.isdir(os.path.join(base, current)):
            base = os.path.join(base, current)
            current = part
        else:
            current = f"{current}-{part}"
    return current


def read_meta(path: Path) -> dict[str, Any] | None:
    """A sub-agent's ``agent-<id>.meta.json`` (agentType, description...), or None."""
    meta = path.with_name(path.name[: -len(".jsonl")] + ".meta.json")
    try:
        value = _DECODE(meta.read_bytes())
    except (OSError, msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def spawning_calls(parent: Path) -> dict[str, str]:
    """agentId -> the id of the tool call that spawned it, as the parent file records them."""
    calls: dict[str, str] = {}
    progress: dict[str, str] = {}
    # Only lines naming an agent are decoded: a parent file can be hundreds of MB.
    for record in _records(parent, b'"agentId"'):
        result = record.get("toolUseResult")
        message = record.get("message")
        if isinstance(result, dict) and isinstance(result.get("agentId"), str):
            content = message.get("content") if isinstance(message, dict) else None
            for block in content if isinstance(content, list) else ():
                if isinstance(block, dict) and isinstance(block.get("tool_use_id"), str):
                    calls.setdefault(result["agentId"], block["tool_use_id"])
                    break
        data = record.get("data")
        if record.get("type") == "progress" and isinstance(data, dict):
            agent, call = data.get("agentId"), record.get("parentToolUseID")
            if isinstance(agent, str) and isinstance(call, str):
                progress.setdefault(agent, call)
    return {**progress, **calls}


def read_side_file(source: Path, recorded: str) -> str | None:
    """The text of an output the agent spilled to ``tool-results/``, found beside `source`.

    Only the recorded path's last two folders' names are used (``<session>/
    tool-results/<name>``): the file is looked for under the source's own
    project folder, never at the recorded (foreign, maybe hostile) path.
    """
    parts = [p for p in _SEP.split(recorded.strip()) if p]
    if len(parts) < 3 or parts[-2] != "tool-results":
        return None
    name, session = parts[-1], parts[-3]
    if name in (".", "..") or session in (".", ".."):
        return None
    for folder in (project_dir(source) / session, source.with_suffix("")):
        candidate = folder / "tool-results" / name
        try:
            if candidate.is_file() and candidate.stat().st_size <= MAX_SIDE_FILE:
                return candidate.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            continue
    return None
