"""The Claude Code importer: ``~/.claude/projects`` transcripts as p8j sessions (issue 11).

`IMPORTER` (registered as ``claude``) implements `Importer` (base.py):

- `discover`: every ``*.jsonl`` under a tree (or one file). Sessions come
  first, then sub-agent files (``agent-*.jsonl`` beside a session or in
  ``<session>/subagents/``), each linked to its parent's source id (the
  ``sessionId`` in its records) and, where the parent records it, to the tool
  call that spawned it (claude_files.py). ``history.jsonl`` (typed-prompt
  history, not a transcript) and a file whose first record is a Codex one
  (``p8j import claude ~/.codex``) are found but skipped as a whole
  (`SourceFile.skipped`, reported once); `read` still reads a history's lines
  as skipped ones for a caller that asks.
- `read`: one `Mapped` per whole line (claude_map.py maps the record). Blank
  lines are skipped silently; CRLF endings are read as LF; malformed JSON, a
  value that is not an object, a record without a ``type`` and a record
  nested too deep for a journal line are skipped with the reason. An
  unterminated last line is never read.
- Inline sub-agent records (1.0.x ``isSidechain`` in the session's own file)
  stay in the file's session, flagged ``sidechain`` (no `Mapped.target`): the
  source gives them no agent id, only a tree of ``parentUuid`` links, and one
  file read as one session keeps `native` exact and in order and the resume
  point one offset.
- `start_event`: its time is the first record time (a file of
  ``file-history-snapshot`` lines only: the first snapshot's); the project is
  the cwd's last folder (the records' cwd, never
  the importer's own), else the project folder's name decoded; ``source`` is
  (``claude``, session id or agent id, path, CLI version); a sub-agent's
  ``parent_call_id`` and its ``.meta.json`` (in ``metadata["claude_agent"]``).
- `resume_state` replays `track` over the events; `native` rebuilds the
  records of every event with an origin but the SessionStarted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from ..codec import MAX_NESTING
from ..errors import P8jError
from ..events import SCHEMA_VERSION, AnyEvent, Origin, SessionStarted, SourceInfo, UnknownEvent
from .base import Mapped, ReadPoint, SourceFile, event_origin, malformed_json, rebuild_record
from .claude_files import (
    Header,
    agent_id_of,
    is_agent_file,
    project_dir,
    project_from_folder,
    read_meta,
    read_side_file,
    scan_header,
    spawning_calls,
)
from .claude_map import ClaudeState, map_record, normalize_ts, track

__all__ = ["HISTORY_FILE", "IMPORTER", "ClaudeImporter"]

HISTORY_FILE = "history.jsonl"
HISTORY = "Claude Code prompt history (history.jsonl), not a session transcript"
# The event wraps a record two levels down (event -> origin.rest or record), and
# the codec refuses lines nested deeper than MAX_NESTING: a deeper record is skipped.
_MAX_DEPTH = MAX_NESTING - 4
_DECODE = msgspec.json.Decoder().decode
_SEP = re.compile(r"[\\/]")


def _depth(value: Any, limit: int) -> bool:
    """True if `value` nests lists/objects deeper than `limit` levels (no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if level > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, level + 1) for c in children if isinstance(c, (dict, list)))
    return False


def _foreign(agent: str) -> str:
    return f"not a Claude Code transcript (its first record is a {agent} one)"


