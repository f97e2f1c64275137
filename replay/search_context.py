"""The events around search hits (``p8j search -C N``).

Contract: `hit_context` reads each session that has hits once, with the
verifying reader in skip-and-report mode, and returns per hit (by session id
and seq) the up to `n` events before it and after it in that session, in seq
order, each as a one-line `ContextEvent` (kind, role, and the event's text on
one line, cut to `TEXT_MAX` characters; exact text, escaping is the
renderer's job). A log that cannot be read gives no context, never an error.
Logs are read through the store seam (a `Home` means its file store).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

import msgspec

from p8j.journal import CommandRecorded, ExecutionRecorded, MessageRecorded, P8jError
from p8j.journal.fidelity import display_time
from p8j.journal.store.select import as_store

from .content import content_texts
from .listing import Where
from .search import SearchHit, open_reader

__all__ = ["TEXT_MAX", "ContextEvent", "hit_context"]

TEXT_MAX = 160


class ContextEvent(msgspec.Struct, frozen=True):
    """One event near a hit: where, what, and its text on one line."""

    seq: int
    ts: str
    kind: str
    role: str | None
    text: str


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TEXT_MAX else flat[: TEXT_MAX - 1] + "…"


def _describe(event: object) -> ContextEvent:
    seq: int = getattr(event, "seq", -1)
    ts = display_time(event)  # an imported event's source time
    if isinstance(event, MessageRecorded):
        text = " ".join(content_texts(event.content))
        return ContextEvent(seq, ts, "message", event.role, _one_line(text))
    if isinstance(event, CommandRecorded):
        return ContextEvent(seq, ts, "command", None, _one_line(event.command))
    if isinstance(event, ExecutionRecorded):
        status = f" (exit {event.exit_code})" if event.exit_code is not None else ""
        return ContextEvent(seq, ts, "execution", None, _one_line(event.command + status))
    kind = type(event).__name__.removesuffix("Recorded")
    return ContextEvent(seq, ts, kind.lower(), None, "")


def hit_context(
    home: Where, hits: Iterable[SearchHit], n: int
) -> dict[tuple[str, int], list[ContextEvent]]:
    """Per (session id, seq) of each hit, the up to `n` events before and after it."""
    wanted: dict[str, set[int]] = {}
    for hit in hits:
        wanted.setdefault(hit.session_id, set()).add(hit.seq)
    out: dict[tuple[str, int], list[ContextEvent]] = {}
    store = as_store(home)
    for sid, seqs in wanted.items():
        # Work and memory follow the log's events, never `n` (which may be huge).
        order = sorted(seqs)
        found: dict[int, ContextEvent] = {}
        last = order[-1] + n
        try:
            for event in open_reader(store, sid).read(final=True):
                i = bisect.bisect_left(order, event.seq - n)
                if i < len(order) and order[i] <= event.seq + n:
                    found[event.seq] = _describe(event)
                if event.seq >= last:
                    break
        except P8jError:
            pass
        for seq in seqs:
            out[(sid, seq)] = [
                ev for s, ev in sorted(found.items()) if s != seq and abs(s - seq) <= n
            ]
    return out
