"""Export a session: Markdown for people, the JSON snapshot, or its raw verified events.

Contract:
- `read_session_events` reads one log through the verifying reader (skipping and
  reporting bad lines unless ``strict``), optionally only up to a seq or a time,
  and returns the events with the `LoadReport` (issues, torn tail). A log
  without a complete first `SessionStarted` raises `missing_start_error`'s
  `CorruptLineError` (file, line 1), as loading does.
- `markdown` renders the events in log order as a transcript: a header with the
  folded session's facts (its state as `p8j ls` shows it when given the home:
  ``live`` or ``crashed`` rather than ``active``), every message (content blocks
  shown: text, thinking, tool calls with their JSON input, tool results), commands, executions with
  their output, compactions, and lifecycle changes, each at its effective time
  (an imported event's source time). Injected messages and compaction summaries
  are labelled; imported records that are not conversation (`RecordImported`)
  and usage reports appear only with ``all_records``. Text from the log is passed through
  `content.visible` (no control characters, bidi overrides or bare CRs reach
  the document) and fenced with a fence longer than any backtick run inside it.
- `snapshot_json` is the `Session.to_dict()` snapshot as pretty JSON.
- `raw_lines` yields the exact verified lines (newline included) for jsonl
  export, with the cursor so the caller can report what was skipped. They are
  the log as stored: a payload kept in a blob appears as its reference.
- Both read through a store's cursor: `store` when given, else the file store
  at `home` (see load.py's `reader_store`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import msgspec

from p8j.journal import (
    AnyEvent,
    CommandRecorded,
    ExecutionRecorded,
    Home,
    MessageRecorded,
    MetadataUpdated,
    RecordImported,
    Session,
    SessionCompacted,
    SessionEnded,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    SessionTitled,
    UnknownEvent,
    UsageRecorded,
    checks,
)
from p8j.journal.fidelity import display_time
from p8j.journal.housekeeping import resolve_in
from p8j.journal.session import fold
from p8j.journal.store.base import SessionStore, StoreCursor, missing_start_error
from p8j.journal.timefmt import format_ts

from .bounded import read_bounded
from .content import content_parts, visible
from .lines import read_with_lines
from .listing import session_state
from .load import LoadReport, check_bounds, load_report, open_reader, reader_store

__all__ = ["markdown", "raw_lines", "read_session_events", "snapshot_json"]

_ENC = msgspec.json.Encoder()
_BACKTICKS = re.compile(r"`{3,}")


def read_session_events(
    home: Home | None,
    ref: str,
    *,
    upto_seq: int | None = None,
    until: datetime | str | None = None,
    strict: bool = False,
    store: SessionStore | str | os.PathLike[str] | None = None,
) -> tuple[list[AnyEvent | UnknownEvent], LoadReport]:
    """The verified events of a session (id, prefix or ``latest``) and what reading met."""
    upto_seq, bound = check_bounds(upto_seq, until)
    checks.boolean(strict, "strict")
    st = reader_store(home, store)
    sid = resolve_in(st, ref, archived=True)
    cursor = open_reader(st, sid, skip_corrupt=not strict)
    events = list(read_bounded(cursor, upto_seq=upto_seq, until=bound))
    if (events or bound is None) and not (events and isinstance(events[0], SessionStarted)):
        # A log whose first record never completed: say so with its file and line, as
        # replay does, rather than let the fold find nothing to start from.
        raise missing_start_error(cursor)
    return events, load_report(sid, cursor, len(events))


def raw_lines(
    home: Home | None,
    session_id: str,
    *,
    strict: bool = False,
    store: SessionStore | str | os.PathLike[str] | None = None,
) -> tuple[Iterator[bytes], StoreCursor]:
    """The exact verified lines of a session's log, and the cursor reading them."""
    cursor = open_reader(reader_store(home, store), session_id, skip_corrupt=not strict)

    def lines() -> Iterator[bytes]:
        for _, line in read_with_lines(cursor, final=True):
            yield line

    return lines(), cursor


