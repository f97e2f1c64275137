"""Timestamps: UTC, RFC 3339, always with six fractional digits and a `Z`.

Contract: `now_ts()` returns e.g. ``2026-11-24T07:06:00.000123Z``; the width is
fixed so timestamps sort as strings. `parse_ts()` accepts any RFC 3339 string
(offsets and fewer digits too) and returns an aware UTC datetime; a time that
is not one, or falls outside years 1..9999 once in UTC, is a ValueError (never an
OverflowError). `format_ts()` pads the year to four digits, so early years sort too.
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
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError as exc:
        raise ValueError(f"{value!r} is outside years 1..9999 in UTC") from exc
    # Not strftime: its %Y does not pad years before 1000, which would break sorting.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond:06d}Z"
    )


def parse_ts(value: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a UTC offset: {value!r}")
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError as exc:  # 9999-12-31T23:59-01:00 is past year 9999 in UTC
        raise ValueError(f"timestamp outside years 1..9999 in UTC: {value!r}") from exc
