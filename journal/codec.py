"""Line codec: one event <-> one checksummed JSON line.

On-disk line format (contract)::

    {"type":"MessageRecorded","v":1,"session_id":"...","seq":3,"ts":"...",...,"crc":"1a2b3c4d"}\n

The line is the msgspec JSON encoding of the event with its closing ``}``
replaced by ``,"crc":"XXXXXXXX"}`` and a ``\n``. ``crc`` is the CRC-32 (zlib,
8 lowercase hex digits) of the encoding *without* the crc member, i.e. of
``line[:-19] + b"}"``. A flipped bit anywhere in the line is detected, and lines
stay plain JSON (jq sees ``crc`` as an ordinary string member). Readers ignore
``crc`` when decoding, so it never collides with an event field.

The encoder and decoders are built once at import. Lines are split on ``b"\n"``
only: JSON escapes every control character, so a raw newline byte only ever
ends a record.
"""

from __future__ import annotations

import itertools
import operator
import zlib
from typing import Any

import msgspec

from .errors import CorruptLineError, InvalidEventError
from .events import EVENT_TYPES, AnyEvent, Event, UnknownEvent

__all__ = [
    "CRC_SUFFIX_LEN",
    "DEFAULT_MAX_RECORD_BYTES",
    "MAX_NESTING",
    "check_nesting",
    "decode_block",
    "decode_line",
    "decode_written",
    "encode_event",
    "first_bad_checksum",
    "frame",
    "line_checksum_ok",
]

_ENCODER = msgspec.json.Encoder()
# Built on first decode (`_decoder`): its type tree of every event costs ~3 ms, which a
# command that reads no log (`p8j ls` of an up-to-date catalog) should not pay.
_DECODER: msgspec.json.Decoder[AnyEvent] | None = None
_RAW_DECODER = msgspec.json.Decoder(dict[str, Any])
_KNOWN_TAGS = frozenset(t.__name__ for t in EVENT_TYPES)
_CRC_KEY = b',"crc":"'
# ,"crc":"  (8) + 8 hex digits + "}  (2)
CRC_SUFFIX_LEN = 18
# The largest record a store's writer accepts unless told otherwise (RecordTooLargeError).
DEFAULT_MAX_RECORD_BYTES = 1 << 20
_SUFFIX = b',"crc":"%08x"}\n'
_CHECK_SUFFIX = b',"crc":"%08x"}'
_ENCODE = _ENCODER.encode
_crc32 = zlib.crc32
_BODY = operator.itemgetter(slice(None, -CRC_SUFFIX_LEN))
_SUFFIX_OF = operator.itemgetter(slice(-CRC_SUFFIX_LEN, None))
_CLOSES = itertools.repeat(b"}")


def _decoder() -> msgspec.json.Decoder[AnyEvent]:
    global _DECODER
    if _DECODER is None:
        _DECODER = msgspec.json.Decoder(AnyEvent)
    return _DECODER


def encode_event(event: Event) -> bytes:
    """Encode `event` as one checksummed line, newline included."""
    try:
        body = _ENCODE(event)
    except (TypeError, ValueError, UnicodeEncodeError, OverflowError, RecursionError) as exc:
        raise InvalidEventError(
            f"cannot encode {type(event).__name__} (seq {event.seq}): {exc}"
        ) from exc
    # One bytes concatenation beats growing a bytearray in place (hot path of every record).
    return body[:-1] + _SUFFIX % _crc32(body)


def frame(body: bytes) -> bytes:
    """One checksummed line (newline included) from the JSON encoding of a non-empty object.

    For raw events (an event type this p8j does not know, rewritten by
    ``p8j redact``); `encode_event` inlines the same framing on its hot path.
    """
    if len(body) < 3 or body[:1] != b"{" or body[-1:] != b"}":
        raise InvalidEventError("a journal line must be a non-empty JSON object")
    return body[:-1] + _SUFFIX % _crc32(body)


# Deeper values are refused at write time: decoding nests once per level, and a
# reader with a few dozen frames already on its stack hits CPython's recursion limit
# (1000) a little below 1000 levels; what p8j writes, p8j must be able to read back.
MAX_NESTING = 256
_CONTAINERS = (dict, list, tuple, set, frozenset)