def snapshot_json(session: Session) -> bytes:
    """The session snapshot as indented JSON, newline-terminated."""
    return msgspec.json.format(_ENC.encode(session.to_dict()), indent=2) + b"\n"


# -- Markdown ------------------------------------------------------------------


def _fence(text: str, lang: str = "") -> str:
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=2)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") else text + "\n"
    return f"{fence}{lang}\n{body}{fence}\n"


def _inline(text: str) -> str:
    """Text for one line of Markdown: visible, single-line, backticks made harmless."""
    return visible(text, multiline=False).replace("`", "'")


def _pretty_json(value: Any) -> str:
    try:
        return msgspec.json.format(_ENC.encode(value), indent=2).decode("utf-8")
    except (TypeError, ValueError, UnicodeError):
        return repr(value)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _header(session: Session, state: str) -> Iterator[str]:
    title = _inline(session.project_name) or "(no project)"
    yield f"# {title} · session {session.session_id}\n\n"
    rows: list[tuple[str, str]] = [("Title", _inline(session.title))] if session.title else []
    rows += [("State", state), ("Started", format_ts(session.start_time))]
    if session.forked_from is not None:
        rows.append(("Forked from", f"{session.forked_from} at event {session.forked_at_seq}"))
    if session.end_time is not None:
        rows.append(("Ended", format_ts(session.end_time)))
        seconds = (session.end_time - session.start_time).total_seconds()
        rows.append(("Duration", _duration(seconds)))
    elif session.last_event_time is not None:
        rows.append(("Last event", format_ts(session.last_event_time)))
    rows.append(
        (
            "Messages · commands · executions",
            f"{session.message_count} · {session.command_count} · {session.execution_count}",
        )
    )
    if session.host:
        rows.append(("Host", _inline(session.host)))
    if session.cwd:
        rows.append(("Directory", f"`{_inline(session.cwd)}`"))
    if session.metadata:
        rows.append(("Metadata", f"`{_inline(_ENC.encode(session.metadata).decode())}`"))
    yield "| | |\n|---|---|\n"
    for key, value in rows:
        yield f"| {key} | {value.replace('|', '&#124;')} |\n"
    yield "\n## Transcript\n\n"


def _time(ts: str) -> str:
    return ts[11:19] if len(ts) >= 19 else ts


def _message(event: MessageRecorded) -> Iterator[str]:
    label = _inline(event.role)
    if event.injected:
        label += " (injected)"
    if event.compaction_summary:
        label += " (compaction summary)"
    yield f"### {event.seq} · {label} · {_time(display_time(event))}\n\n"
    for part in content_parts(event.content):
        if part.kind == "text":
            text = visible(part.text)
            yield (text if text.endswith("\n") else text + "\n") + "\n"
        elif part.kind == "thinking":
            quoted = "\n".join("> " + ln for ln in visible(part.text).split("\n"))
            yield f"> *thinking*\n>\n{quoted}\n\n"
        elif part.kind == "tool_use":
            ident = f" (`{_inline(part.id)}`)" if part.id else ""
            yield f"**Tool call: {_inline(part.name or '?')}**{ident}\n\n"
            yield _fence(visible(_pretty_json(part.input)), "json") + "\n"
        elif part.kind == "tool_result":
            ident = f" (`{_inline(part.id)}`)" if part.id else ""
            error = " — error" if part.is_error else ""
            yield f"**Tool result**{ident}{error}\n\n"
            yield _fence(visible(part.text), "text") + "\n"
        else:
            yield f"*{_inline(part.text)}*\n\n"


