"""p8j.journal: events, the append-only log, the Session fold and SessionManager.

This layer knows nothing of p8j.replay or p8j.cli.
"""

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
from .session import Session, apply, fold

__all__ = [
    "SCHEMA_VERSION",
    "AnyEvent",
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
