"""Journal event types: frozen, tagged msgspec Structs named in the past tense.

On disk every event is one JSON object on one line. The tag field ``type`` holds
the class name. The envelope comes first on every event:

- ``v``: schema version of the writer (currently 1);
- ``session_id``: the session's UUIDv7;
- ``seq``: 0, 1, 2, ... within the session, no gaps (a `LinesRemoved` holds
  ``seqs`` of them: those of the damaged lines a repair removed);
- ``ts``: UTC, RFC 3339 with microseconds (``2026-11-24T07:06:00.000123Z``).

Events that carry text have ``redactions`` (ids of the redaction rules that
replaced a secret before the event was written; never the secret) and, where a
payload can be large, ``blobs`` (`BlobRef`: values stored outside the line).

Schema evolution rules (tested by tests/journal/test_schema.py against
tests/fixtures): new fields always get defaults; a field's type never changes;
a tag is never renamed or reused. A reader meets events it does not know as
`UnknownEvent` (kept raw, reported), never as an error.
"""

from __future__ import annotations

from typing import Any

import msgspec

SCHEMA_VERSION = 1


class Event(msgspec.Struct, frozen=True, tag_field="type", tag=True, omit_defaults=True):
    """Envelope shared by every event."""

    v: int
    session_id: str
    seq: int
    ts: str


class BlobRef(msgspec.Struct, frozen=True, omit_defaults=True):
    """Where a payload too large for one line lives: a content-addressed blob in the home.

    `path` locates the value inside the event (``["output"]``, ``["content", 0,
    "source", "data"]``); on disk that value is a short placeholder string.
    `encoding` says how the blob's bytes become the value again: ``utf-8`` (text),
    ``base64`` (`prefix` + the base64 of the bytes, e.g. an image or a data URL),
    or ``json`` (the JSON the bytes encode).
    """

    path: list[str | int]
    sha256: str
    size: int
    media_type: str = "text/plain; charset=utf-8"
    encoding: str = "utf-8"
    prefix: str = ""


class SessionStarted(Event, frozen=True):
    """A session was created."""

    project_name: str
    metadata: dict[str, Any] = {}
    cwd: str | None = None
    host: str | None = None
    pid: int | None = None
    p8j_version: str | None = None
    redactions: list[str] = []
    # A fork (`p8j fork`): the session it was copied from and the last seq it holds.
    forked_from: str | None = None
    forked_at_seq: int | None = None


class MessageRecorded(Event, frozen=True):
    """A conversation message; `content` is a string, content blocks, or anything JSON."""

    role: str
    content: Any = msgspec.UNSET
    extra: dict[str, Any] = {}
    redactions: list[str] = []
    blobs: list[BlobRef] = []


class CommandRecorded(Event, frozen=True):
    """A shell command the agent (or user) issued."""

    command: str
    cwd: str | None = None
    redactions: list[str] = []
    blobs: list[BlobRef] = []


class ExecutionRecorded(Event, frozen=True):
    """A command's execution and its result."""

    command: str
    exit_code: int | None = None
    output: str = ""
    started_at: str | None = None
    duration_s: float | None = None
    redactions: list[str] = []
    blobs: list[BlobRef] = []


class MetadataUpdated(Event, frozen=True):
    """Keys merged into the session's metadata."""

    changes: dict[str, Any]
    redactions: list[str] = []


class SessionPaused(Event, frozen=True):
    """The session was paused; it can be resumed."""

    reason: str | None = None
    redactions: list[str] = []


class SessionResumed(Event, frozen=True):
    """The session was resumed, possibly recovering from a writer that died."""

    reason: str | None = None
    recovered: bool = False
    repaired_bytes: int = 0
    pid: int | None = None
    host: str | None = None
    redactions: list[str] = []


class SessionTitled(Event, frozen=True):
    """The session was given a title (``p8j title``); the latest one wins; legal in any state."""

    title: str
    redactions: list[str] = []


class SessionEnded(Event, frozen=True):
    """The session was completed; nothing may follow (but `LinesRemoved`, written by a repair)."""

    reason: str | None = None
    redactions: list[str] = []


class RemovedLines(msgspec.Struct, frozen=True, omit_defaults=True):
    """A run of consecutive lines `p8j repair` moved out of a log, as they were before it.

    `line` (1-based) and `offset` locate the run's first line, `lines` counts its
    lines, `size` its bytes (newlines included), `sha256` hashes those bytes,
    which now live in ``<home>/torn/<sidecar>``; `problem` says why the first
    line was removed (``corrupt: checksum mismatch...``, ``torn-tail: ...``).
    """

    line: int
    offset: int
    lines: int
    size: int
    sha256: str
    sidecar: str
    problem: str = ""


class LinesRemoved(Event, frozen=True):
    """`p8j repair` removed damaged lines here; this event stands in for what they held.

    It holds `seqs` seqs (its own and the ``seqs - 1`` after it, which the
    removed lines held): the next event's seq is ``seq + seqs``. `state`, when
    set, is the lifecycle state after the removed lines (``active`` or
    ``paused``), inferred from the events after them; it never reopens a
    completed session. Written in place of the lines (``ts`` = the previous
    event's, so time stays in order) or appended at the end, and legal in any
    state after the start; `repaired_at` is when the repair ran.
    """

    seqs: int = 1
    state: str | None = None
    removed: list[RemovedLines] = []
    repaired_at: str | None = None


AnyEvent = (
    SessionStarted
    | MessageRecorded
    | CommandRecorded
    | ExecutionRecorded
    | MetadataUpdated
    | SessionPaused
    | SessionResumed
    | SessionEnded
    | LinesRemoved
    | SessionTitled
)

EVENT_TYPES: tuple[type[Event], ...] = (
    SessionStarted,
    MessageRecorded,
    CommandRecorded,
    ExecutionRecorded,
    MetadataUpdated,
    SessionPaused,
    SessionResumed,
    SessionEnded,
    LinesRemoved,
    SessionTitled,
)


class UnknownEvent(msgspec.Struct, frozen=True):
    """An event whose type this p8j does not know (written by a newer p8j); kept raw."""

    type: str
    session_id: str
    seq: int
    ts: str
    raw: dict[str, Any]
