"""The eventsourcing peer's aggregate (its own module: eventsourcing registers classes by topic)."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate, event


class Conversation(Aggregate):
    """A conversation whose messages are events."""

    def __init__(self, project_name: str) -> None:
        self.project_name = project_name
        self.history: list[dict[str, Any]] = []

    @event("MessageRecorded")
    def record_message(self, role: str, content: str) -> None:
        """Append one message."""
        self.history.append({"role": role, "content": content})