class ClaudeImporter:
    """Claude Code's JSONL transcripts (see the module docstring)."""

    @property
    def agent(self) -> str:
        """``claude``."""
        return "claude"

    def default_paths(self) -> list[Path]:
        """``$CLAUDE_CONFIG_DIR/projects``, ``~/.claude/projects``, ``~/.config/claude/projects``.

        Those that exist (Claude Code has used each); ``~/.claude/projects`` if none does.
        """
        home = Path.home()
        xdg = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
        places = [home / ".claude", Path(xdg) / "claude"]
        if os.environ.get("CLAUDE_CONFIG_DIR"):
            places.insert(0, Path(os.environ["CLAUDE_CONFIG_DIR"]).expanduser())
        found: list[Path] = []
        for place in places:
            projects = place / "projects"
            if projects.is_dir() and projects.resolve() not in [p.resolve() for p in found]:
                found.append(projects)
        return found or [home / ".claude" / "projects"]

    def discover(self, path: Path) -> Iterator[SourceFile]:
        """The session files under `path` (or `path` itself), sessions before their sub-agents."""
        path = Path(path)
        if path.is_file():
            files = [path]
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*.jsonl") if p.is_file())
        else:
            raise P8jError("no such file or directory", path=path)
        sessions: dict[str, Path] = {}
        agents: list[Path] = []
        for file in files:
            if is_agent_file(file):
                agents.append(file)
                continue
            head = scan_header(file)
            source = self._source(file, head)
            if head.foreign is not None or file.name == HISTORY_FILE:
                why = HISTORY if head.foreign is None else _foreign(head.foreign)
                yield SourceFile(path=source.path, source=source, skipped=why)
                continue
            sessions.setdefault(source.source_id, file)
            yield SourceFile(path=source.path, source=source)
        links: dict[Path, dict[str, str]] = {}
        for file in agents:
            yield self._agent_file(file, sessions, links)

    def _source(self, file: Path, head: Header) -> SourceInfo:
        if file.name == HISTORY_FILE:
            return SourceInfo(agent=self.agent, source_id="history", path=str(file.absolute()))
        return SourceInfo(
            agent=self.agent,
            source_id=head.session_id or file.stem,
            path=str(file.absolute()),
            format=head.version,
        )

    def _agent_file(
        self, file: Path, sessions: dict[str, Path], links: dict[Path, dict[str, str]]
    ) -> SourceFile:
        head = scan_header(file)
        if head.foreign is not None:
            source = SourceInfo(agent=self.agent, source_id=file.stem, path=str(file.absolute()))
            return SourceFile(path=source.path, source=source, skipped=_foreign(head.foreign))
        parent_id = head.session_id
        if parent_id is None and file.parent.name == "subagents":
            parent_id = file.parent.parent.name
        call_id = None
        if parent_id is not None:
            parent = sessions.get(parent_id) or project_dir(file) / f"{parent_id}.jsonl"
            if parent not in links:
                links[parent] = spawning_calls(parent) if parent.is_file() else {}
            call_id = links[parent].get(agent_id_of(file, head))
        meta = read_meta(file)
        title = meta.get("description") if meta is not None else None
        source = SourceInfo(
            agent=self.agent,
            source_id=agent_id_of(file, head),
            path=str(file.absolute()),
            format=head.version,
        )
        return SourceFile(
            path=source.path,
            source=source,
            parent_source_id=parent_id,
            parent_call_id=call_id,
            title=title if isinstance(title, str) else None,
        )

    def read(
        self, file: SourceFile, data: bytes, start: ReadPoint, state: Any = None
    ) -> Iterator[Mapped]:
        """Map the whole lines of `data` from `start` on; `state` (`ClaudeState`) advances."""
        if not isinstance(state, ClaudeState):
            state = ClaudeState()
        source = Path(file.path)
        history = source.name == HISTORY_FILE

        def sidefiles(recorded: str) -> str | None:
            return read_side_file(source, recorded)

        pos, line = start.offset, start.line
        find = data.find
        while True:
            newline = find(b"\n", pos)
            if newline < 0:
                return  # nothing more, or a last line the agent is still writing
            raw = data[pos:newline]
            pos, line = newline + 1, line + 1
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if not raw.strip():
                yield Mapped(line=line, end=pos, skipped="")
            elif history:
                yield Mapped(line=line, end=pos, skipped="prompt history, not a transcript")
            else:
                yield self._line(raw, line, pos, state, sidefiles)

    def _line(self, raw: bytes, line: int, end: int, state: ClaudeState, sidefiles: Any) -> Mapped:
        try:
            record = _DECODE(raw)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
            return Mapped(line=line, end=end, skipped=malformed_json(exc))
        if not isinstance(record, dict):
            return Mapped(line=line, end=end, skipped="not a JSON object")
        kind = record.get("type")
        if not isinstance(kind, str):
            return Mapped(line=line, end=end, skipped="not a Claude Code record (no type)")
        # Cheap test first: only a line with many brackets can nest deep.
        if raw.count(b"[") + raw.count(b"{") > _MAX_DEPTH and _depth(record, _MAX_DEPTH):
            reason = f"nested deeper than {_MAX_DEPTH} levels"
            return Mapped(line=line, end=end, kind=kind, skipped=reason)
        event = map_record(record, line, end, state, sidefiles)
        track(state, event)
        return Mapped(line=line, end=end, kind=kind, event=event)

    def resume_state(self, events: Iterable[AnyEvent | UnknownEvent]) -> ClaudeState:
        """The state a read that produced `events` ended with."""
        state = ClaudeState()
        for event in events:
            if not isinstance(event, SessionStarted):
                track(state, event)
        return state

    def start_event(self, file: SourceFile, first: Mapped | None) -> SessionStarted:
        """The draft SessionStarted of a new imported Claude Code session."""
        path = Path(file.path)
        head = scan_header(path)
        origin = event_origin(first.event) if first is not None else None
        ts = origin.ts if origin is not None and origin.ts else normalize_ts(head.ts)
        # A file of snapshots only has no record time: its first snapshot's, not the import's.
        ts = ts or normalize_ts(head.snapshot_ts)
        if head.cwd:
            project = [p for p in _SEP.split(head.cwd) if p][-1:] or [head.cwd]
            project_name = project[0]
        else:
            project_name = project_from_folder(project_dir(path).name)
        meta = read_meta(path) if is_agent_file(path) else None
        return SessionStarted(
            v=SCHEMA_VERSION,
            session_id="",
            seq=0,
            ts="",
            project_name=project_name,
            metadata={"claude_agent": meta} if meta is not None else {},
            cwd=head.cwd,
            source=file.source,
            origin=Origin(ts=ts) if ts is not None else None,
            parent_call_id=file.parent_call_id,
        )

    def native(self, events: Iterable[AnyEvent | UnknownEvent]) -> Iterator[Any]:
        """The Claude Code records of an imported session, in order."""
        for event in events:
            if isinstance(event, SessionStarted):
                continue  # its origin is the first record's time, not a record
            origin = event_origin(event)
            if origin is not None and origin.line is not None:
                yield rebuild_record(event)


IMPORTER = ClaudeImporter()