def check_nesting(value: Any, what: str) -> None:
    """Raise InvalidEventError if `value` nests lists/dicts deeper than `MAX_NESTING` levels."""
    if not isinstance(value, _CONTAINERS):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:  # no recursion: the value may be deep enough to exhaust it
        v, depth = stack.pop()
        if depth > MAX_NESTING:
            raise InvalidEventError(
                f"{what} is nested deeper than {MAX_NESTING} levels: "
                "p8j refuses records it could not read back"
            )
        for item in v.values() if isinstance(v, dict) else v:
            if isinstance(item, _CONTAINERS):
                stack.append((item, depth + 1))


def first_bad_checksum(lines: list[bytes]) -> int:
    """Index of the first line (without newline) whose crc framing fails; len(lines) if none.

    The batch form of `line_checksum_ok`: comparing the whole 18-byte suffix with
    the one the line's body implies checks framing and checksum in one step.
    """
    if not lines:
        return 0
    # The common case (every line good) as C-level passes over the block: the
    # suffix every body implies, compared with the suffixes the lines carry.
    implied = map(_CHECK_SUFFIX.__mod__, map(_crc32, _CLOSES, map(_crc32, map(_BODY, lines))))
    if list(implied) == list(map(_SUFFIX_OF, lines)) and min(map(len, lines)) >= 20:
        return len(lines)
    crc32 = _crc32
    suffix = _CHECK_SUFFIX
    for i, ln in enumerate(lines):
        if ln[-18:] != suffix % crc32(b"}", crc32(ln[:-18])) or len(ln) < CRC_SUFFIX_LEN + 2:
            return i
    return len(lines)


def line_checksum_ok(line: bytes | memoryview) -> bool:
    """True if `line` (without its newline) carries a matching crc member."""
    n = len(line)
    if n < CRC_SUFFIX_LEN + 2 or line[n - CRC_SUFFIX_LEN : n - 10] != _CRC_KEY:
        return False
    if line[n - 2 : n] != b'"}':
        return False
    crc = zlib.crc32(b"}", zlib.crc32(memoryview(line)[: n - CRC_SUFFIX_LEN]))
    return line[n - 10 : n - 2] == b"%08x" % crc


# Hostile bytes can fail decoding in more ways than DecodeError: 100000 nested "["
# raise RecursionError, invalid UTF-8 inside a string UnicodeDecodeError.
_DECODE_ERRORS = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)


def _unknown(line: bytes) -> UnknownEvent | None:
    try:
        raw = _RAW_DECODER.decode(line)
    except _DECODE_ERRORS:
        return None
    kind, sid, seq, ts = raw.get("type"), raw.get("session_id"), raw.get("seq"), raw.get("ts")
    if (
        isinstance(kind, str)
        and kind not in _KNOWN_TAGS
        and isinstance(sid, str)
        and type(seq) is int
        and isinstance(ts, str)
    ):
        raw.pop("crc", None)
        return UnknownEvent(type=kind, session_id=sid, seq=seq, ts=ts, raw=raw)
    return None


def decode_line(
    line: bytes, *, path: str | None = None, lineno: int | None = None, offset: int | None = None
) -> AnyEvent | UnknownEvent:
    """Verify and decode one line (without its newline); raise CorruptLineError naming it."""
    if not line_checksum_ok(line):
        raise CorruptLineError(
            "checksum mismatch or missing crc", path=path, line=lineno, offset=offset, data=line
        )
    try:
        return (_DECODER or _decoder()).decode(line)
    except _DECODE_ERRORS as exc:
        unknown = _unknown(line)
        if unknown is not None:
            return unknown
        raise CorruptLineError(
            f"not a valid event: {exc}", path=path, line=lineno, offset=offset, data=line
        ) from exc


def decode_written(line: bytes) -> AnyEvent:
    """Decode a line `encode_event` just produced (no checks: it is known good).

    A writer folds this, not the event it built, so what it keeps in memory is
    exactly what a replay reads: plain JSON values, nothing shared with the caller.
    """
    return (_DECODER or _decoder()).decode(line)


def decode_block(block: bytes) -> list[AnyEvent]:
    """Batch-decode newline-terminated lines whose checksums were already verified.

    Raises msgspec.DecodeError (or RecursionError / UnicodeDecodeError on hostile
    bytes) on any bad line; callers fall back to `decode_line` per line to name it.
    """
    return (_DECODER or _decoder()).decode_lines(block)
