"""What readers take from the fidelity fields of events: effective time, usage totals, context.

Contract (pure functions and small value types, no I/O; used by the fold, the
catalog's summaries and the read models, so they all agree):

- `event_time(event)`: when an event happened. ``origin.ts`` when the event was
  imported and its source record has a time, else the envelope's ``ts``. An
  imported event whose record has no time (``origin`` set, ``origin.ts`` None)
  is *timeless*: None, and aggregates (start, last activity, duration, time
  travel) skip it rather than take the import's own clock for the source's.
  A title a user or agent gives a session (`SessionTitled` without ``origin``)
  is timeless too: naming a session is not activity in it, so `p8j title` on a
  finished or imported session leaves its duration and last activity alone.
  `display_time(event)` is the time to show for one event (never None).
- `UsageTally`: token usage summed per (UTC day, model) bucket. Records of one
  model response share a ``response_id``: only the last one counts (Claude
  repeats a response's usage on each of its lines, Codex re-emits cumulative
  reports), so a repeated id first takes back what the earlier record added.
  The ids of the last `RECENT_RESPONSES` responses are remembered; a response
  whose records lie further apart than that would count twice (never seen in
  real logs: a response's records are at most a few tool calls apart). A
  record without a model counts for the model in effect (the session's last
  known one), a record without a time for the last known day.
- `context_of(event)`: the per-turn context an event sets (cwd, git branch,
  model), from ``origin`` and the message's or report's own ``model``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .events import Origin, SessionCompacted, SessionPaused, SessionResumed, SessionTitled, Usage

__all__ = [
    "CONTEXT_KEYS",
    "RECENT_RESPONSES",
    "UsageTally",
    "add_usage",
    "compaction_entry",
    "context_change",
    "context_of",
    "display_time",
    "event_time",
    "usage_dict",
]

RECENT_RESPONSES = 64
CONTEXT_KEYS = ("cwd", "git_branch", "model")
_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


def event_time(event: object) -> str | None:
    """The event's effective time: its source's time when imported, else its ``ts`` (see above).

    The pause and resume an import writes around each pass (reason `IMPORT_REASON`)
    are timeless: when p8j imported is not when the session happened.
    """
    origin = getattr(event, "origin", None)
    if isinstance(origin, Origin):
        return origin.ts
    if type(event) in _IMPORT_MARKS and getattr(event, "reason", None) == IMPORT_REASON:
        return None
    if type(event) is SessionTitled:
        return None
    ts: str = getattr(event, "ts")  # noqa: B009  # every event has one; UnknownEvent too
    return ts


# The reason an import gives its SessionPaused / SessionResumed (importers/engine.py).
IMPORT_REASON = "import"
_IMPORT_MARKS = (SessionPaused, SessionResumed)


def display_time(event: object) -> str:
    """The time to show for one event: its effective time, else (timeless) its ``ts``."""
    found = event_time(event)
    if found is not None:
        return found
    ts: str = getattr(event, "ts")  # noqa: B009
    return ts


def context_of(event: object) -> dict[str, str]:
    """The cwd / git branch / model an event says is in effect (empty: it says nothing)."""
    out: dict[str, str] = {}
    origin = getattr(event, "origin", None)
    if isinstance(origin, Origin):
        if origin.cwd is not None:
            out["cwd"] = origin.cwd
        if origin.git_branch is not None:
            out["git_branch"] = origin.git_branch
        if origin.model is not None:
            out["model"] = origin.model
    model = getattr(event, "model", None)
    if isinstance(model, str) and model:
        out["model"] = model
    return out


def context_change(
    current: dict[str, str], event: object, message_index: int
) -> dict[str, Any] | None:
    """The context change `event` makes to `current` (updated IN PLACE), or None.

    The entry holds ``seq``, ``ts`` (effective), ``message_index`` (the messages
    before the event) and each of cwd / git_branch / model that changed.
    """
    said = context_of(event)
    if not said:
        return None
    changed = {k: v for k, v in said.items() if current.get(k) != v}
    if not changed:
        return None
    current.update(changed)
    entry: dict[str, Any] = {
        "seq": getattr(event, "seq"),  # noqa: B009
        "ts": event_time(event),
        "message_index": message_index,
    }
    entry.update(changed)
    return entry


def compaction_entry(event: SessionCompacted, message_index: int) -> dict[str, Any]:
    """A compaction as `Session.compactions` holds it (the keys the event sets)."""
    entry: dict[str, Any] = {
        "seq": event.seq,
        "ts": event_time(event),
        "message_index": message_index,
    }
    for name in ("trigger", "tokens_before", "summary"):
        value = getattr(event, name)
        if value is not None:
            entry[name] = value
    if event.replacement is not msgspec.UNSET:
        entry["replacement"] = event.replacement
    return entry


def _sum(a: Usage, b: Usage, sign: int = 1) -> Usage:
    return Usage(
        a.input_tokens + sign * b.input_tokens,
        a.output_tokens + sign * b.output_tokens,
        a.cache_read_tokens + sign * b.cache_read_tokens,
        a.cache_write_tokens + sign * b.cache_write_tokens,
        a.reasoning_tokens + sign * b.reasoning_tokens,
    )


def usage_dict(usage: Usage) -> dict[str, int]:
    """Every counter of `usage`, zeros included (JSON output keeps one shape)."""
    return {name: getattr(usage, name) for name in _FIELDS}


class UsageTally(msgspec.Struct, kw_only=True, gc=False):
    """Token usage of a session, per ``"<UTC day> <model>"`` bucket (see the module docstring).

    `recent` maps the last responses' ids to the bucket and usage they added;
    `model` and `day` are the model and the UTC day in effect for records
    that name none.
    """

    buckets: dict[str, Usage] = {}
    recent: dict[str, tuple[str, Usage]] = {}
    model: str | None = None
    day: str | None = None

    def copy(self) -> UsageTally:
        """A copy that can change without touching this one (values are frozen)."""
        return UsageTally(
            buckets=dict(self.buckets), recent=dict(self.recent), model=self.model, day=self.day
        )

    def total(self) -> Usage:
        """The session's usage over every day and model."""
        out = Usage()
        for usage in self.buckets.values():
            out = _sum(out, usage)
        return out

    def by(self, part: int, since_day: str | None = None) -> dict[str, Usage]:
        """Usage per day (`part` 0) or model (`part` 1; ``""``: unknown), days >= `since_day`."""
        out: dict[str, Usage] = {}
        for key, usage in self.buckets.items():
            day, _, model = key.partition(" ")
            if since_day is not None and day < since_day:
                continue
            name = day if part == 0 else model
            found = out.get(name)
            out[name] = usage if found is None else _sum(found, usage)
        return out


def add_usage(
    tally: UsageTally, usage: Usage, *, response_id: str | None, model: str | None, ts: str | None
) -> None:
    """Count one usage record IN PLACE (the last record of a response replaces the earlier)."""
    if model:
        tally.model = model
    if ts is not None:
        tally.day = ts[:10]
    key = f"{tally.day or ''} {model or tally.model or ''}"
    buckets = tally.buckets
    if response_id is not None:
        before = tally.recent.pop(response_id, None)
        if before is not None:
            old_key, old = before
            left = _sum(buckets[old_key], old, -1)
            if left == Usage():
                del buckets[old_key]
            else:
                buckets[old_key] = left
        tally.recent[response_id] = (key, usage)
        if len(tally.recent) > RECENT_RESPONSES:
            del tally.recent[next(iter(tally.recent))]
    found = buckets.get(key)
    buckets[key] = usage if found is None else _sum(found, usage)
