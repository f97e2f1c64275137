"""The design p8j replaces, written here as the baseline it is.

A dataclass `Session` kept in memory; `save_session` rewrites the whole session
as one JSON file after every message (no fsync, not crash-safe: a crash
mid-write leaves a truncated file). Its per-message cost grows with the session.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal


@dataclass
class Session:
    """The original session record."""

    session_id: str
    project_name: str
    start_time: datetime
    status: Literal["active", "paused", "completed"] = "active"
    end_time: datetime | None = None
    conversation_history: list[dict[str, Any]] = field(default_factory=list)
    command_history: list[str] = field(default_factory=list)
    execution_histories: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


class SessionManager:
    """Start sessions and record messages; every record rewrites the session file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.current_session: Session | None = None

    def start_session(self, project_name: str) -> Session:
        """Create a session and save it."""
        self.current_session = Session(str(uuid.uuid4()), project_name, datetime.now(timezone.utc))
        self.save_session()
        return self.current_session

    def record_message(self, message: dict[str, Any]) -> None:
        """Append a message and save the whole session."""
        assert self.current_session is not None
        self.current_session.conversation_history.append(message)
        self.save_session()

    def save_session(self) -> None:
        """Rewrite the session's JSON file from scratch."""
        session = self.current_session
        assert session is not None
        path = self.directory / f"{session.session_id}.json"
        with open(path, "w", encoding="utf-8") as f:
            json.dump(asdict(session), f, default=str)
