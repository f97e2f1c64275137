"""The writer's clock: now as p8j's ts string and the equal aware datetime, from one read.

Contract: `now()` returns (ts, datetime) for the same instant, microsecond
precision, UTC; the ts is what `timefmt.format_ts` gives for that datetime.
Thread-safe.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

__all__ = ["now"]

_UTC = timezone.utc
# (second, its RFC 3339 prefix, its y/m/d/h/m/s), replaced as one tuple so threads never
# see a torn update.
_clock: tuple[int, str, tuple[int, ...]] = (-1, "", ())


def now() -> tuple[str, datetime]:
    """Now as p8j's ts string (see timefmt) and the equal aware datetime, from one clock read."""
    global _clock
    sec, ns = divmod(time.time_ns(), 1_000_000_000)
    cached_sec, prefix, parts = _clock
    if sec != cached_sec:
        tm = time.gmtime(sec)
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", tm)
        parts = tuple(tm[:6])
        _clock = (sec, prefix, parts)
    us = ns // 1000
    y, mo, d, h, mi, s = parts
    return "%s.%06dZ" % (prefix, us), datetime(y, mo, d, h, mi, s, us, _UTC)  # noqa: UP031
