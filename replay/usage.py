"""Token usage summed over sessions: per day, project or model (`p8j usage`).

Contract: `usage_report` reads the catalog's session summaries (fresh: a
listing re-reads only logs that changed, journal/cache/catalog.py), each of
which holds its session's usage per (UTC day, model) bucket, deduplicated by
response id (journal/fidelity.py). It sums the buckets of every session into
rows keyed by `by`: ``day`` (the UTC day the usage was reported), ``project``
(the session's project), ``model`` (``""``: unknown) or ``total`` (one row).
``since`` keeps the buckets of days on or after its UTC day, and sessions
active at or after it. Rows come sorted by key (days oldest first), each with
its token counters and the number of sessions that contributed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

import msgspec

from p8j.journal.cache.catalog import SessionSummary
from p8j.journal.events import Usage
from p8j.journal.timefmt import format_ts

__all__ = ["GROUPS", "UsageRow", "usage_report"]

GROUPS = ("day", "project", "model", "total")


class UsageRow(msgspec.Struct, kw_only=True):
    """Tokens of one group (a day, a project, a model, or all)."""

    key: str
    sessions: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def add(self, usage: Usage) -> None:
        """Add `usage` to this row's counters."""
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cache_read_tokens += usage.cache_read_tokens
        self.cache_write_tokens += usage.cache_write_tokens
        self.reasoning_tokens += usage.reasoning_tokens


def usage_report(
    summaries: Iterable[SessionSummary], *, by: str = "total", since: datetime | None = None
) -> list[UsageRow]:
    """Usage of `summaries` grouped `by` day, project, model or total (module docstring)."""
    if by not in GROUPS:
        raise ValueError(f"unknown grouping {by!r}: expected one of {', '.join(GROUPS)}")
    bound = None if since is None else format_ts(since.astimezone(timezone.utc))
    since_day = None if bound is None else bound[:10]
    rows: dict[str, UsageRow] = {}
    for summary in summaries:
        tally = summary.usage
        if tally is None:
            continue
        if bound is not None and (summary.last_activity or summary.start_time or "") < bound:
            continue
        parts = tally.by(0 if by == "day" else 1, since_day)
        if by in ("project", "total"):
            name = summary.project_name if by == "project" else "total"
            parts = _all(parts, name)
        for key, usage in parts.items():
            row = rows.get(key)
            if row is None:
                row = rows[key] = UsageRow(key=key)
            row.sessions += 1
            row.add(usage)
    return [rows[k] for k in sorted(rows)]


def _counts(u: Usage) -> tuple[int, int, int, int, int]:
    return (
        u.input_tokens,
        u.output_tokens,
        u.cache_read_tokens,
        u.cache_write_tokens,
        u.reasoning_tokens,
    )


def _all(parts: dict[str, Usage], name: str) -> dict[str, Usage]:
    """All of `parts` summed as one part called `name` (none if there are none)."""
    if not parts:
        return {}
    total = Usage()
    for usage in parts.values():
        total = Usage(*(a + b for a, b in zip(_counts(total), _counts(usage), strict=True)))
    return {name: total}
