"""Real Claude Code and Codex logs: every message record survives record_message -> load_session."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p8j.journal import SCHEMA_VERSION, Home, MessageRecorded, RecordTooLargeError, SessionManager
from p8j.journal.codec import encode_event
from p8j.journal.store.fs.writer import DEFAULT_MAX_RECORD_BYTES
from p8j.replay import load_session

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"


def _logs() -> list[Path]:
    if not REALDATA.is_dir():
        return []
    found = []
    for dirpath, _, names in os.walk(REALDATA):  # os.walk: the corpus has .claude/.codex dirs
        found += [Path(dirpath) / n for n in names if n.endswith(".jsonl")]
    return sorted(found)


def messages_of(path: Path) -> Iterator[dict[str, Any]]:
    """Every message record in a Claude Code or Codex log, as a message dict.

    Claude Code: the record's ``message`` (role, content blocks, model, usage...) with the
    rest of the record (uuid, cwd, toolUseResult...) under ``record``. Codex: a
    ``response_item`` payload with a role, the envelope under ``record``; legacy rollouts:
    the bare item.
    """
    for raw in path.read_bytes().split(b"\n"):
        raw = raw.strip()  # the legacy Codex file has CRLF line ends
        if not raw:
            continue
        obj = json.loads(raw)
        if not isinstance(obj, dict):
            continue
        msg = obj.get("message")
        payload = obj.get("payload")
        if isinstance(msg, dict) and isinstance(msg.get("role"), str):
            rest = {k: v for k, v in obj.items() if k != "message"}
            yield {**msg, "record": rest}
        elif isinstance(payload, dict) and isinstance(payload.get("role"), str):
            rest = {k: v for k, v in obj.items() if k != "payload"}
            yield {**payload, "record": rest}
        elif isinstance(obj.get("role"), str):
            yield obj


LOGS = _logs()
needs_realdata = pytest.mark.skipif(not LOGS, reason=f"no real agent logs at {REALDATA}")


@needs_realdata
def test_every_real_message_round_trips(home: Home) -> None:
    # Redaction off: this is about the schema carrying real data unchanged.
    mgr = SessionManager(home, max_record_bytes=8 << 20, redact=False)
    expected: dict[str, list[dict[str, Any]]] = {}
    total = 0
    for path in LOGS:
        msgs = list(messages_of(path))
        if not msgs:
            continue
        sid = mgr.start_session(path.name, {"source": str(path.relative_to(REALDATA))}).session_id
        for msg in msgs:
            mgr.record_message(msg)
        expected[sid] = msgs
        total += len(msgs)
        assert mgr.current_session is not None
        assert mgr.current_session.conversation_history == msgs
    mgr.close()
    assert total > 3000  # the corpus has thousands; a parser regression would show here
    kinds = set()
    for sid, msgs in expected.items():
        session = load_session(sid, home)
        assert session.conversation_history == msgs, session.project_name
        for m in msgs:
            content = m.get("content")
            if isinstance(content, list):
                kinds |= {b.get("type") for b in content if isinstance(b, dict)}
    # The corpus exercises what the schema must carry.
    assert {"text", "tool_use", "tool_result", "thinking", "image"} <= kinds


def _line_size(sid: str, msg: dict[str, Any]) -> int:
    extra = {k: v for k, v in msg.items() if k not in ("role", "content")}
    event = MessageRecorded(
        SCHEMA_VERSION,
        sid,
        1,
        "2026-01-01T00:00:00.000000Z",
        role=msg["role"],
        content=msg["content"],
        extra=extra,
    )
    return len(encode_event(event))


@needs_realdata
def test_default_cap_refuses_oversized_real_messages_before_writing(home: Home) -> None:
    biggest = max((m for p in LOGS for m in messages_of(p)), key=lambda m: len(json.dumps(m)))
    assert len(json.dumps(biggest)) > 1_000_000  # the pasted-image message
    doubled = {**biggest, "content": [biggest["content"], biggest["content"]]}
    # Blobs off: the cap is about what one line may hold (blobs would move the image out).
    mgr = SessionManager(home, blob_threshold=None, redact=False)
    sid = mgr.start_session("cap").session_id
    path = home.log_path(sid)
    assert _line_size(sid, doubled) > DEFAULT_MAX_RECORD_BYTES
    refused = 0
    for msg in (biggest, doubled):
        before = path.read_bytes()
        seq = mgr.current_session.last_seq if mgr.current_session else -1
        if _line_size(sid, msg) > DEFAULT_MAX_RECORD_BYTES:
            with pytest.raises(RecordTooLargeError):
                mgr.record_message(msg)
            assert path.read_bytes() == before  # nothing was written
            refused += 1
        else:
            assert mgr.record_message(msg) == seq + 1
    assert refused >= 1
    last = mgr.record_message({"role": "user", "content": "small"})
    mgr.close()
    assert load_session(sid, home).last_seq == last + 1  # gap-free: then the pause
