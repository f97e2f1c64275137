"""A journal recorded from the real agent logs in ../shared/realdata, for search tests."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from p8j.journal import Home, SessionManager

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"
MAX_LOG = 400 << 10  # the smaller real logs: enough variety, quick to search many times


def real_logs() -> list[Path]:
    """The real agent logs (sorted), or [] when the corpus is absent."""
    if not REALDATA.is_dir():
        return []
    found = []
    for dirpath, _, names in os.walk(REALDATA):
        found += [Path(dirpath) / n for n in names if n.endswith(".jsonl")]
    return sorted(p for p in found if p.stat().st_size <= MAX_LOG)


def _messages(path: Path) -> list[dict[str, Any]]:
    out = []
    for raw in path.read_bytes().split(b"\n"):
        raw = raw.strip()
        if not raw:
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        msg = obj.get("message") or obj.get("payload") or obj
        if isinstance(msg, dict) and isinstance(msg.get("role"), str):
            out.append({"role": msg["role"], "content": msg.get("content")})
    return out


def record_corpus(home: Home) -> list[str]:
    """Record every real log as a session (messages; commands and executions from Bash calls)."""
    mgr = SessionManager(home, max_record_bytes=8 << 20)
    ids = []
    for path in real_logs():
        msgs = _messages(path)
        if not msgs:
            continue
        ids.append(mgr.start_session(path.parent.name, {"source": path.name}).session_id)
        for msg in msgs:
            mgr.record_message(msg)
            for command in _bash_commands(msg["content"]):
                mgr.record_command(command)
                mgr.record_execution(command, output=f"ran {command}\nok", exit_code=0)
        mgr.end_session()
    return ids


def _bash_commands(content: Any) -> list[str]:
    if not isinstance(content, list):
        return []
    out = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_use":
            tool_input = block.get("input")
            if isinstance(tool_input, dict) and isinstance(tool_input.get("command"), str):
                out.append(tool_input["command"])
    return out


def words(home: Home) -> list[str]:
    """Distinct words (3+ letters) of the recorded logs, in first-seen order."""
    seen: dict[str, None] = {}
    for path in sorted(home.sessions_dir.iterdir()):
        for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", path.read_text("utf-8")):
            seen.setdefault(w, None)
    return list(seen)
