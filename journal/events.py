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

Imported sessions (another agent's log, see p8j.journal.importers): every
source record becomes exactly one event, in source order, whose ``origin``
(`Origin`) says where it came from and when it happened there. The event's own
fields hold the normalized view (a message's ``content`` is the source's value,
moved, not copied); ``origin.rest`` holds the rest of the source record and
``origin.moved`` says which event field came from which path in it, so the
source record is rebuilt exactly (`rebuild_record`) and nothing is stored twice.
A source record that is not conversation becomes `RecordImported`, verbatim.
An event's time at its source (``origin.ts``) is what listings, replay, time
travel, search and tail use when it is set; ``ts`` stays the append time.

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


class Usage(msgspec.Struct, frozen=True, omit_defaults=True):
    """Token usage of one model response (or one accounting record of an agent)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


class Origin(msgspec.Struct, frozen=True, omit_defaults=True):
    """Where an imported event came from: one record (one line) of another agent's log.

    `ts` is when it happened at the source (RFC 3339 UTC with microseconds, like
    the envelope's ``ts``), None when the record carries no time. `id` and
    `parent_id` thread records (Claude Code ``uuid``/``parentUuid``, or
    ``logicalParentUuid`` across a compaction). `line` (1-based) and `end` (the
    byte offset just after the record's newline in the decompressed source file)
    say how far the source was read: an import resumes at the last event's `end`.
    `rest` is the source record without the values `moved` into the event's own
    fields (event field name -> JSON path of the value in the record; ``[]``
    means the whole record). `cwd`, `git_branch` and `model` are set on the
    first record and wherever they change from the record before (per-turn
    context); None means unchanged (or unknown).
    """

    ts: str | None = None
    id: str | None = None
    parent_id: str | None = None
    line: int | None = None
    end: int | None = None
    rest: Any = msgspec.UNSET
    moved: dict[str, list[str | int]] = {}
    cwd: str | None = None
    git_branch: str | None = None
    model: str | None = None


class SourceInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """Which source session an imported session is: the agent, its own id, the file it came from.

    `agent` is the importer's name (``claude``, ``codex``, ``legacy``);
    `source_id` the agent's session id (or a sub-agent's own id); `path` the
    source file (absolute, as found on `host`); `format` the source's format
    version where it states one.
    """

    agent: str
    source_id: str
    path: str = ""
    host: str | None = None
    format: str | None = None
    # A sub-agent's: the source id of the session that spawned it (part of its identity,
    # kept even when that session was never imported).
    parent_source_id: str | None = None


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
    # An imported session: its source (and the first source record's time in `origin`).
    source: SourceInfo | None = None
    origin: Origin | None = None
    # A child session (a sub-agent, a fork at its source): the parent p8j session and
    # the tool call in it that spawned this one.
    parent_id: str | None = None
    parent_call_id: str | None = None


class MessageRecorded(Event, frozen=True):
    """A conversation message; `content` is a string, content blocks, or anything JSON.

    Imported messages also carry: `response_id` (one model response split over
    several records shares it; its usage counts once, the last record's wins),
    `model`, `usage`, `injected` (text the agent added, not a human: system
    reminders, slash-command wrappers, AGENTS.md, developer messages),
    `compaction_summary` (the summary that opens the context after a compaction)
    and `sidechain` (a sub-agent's record kept inline in its parent's source).
    """

    role: str
    content: Any = msgspec.UNSET
    extra: dict[str, Any] = {}
    redactions: list[str] = []
    blobs: list[BlobRef] = []
    origin: Origin | None = None
    response_id: str | None = None
    model: str | None = None
    usage: Usage | None = None
    injected: bool = False
    compaction_summary: bool = False
    sidechain: bool = False


class CommandRecorded(Event, frozen=True):
    """A shell command the agent (or user) issued."""

    command: str
    cwd: str | None = None
    redactions: list[str] = []
    blobs: list[BlobRef] = []
    # A tool call (imported, or an embedder's): its id, the tool, its arguments.
    call_id: str | None = None
    tool: str | None = None
    input: Any = msgspec.UNSET
    origin: Origin | None = None


class ExecutionRecorded(Event, frozen=True):
    """A command's execution and its result.

    `exit_code` None means unknown (an agent that records none). `call_id` pairs
    it with the `CommandRecorded` (or a message's tool-use block) of the same
    id; `status` is the source's word for the outcome (``ok``, ``error``,
    ``interrupted``...); `stderr` is kept apart from `output` where the source
    does. `output` stays a string; a structured result is in `result`.
    """

    command: str
    exit_code: int | None = None
    output: str = ""
    started_at: str | None = None
    duration_s: float | None = None
    redactions: list[str] = []
    blobs: list[BlobRef] = []
    call_id: str | None = None
    status: str | None = None
    stderr: str = ""
    result: Any = msgspec.UNSET
    origin: Origin | None = None


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
    """The session was given a title (``p8j title``); the latest one wins; legal in any state.

    Imported title records (Claude ``summary``/``custom-title``/``ai-title``, a
    Codex session name) carry `origin` and `source_kind` (the record's type).
    """

    title: str
    redactions: list[str] = []
    origin: Origin | None = None
    source_kind: str | None = None


class SessionCompacted(Event, frozen=True):
    """The agent compacted its context here: what came before was replaced by a summary.

    `trigger` (``auto``, ``manual``), `tokens_before` (the context's size then),
    `summary` (when the boundary record holds it; Claude writes it as the next
    message, flagged `MessageRecorded.compaction_summary`) and `replacement`
    (the history the model saw after it, where the source records one, e.g.
    Codex's ``replacement_history``).
    """

    trigger: str | None = None
    tokens_before: int | None = None
    summary: str | None = None
    replacement: Any = msgspec.UNSET
    redactions: list[str] = []
    blobs: list[BlobRef] = []
    origin: Origin | None = None


class UsageRecorded(Event, frozen=True):
    """Token usage reported apart from any message (e.g. Codex ``token_count``).

    Events with the same `response_id` count once (the last wins), so an agent
    that re-emits a report does not count twice.
    """

    usage: Usage
    model: str | None = None
    response_id: str | None = None
    origin: Origin | None = None


class RecordImported(Event, frozen=True):
    """A source record that is not conversation, kept verbatim (its ``origin.moved`` is ``record``).

    Progress, hooks, file-history snapshots, queued prompts, Codex ``event_msg``
    and ``turn_context``, state markers, record types no importer knows yet:
    `kind` is the record's type as the source names it. Hidden by default in
    replay and Markdown export, shown on request.
    """

    kind: str
    record: Any = msgspec.UNSET
    redactions: list[str] = []
    blobs: list[BlobRef] = []
    origin: Origin | None = None


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
    | SessionCompacted
    | UsageRecorded
    | RecordImported
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
    SessionCompacted,
    UsageRecorded,
    RecordImported,
)


class UnknownEvent(msgspec.Struct, frozen=True):
    """An event whose type this p8j does not know (written by a newer p8j); kept raw."""

    type: str
    session_id: str
    seq: int
    ts: str
    raw: dict[str, Any]
