"""What an import did: `ImportReport` (also the ``p8j import --json`` summary).

Contract: `sessions` lists every p8j session the import touched or found,
each ``new``, ``updated`` or ``unchanged``; `records` counts the events
written (or, in a dry run, that would be) by event type, `kept_raw` the
source records kept verbatim (`RecordImported`) by their source type, so an
unknown or new record type shows up there with its count; `skipped` names
every source line that became no event, with the file, the 1-based line (0:
the file as a whole) and why. `ok` is False when anything was skipped.
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["ImportReport", "SessionReport", "Skipped"]


class Skipped(msgspec.Struct, frozen=True):
    """A source line (0: the whole file) that became no event, and why."""

    path: str
    line: int
    reason: str


class SessionReport(msgspec.Struct):
    """One p8j session an import found or wrote: its source and what happened to it."""

    session_id: str
    source_id: str
    path: str
    status: Literal["new", "updated", "unchanged"]
    records: int = 0
    parent_id: str | None = None


class ImportReport(msgspec.Struct):
    """The outcome of an import (see the module docstring)."""

    agent: str
    dry_run: bool = False
    files: int = 0
    bytes_read: int = 0
    sessions_new: int = 0
    sessions_updated: int = 0
    sessions_unchanged: int = 0
    events: int = 0
    records: dict[str, int] = {}
    kept_raw: dict[str, int] = {}
    skipped: list[Skipped] = []
    sessions: list[SessionReport] = []

    @property
    def ok(self) -> bool:
        """True when no source line was skipped."""
        return not self.skipped

    def count(self, event_type: str, kind: str | None) -> None:
        """Count one imported record of `event_type` (and its source `kind` when kept raw)."""
        self.events += 1
        self.records[event_type] = self.records.get(event_type, 0) + 1
        if kind is not None:
            self.kept_raw[kind] = self.kept_raw.get(kind, 0) + 1

    def finish(self) -> ImportReport:
        """Tally the sessions by status (call once all files are done)."""
        self.sessions_new = sum(s.status == "new" for s in self.sessions)
        self.sessions_updated = sum(s.status == "updated" for s in self.sessions)
        self.sessions_unchanged = sum(s.status == "unchanged" for s in self.sessions)
        return self
