"""Session ids: UUIDv7 strings, time-ordered and unique across processes and hosts.

Contract: a session id is a canonical lowercase UUID (36 chars, 8-4-4-4-12 hex).
p8j generates version 7 ids (48-bit Unix milliseconds, then a per-process
monotonic counter and random bits), so sorting ids sorts sessions by start time.
Any other string is rejected by `validate_session_id` before it is used to build a
path (`is_session_id` is the same test as a bool, for names found on disk);
prefixes accepted for look-up are checked by `validate_prefix`.
"""

from __future__ import annotations

import os
import re
import threading
import time

from .errors import InvalidSessionIdError

__all__ = ["is_session_id", "new_session_id", "validate_prefix", "validate_session_id"]

_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PREFIX_RE = re.compile(r"[0-9a-f][0-9a-f-]{0,35}")

_lock = threading.Lock()
_last_ms = -1
_counter = 0


def new_session_id() -> str:
    """Return a fresh UUIDv7 string; strictly increasing within this process."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter >= 1 << 12:  # 12-bit counter exhausted: borrow the next ms
                ms += 1
                _counter = int.from_bytes(os.urandom(2), "big") & 0x7FF
        else:
            _counter = int.from_bytes(os.urandom(2), "big") & 0x7FF  # leave room to count
        _last_ms = ms
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_session_id(value: str) -> bool:
    """True if `value` is a well-formed session id (e.g. the stem of a log's file name)."""
    return _ID_RE.fullmatch(value) is not None


def validate_session_id(value: object) -> str:
    """Return `value` if it is a well-formed session id, else raise InvalidSessionIdError."""
    if not isinstance(value, str) or not is_session_id(value):
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise InvalidSessionIdError(f"invalid session id {shown}: expected a lowercase UUID")
    return value


def validate_prefix(value: object) -> str:
    """Return `value` if it can be the start of a session id, else raise."""
    if not isinstance(value, str) or _PREFIX_RE.fullmatch(value) is None:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise InvalidSessionIdError(
            f"invalid session id or prefix {shown}: expected lowercase hex digits and dashes"
        )
    return value