def _imported(event: AnyEvent | UnknownEvent, when: str, all_records: bool) -> Iterator[str]:
    """The event types imported sessions add (records and usage only with `all_records`)."""
    if isinstance(event, SessionCompacted):
        facts = [_inline(event.trigger)] if event.trigger else []
        if event.tokens_before is not None:
            facts.append(f"{event.tokens_before:,} tokens before")
        said = f" ({', '.join(facts)})" if facts else ""
        yield f"*{when} · context compacted{said}*\n\n"
        if event.summary:
            yield _fence(visible(event.summary), "text") + "\n"
    elif isinstance(event, RecordImported) and all_records:
        yield f"*{when} · imported record `{_inline(event.kind)}`*\n\n"
        yield _fence(visible(_pretty_json(event.record)), "json") + "\n"
    elif isinstance(event, UsageRecorded) and all_records:
        yield f"*{when} · usage: `{_inline(_ENC.encode(event.usage).decode())}`*\n\n"


def _event(event: AnyEvent | UnknownEvent, all_records: bool = False) -> Iterator[str]:
    t = type(event)
    when = _time(display_time(event))
    if t is MessageRecorded:
        assert isinstance(event, MessageRecorded)
        yield from _message(event)
    elif t is CommandRecorded:
        assert isinstance(event, CommandRecorded)
        ident = f" · `{_inline(event.call_id)}`" if event.call_id else ""
        yield f"### {event.seq} · command{ident} · {when}\n\n"
        yield _fence(visible(event.command), "sh") + "\n"
        if event.input is not msgspec.UNSET:
            yield _fence(visible(_pretty_json(event.input)), "json") + "\n"
    elif t is ExecutionRecorded:
        assert isinstance(event, ExecutionRecorded)
        facts = [f"exit {event.exit_code}" if event.exit_code is not None else "exit ?"]
        if event.status:
            facts.insert(0, _inline(event.status))
        if event.duration_s is not None:
            facts.append(_duration(event.duration_s))
        if event.call_id:
            facts.append(f"`{_inline(event.call_id)}`")
        yield f"### {event.seq} · execution · {' · '.join(facts)} · {when}\n\n"
        body = "$ " + event.command + ("\n" + event.output if event.output else "")
        if event.stderr:
            body += "\nstderr: " + event.stderr
        yield _fence(visible(body), "console") + "\n"
    elif t in (SessionCompacted, RecordImported, UsageRecorded):
        yield from _imported(event, when, all_records)
    elif t is SessionStarted:
        assert isinstance(event, SessionStarted)
        yield f"*{when} · session started*\n\n"
    elif t is MetadataUpdated:
        assert isinstance(event, MetadataUpdated)
        changes = _inline(_ENC.encode(event.changes).decode())
        yield f"*{when} · metadata updated: `{changes}`*\n\n"
    elif t in (SessionPaused, SessionResumed, SessionEnded):
        assert isinstance(event, (SessionPaused, SessionResumed, SessionEnded))
        verb = {SessionPaused: "paused", SessionResumed: "resumed", SessionEnded: "ended"}[t]
        extra = ""
        if isinstance(event, SessionResumed) and event.recovered:
            extra = f" after a crash ({event.repaired_bytes} torn bytes moved aside)"
        reason = f": {_inline(event.reason)}" if event.reason else ""
        yield f"*{when} · session {verb}{extra}{reason}*\n\n"
    elif t is SessionTitled:
        assert isinstance(event, SessionTitled)
        yield f"*{when} · titled: {_inline(event.title)}*\n\n"
    elif t is UnknownEvent:
        assert isinstance(event, UnknownEvent)
        yield f"*{when} · event of unknown type `{_inline(event.type)}` (kept raw)*\n\n"


def markdown(
    events: list[AnyEvent | UnknownEvent], home: Home | None = None, *, all_records: bool = False
) -> Iterator[str]:
    """The Markdown transcript of a session's events, in chunks (`home`: show its live state)."""
    session = fold(events)
    state: str = session.status
    if home is not None:
        state = session_state(home, session.session_id, session.status)[0]
        if state == "crashed" and session.source is not None:
            state = "imported"  # as listing says (listing.py)
    yield from _header(session, state)
    for event in events:
        yield from _event(event, all_records)
