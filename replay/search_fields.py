"""The searchable text of each event: what search matches and the index stores.

Contract: `event_fields` yields ``(kind, role, field, texts)`` for every
searchable field of an event; the full-text index (journal/cache/search_indexer.py)
and the plain scan both use it, so they agree. What replay shows is searched.
"""

from __future__ import annotations

from collections.abc import Iterator

from msgspec import UNSET

from p8j.journal import (
    CommandRecorded,
    ExecutionRecorded,
    MessageRecorded,
    RecordImported,
    SessionCompacted,
)

from .content import content_texts, string_leaves

__all__ = ["event_fields"]


def event_fields(event: object) -> Iterator[tuple[str, str | None, str, list[str]]]:
    """(kind, role, field, texts) of every searchable field of an event.

    What replay shows is searched: a tool call's tool and input, an
    execution's stderr and structured result, a compaction's summary and
    replacement history; an imported record's strings are kind ``record``,
    searched only when asked for (`search`'s `kinds`).
    """
    t = type(event)
    if t is MessageRecorded:
        assert isinstance(event, MessageRecorded)
        yield "message", event.role, "content", content_texts(event.content)
    elif t is CommandRecorded:
        assert isinstance(event, CommandRecorded)
        texts = [event.command]
        if event.tool:
            texts.append(event.tool)
        if event.input is not UNSET:
            texts.extend(string_leaves(event.input))
        yield "command", None, "command", texts
    elif t is ExecutionRecorded:
        assert isinstance(event, ExecutionRecorded)
        yield "execution", None, "command", [event.command]
        if event.output:
            yield "execution", None, "output", [event.output]
        if event.stderr:
            yield "execution", None, "stderr", [event.stderr]
        if event.result is not UNSET:
            yield "execution", None, "result", string_leaves(event.result)
    elif t is SessionCompacted:
        assert isinstance(event, SessionCompacted)
        texts = [event.summary] if event.summary else []
        if event.replacement is not UNSET:
            texts.extend(string_leaves(event.replacement))
        yield "compaction", None, "summary", texts
    elif t is RecordImported:
        assert isinstance(event, RecordImported)
        yield "record", event.kind, "record", string_leaves(event.record)
