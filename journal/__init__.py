"""p8j.journal: what an embedder uses: SessionManager, Session, the events, the errors, the home.

This layer knows nothing of p8j.replay or p8j.cli. Lower-level tools live in
documented subpackages, each with its own sorted ``__all__``:
`p8j.journal.store` (the store seam, `open_store`, `FileStore`, `MemoryStore`,
the contract suite), `p8j.journal.store.fs` (the journal files: `LogCursor`,
`LogWriter`, `read_events`, locks, blobs), `p8j.journal.codec` (`encode_event`,
`decode_line`), `p8j.journal.session` (`fold`, `apply`), `p8j.journal.cache`
(`list_summaries`, `summarize`, snapshots), `p8j.journal.secrets` (`Redactor`,
scanning) and `p8j.journal.ids` (`new_session_id`, `validate_session_id`).

Stores: `SessionStore` (to annotate) and `MemoryStore` (for an embedder's own
tests) are here because `SessionManager(store=...)` takes them; everything
else about stores is in `p8j.journal.store`.

Names load on first use (PEP 562): importing ``p8j.journal.errors`` or a single
name does not import the manager, the catalog or redaction, which keeps the
`p8j` command's start-up light. `_EXPORTS` (module -> names) is the one list;
`__all__` and the lazy table derive from it, and the ``TYPE_CHECKING`` imports
(for type checkers) are checked against it by tests/test_public_api.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports

if TYPE_CHECKING:
    from .cache.catalog import SessionSummary as SessionSummary
    from .errors import BlobMissingError as BlobMissingError
    from .errors import CorruptLineError as CorruptLineError
    from .errors import InvalidEventError as InvalidEventError
    from .errors import InvalidSessionIdError as InvalidSessionIdError
    from .errors import InvalidTypeError as InvalidTypeError
    from .errors import JournalIOError as JournalIOError
    from .errors import P8jError as P8jError
    from .errors import PatternError as PatternError
    from .errors import RecordTooLargeError as RecordTooLargeError
    from .errors import RedactConfigError as RedactConfigError
    from .errors import SessionLockedError as SessionLockedError
    from .errors import SessionNotFoundError as SessionNotFoundError
    from .errors import SessionStateError as SessionStateError
    from .errors import StalePositionError as StalePositionError
    from .errors import StoreConfigError as StoreConfigError
    from .errors import UnsafePathError as UnsafePathError
    from .events import SCHEMA_VERSION as SCHEMA_VERSION
    from .events import AnyEvent as AnyEvent
    from .events import BlobRef as BlobRef
    from .events import CommandRecorded as CommandRecorded
    from .events import Event as Event
    from .events import ExecutionRecorded as ExecutionRecorded
    from .events import LinesRemoved as LinesRemoved
    from .events import MessageRecorded as MessageRecorded
    from .events import MetadataUpdated as MetadataUpdated
    from .events import Origin as Origin
    from .events import RecordImported as RecordImported
    from .events import RemovedLines as RemovedLines
    from .events import SessionCompacted as SessionCompacted
    from .events import SessionEnded as SessionEnded
    from .events import SessionPaused as SessionPaused
    from .events import SessionResumed as SessionResumed
    from .events import SessionStarted as SessionStarted
    from .events import SessionTitled as SessionTitled
    from .events import SourceInfo as SourceInfo
    from .events import UnknownEvent as UnknownEvent
    from .events import Usage as Usage
    from .events import UsageRecorded as UsageRecorded
    from .manager import SessionManager as SessionManager
    from .session import Session as Session
    from .store.base import SessionStore as SessionStore
    from .store.fs.layout import Home as Home
    from .store.fs.layout import resolve_home as resolve_home
    from .store.fs.writer import Durability as Durability
    from .store.memory import MemoryStore as MemoryStore

# Module (relative to this package) -> the names it gives the public face.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "cache.catalog": ("SessionSummary",),
    "errors": (
        "BlobMissingError",
        "CorruptLineError",
        "InvalidEventError",
        "InvalidSessionIdError",
        "InvalidTypeError",
        "JournalIOError",
        "P8jError",
        "PatternError",
        "RecordTooLargeError",
        "RedactConfigError",
        "SessionLockedError",
        "SessionNotFoundError",
        "SessionStateError",
        "StalePositionError",
        "StoreConfigError",
        "UnsafePathError",
    ),
    "events": (
        "SCHEMA_VERSION",
        "AnyEvent",
        "BlobRef",
        "CommandRecorded",
        "Event",
        "ExecutionRecorded",
        "LinesRemoved",
        "MessageRecorded",
        "MetadataUpdated",
        "Origin",
        "RecordImported",
        "RemovedLines",
        "SessionCompacted",
        "SessionEnded",
        "SessionPaused",
        "SessionResumed",
        "SessionStarted",
        "SessionTitled",
        "SourceInfo",
        "UnknownEvent",
        "Usage",
        "UsageRecorded",
    ),
    "manager": ("SessionManager",),
    "session": ("Session",),
    "store.base": ("SessionStore",),
    "store.fs.layout": ("Home", "resolve_home"),
    "store.fs.writer": ("Durability",),
    "store.memory": ("MemoryStore",),
}

_LAZY: dict[str, str] = {name: module for module, names in _EXPORTS.items() for name in names}

# Ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical.
__all__ = sorted(_LAZY, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
