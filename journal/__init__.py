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
    from .blobs import BlobMissingError
    from .catalog import SessionSummary, list_summaries, summarize
    from .codec import decode_line, encode_event
    from .errors import (
        CorruptLineError,
        InvalidEventError,
        InvalidSessionIdError,
        JournalIOError,
        P8jError,
        RecordTooLargeError,
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
        MessageRecorded,
        MetadataUpdated,
        SessionEnded,
        SessionPaused,
        SessionResumed,
        SessionStarted,
        UnknownEvent,
    )
    from .home import Home, resolve_home, resolve_session_ref
    from .ids import new_session_id, validate_session_id
    from .lock import LockHolder, lock_holder
    from .log import Durability, LogWriter
    from .manager import SessionManager
    from .reader import LogCursor, ReadIssue, read_events
    from .redact import RedactConfigError, Redactor
    from .session import Session, apply, fold

_LAZY: dict[str, str] = {
    "Redactor": "redact",
    "RedactConfigError": "redact",
    "BlobMissingError": "blobs",
    "BlobRef": "events",
    "AnyEvent": "events",
    "CommandRecorded": "events",
    "CorruptLineError": "errors",
    "Durability": "log",
    "Event": "events",
    "ExecutionRecorded": "events",
    "Home": "home",
    "InvalidEventError": "errors",
    "InvalidSessionIdError": "errors",
    "JournalIOError": "errors",
    "LockHolder": "lock",
    "LogCursor": "reader",
    "LogWriter": "log",
    "MessageRecorded": "events",
    "MetadataUpdated": "events",
    "P8jError": "errors",
    "ReadIssue": "reader",
    "RecordTooLargeError": "errors",
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
    "SessionSummary": "catalog",
    "UnknownEvent": "events",
    "UnsafePathError": "errors",
    "apply": "session",
    "decode_line": "codec",
    "encode_event": "codec",
    "fold": "session",
    "list_summaries": "catalog",
    "lock_holder": "lock",
    "new_session_id": "ids",
    "read_events": "reader",
    "resolve_home": "home",
    "resolve_session_ref": "home",
    "summarize": "catalog",
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
    "JournalIOError",
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
