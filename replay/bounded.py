"""The one bounded reader: a log's verified events between a lower and an upper bound.

Contract: `read_bounded` drives a store's cursor (every line verified, problems
reported in the cursor as its mode says) and yields its events in seq order,
stopping at the first event past an upper bound: ``seq > upto_seq``, or
a time after ``until`` (the ``SessionStarted`` at seq 0 is always kept, so a
bound before the start still folds to the started session). Events with a
time before ``since`` are skipped, not stopped at. The time compared is the
effective one (an imported event's source time, journal/fidelity.py); an
imported record without one (timeless) never stops a read, and is compared
with ``since`` by its ``ts`` (`display_time`), as search's index does.
``until`` and ``since`` may be aware datetimes or RFC 3339 strings; both are
normalised by `ts_bound` to p8j's fixed-width form first, since only then
does string order equal time order (``...07:00:00Z`` sorts after
``...07:00:00.5Z``). load, export and search all read through here, so
every bound means the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from p8j.journal import AnyEvent, UnknownEvent
from p8j.journal.fidelity import event_time
from p8j.journal.timefmt import format_ts, parse_ts

__all__ = ["EventReader", "read_bounded", "ts_bound"]


class EventReader(Protocol):
    """What the bounded reader drives: a verifying reader's `read` (a `StoreCursor`'s)."""

    def read(self, *, final: bool = True) -> Iterator[AnyEvent | UnknownEvent]:
        """Verified events from where the reader stands."""
        ...


def ts_bound(value: datetime | str | None) -> str | None:
    """`value` as p8j's fixed-width timestamp string (None stays None)."""
    if value is None:
        return None
    return format_ts(value if isinstance(value, datetime) else parse_ts(value))


def read_bounded(
    cursor: EventReader,
    *,
    upto_seq: int | None = None,
    until: datetime | str | None = None,
    since: datetime | str | None = None,
) -> Iterator[AnyEvent | UnknownEvent]:
    """The cursor's events up to `upto_seq` / `until`, without those before `since`."""
    upper = ts_bound(until)
    lower = ts_bound(since)
    for event in cursor.read(final=True):
        if upto_seq is not None and event.seq > upto_seq:
            return
        if upper is None and lower is None:
            yield event
            continue
        ts = event_time(event)
        if upper is not None and ts is not None and ts > upper and event.seq > 0:
            return
        if lower is not None and (ts if ts is not None else event.ts) < lower:
            continue
        yield event
