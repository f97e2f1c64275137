"""p8j.replay: read journals to answer questions (load, time travel, listing, follow, views)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from p8j.journal.errors import (
    CorruptLineError,
    InvalidSessionIdError,
    JournalIOError,
    P8jError,
    SessionNotFoundError,
)

if TYPE_CHECKING:
    from .content import ContentPart, compact_input, content_parts, content_texts, visible
    from .export import markdown, raw_lines, read_session_events, snapshot_json
    from .follow import FollowedEvent, Follower, FollowNotice, parse_event_types
    from .info import JournalInfo, journal_info
    from .lines import read_with_lines
    from .listing import SessionListing, list_sessions, parse_since, session_state
    from .load import LoadReport, load_session, load_session_with_report
    from .search import SearchHit, SearchResult, search
    from .verify import VerifyIssue, VerifyReport, verify_session, verify_sessions

# Submodules load on first use (PEP 562), so `p8j ls` does not pay for tail or export.
_LAZY: dict[str, str] = {
    "ContentPart": "content",
    "compact_input": "content",
    "content_parts": "content",
    "content_texts": "content",
    "visible": "content",
    "markdown": "export",
    "raw_lines": "export",
    "read_session_events": "export",
    "snapshot_json": "export",
    "FollowNotice": "follow",
    "FollowedEvent": "follow",
    "Follower": "follow",
    "parse_event_types": "follow",
    "JournalInfo": "info",
    "journal_info": "info",
    "read_with_lines": "lines",
    "SessionListing": "listing",
    "list_sessions": "listing",
    "parse_since": "listing",
    "session_state": "listing",
    "LoadReport": "load",
    "load_session": "load",
    "load_session_with_report": "load",
    "SearchHit": "search",
    "SearchResult": "search",
    "search": "search",
    "VerifyIssue": "verify",
    "VerifyReport": "verify",
    "verify_session": "verify",
    "verify_sessions": "verify",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
