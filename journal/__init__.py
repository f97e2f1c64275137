"""p8j.journal: events, the append-only log, the Session fold and SessionManager.

This layer knows nothing of p8j.replay or p8j.cli.

Names load on first use (PEP 562): importing ``p8j.journal.errors`` or a single
name does not import the manager, the catalog or redaction, which keeps the
`p8j` command's start-up light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cache.catalog import SessionSummary, list_summaries, summarize
    from .codec import decode_line, encode_event
    from .errors import (
        BlobMissingError,
        CorruptLineError,
        InvalidEventError,
        InvalidSessionIdError,
        InvalidTypeError,
        JournalIOError,
        P8jError,
        RecordTooLargeError,
        RedactConfigError,
        SessionLockedError,
        SessionNotFoundError,
        SessionStateError,
        UnsafePathError,
    )
    from .events import (
        SCHEMA_VERSION,
        AnyEvent,
        BlobRef,
        CommandRecorded,
        Event,
        ExecutionRecorded,
        LinesRemoved,
        MessageRecorded,
        MetadataUpdated,
        RemovedLines,
        SessionEnded,
        SessionPaused,
        SessionResumed,
        SessionStarted,
        SessionTitled,
        UnknownEvent,
    )
    from .housekeeping import resolve_session_ref
    from .ids import new_session_id, validate_session_id
    from .manager import SessionManager
    from .secrets.engine import Redactor
    from .session import Session, apply, fold
    from .store.fs.cursor import LogCursor, ReadIssue, read_events
    from .store.fs.layout import Home, resolve_home
    from .store.fs.lock import LockHolder, lock_holder
    from .store.fs.writer import Durability, LogWriter

_LAZY: dict[str, str] = {
    "Redactor": "secrets.engine",
    "RedactConfigError": "errors",
    "BlobMissingError": "errors",
    "BlobRef": "events",
    "AnyEvent": "events",
    "CommandRecorded": "events",
    "CorruptLineError": "errors",
    "Durability": "store.fs.writer",
    "Event": "events",
    "ExecutionRecorded": "events",
    "Home": "store.fs.layout",
    "LinesRemoved": "events",
    "InvalidEventError": "errors",
    "InvalidSessionIdError": "errors",
    "InvalidTypeError": "errors",
    "JournalIOError": "errors",
    "LockHolder": "store.fs.lock",
    "LogCursor": "store.fs.cursor",
    "LogWriter": "store.fs.writer",
    "MessageRecorded": "events",
    "MetadataUpdated": "events",
    "P8jError": "errors",
    "ReadIssue": "store.fs.cursor",
    "RecordTooLargeError": "errors",
    "RemovedLines": "events",
    "SCHEMA_VERSION": "events",
    "Session": "session",
    "SessionEnded": "events",
    "SessionLockedError": "errors",
    "SessionManager": "manager",
    "SessionNotFoundError": "errors",
    "SessionPaused": "events",
    "SessionResumed": "events",
    "SessionStarted": "events",
    "SessionStateError": "errors",
    "SessionTitled": "events",
    "SessionSummary": "cache.catalog",
    "UnknownEvent": "events",
    "UnsafePathError": "errors",
    "apply": "session",
    "decode_line": "codec",
    "encode_event": "codec",
    "fold": "session",
    "list_summaries": "cache.catalog",
    "lock_holder": "store.fs.lock",
    "new_session_id": "ids",
    "read_events": "store.fs.cursor",
    "resolve_home": "store.fs.layout",
    "resolve_session_ref": "housekeeping",
    "summarize": "cache.catalog",
    "validate_session_id": "ids",
}

__all__ = [
    "SCHEMA_VERSION",
    "AnyEvent",
    "BlobMissingError",
    "BlobRef",
    "CommandRecorded",
    "CorruptLineError",
    "Durability",
    "Event",
    "ExecutionRecorded",
    "Home",
    "InvalidEventError",
    "InvalidSessionIdError",
    "InvalidTypeError",
    "JournalIOError",
    "LinesRemoved",
    "LockHolder",
    "LogCursor",
    "LogWriter",
    "MessageRecorded",
    "MetadataUpdated",
    "P8jError",
    "ReadIssue",
    "RecordTooLargeError",
    "RedactConfigError",
    "Redactor",
    "RemovedLines",
    "Session",
    "SessionEnded",
    "SessionLockedError",
    "SessionManager",
    "SessionNotFoundError",
    "SessionPaused",
    "SessionResumed",
    "SessionStarted",
    "SessionStateError",
    "SessionSummary",
    "SessionTitled",
    "UnknownEvent",
    "UnsafePathError",
    "apply",
    "decode_line",
    "encode_event",
    "fold",
    "list_summaries",
    "lock_holder",
    "new_session_id",
    "read_events",
    "resolve_home",
    "resolve_session_ref",
    "summarize",
    "validate_session_id",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("." + module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
