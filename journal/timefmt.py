"""Timestamps: UTC, RFC 3339, always with six fractional digits and a `Z`.

Contract: `now_ts()` returns e.g. ``2026-11-24T07:06:00.000123Z``; the width is
fixed so timestamps sort as strings. `parse_ts()` accepts any RFC 3339 string
(offsets and fewer digits too) and returns an aware UTC datetime.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

_cache_sec = -1
_cache_prefix = ""


def now_ts() -> str:
    """The current UTC time as an RFC 3339 string with microseconds."""
    global _cache_sec, _cache_prefix
    ns = time.time_ns()
    sec, rem = divmod(ns, 1_000_000_000)
    if sec != _cache_sec:
        # strftime costs ~1 us; a second's prefix is reused by every event in it.
        _cache_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _cache_sec = sec
    return f"{_cache_prefix}.{rem // 1000:06d}Z"


def format_ts(value: datetime) -> str:
    """Format an aware datetime as p8j's RFC 3339 UTC string."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: p8j timestamps must be timezone-aware")
    utc = value.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{utc.microsecond:06d}Z"


def parse_ts(value: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a UTC offset: {value!r}")
    return parsed.astimezone(timezone.utc)
