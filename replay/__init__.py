"""p8j.replay: read journals to answer questions (load, time travel, listing, follow, views)."""

from p8j.journal.errors import (
    CorruptLineError,
    InvalidSessionIdError,
    JournalIOError,
    P8jError,
    SessionNotFoundError,
)

from .content import ContentPart, compact_input, content_parts, content_texts, visible
from .export import markdown, raw_lines, read_session_events, snapshot_json
from .follow import FollowedEvent, Follower, FollowNotice, parse_event_types
from .info import JournalInfo, journal_info
from .lines import read_with_lines
from .listing import SessionListing, list_sessions, parse_since, session_state
from .load import LoadReport, load_session, load_session_with_report
from .search import SearchHit, SearchResult, search
from .verify import VerifyIssue, VerifyReport, verify_session, verify_sessions

__all__ = [
    "ContentPart",
    "CorruptLineError",
    "FollowNotice",
    "FollowedEvent",
    "Follower",
    "InvalidSessionIdError",
    "JournalIOError",
    "JournalInfo",
    "LoadReport",
    "P8jError",
    "SearchHit",
    "SearchResult",
    "SessionListing",
    "SessionNotFoundError",
    "VerifyIssue",
    "VerifyReport",
    "compact_input",
    "content_parts",
    "content_texts",
    "journal_info",
    "list_sessions",
    "load_session",
    "load_session_with_report",
    "markdown",
    "parse_event_types",
    "parse_since",
    "raw_lines",
    "read_session_events",
    "read_with_lines",
    "search",
    "session_state",
    "snapshot_json",
    "verify_session",
    "verify_sessions",
    "visible",
]
