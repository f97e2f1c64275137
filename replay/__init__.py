"""p8j.replay: read journals to answer questions (load, time travel, listing, follow, views)."""

from p8j.journal.errors import (
    CorruptLineError,
    InvalidSessionIdError,
    JournalIOError,
    P8jError,
    SessionNotFoundError,
)

from .load import LoadReport, load_session, load_session_with_report

__all__ = [
    "CorruptLineError",
    "InvalidSessionIdError",
    "JournalIOError",
    "LoadReport",
    "P8jError",
    "SessionNotFoundError",
    "load_session",
    "load_session_with_report",
]
