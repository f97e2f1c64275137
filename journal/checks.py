"""Argument checks for the public API: refuse a bad value before anything is written.

Contract:
- Every public call that writes (`SessionManager`'s constructor, ``start_session``,
  ``record_*``, ``update_metadata``, ``pause_session``, ``end_session``,
  ``resume_session``) and every read with bounds (p8j.replay's ``load_session``
  and export) checks its arguments with these functions first: before it takes
  a lock, builds an event or touches a file.
- A wrong type raises `InvalidTypeError` (also a `TypeError`); a value of the
  right type that is still refused (NaN, a negative count, a time that does not
  parse) raises `InvalidEventError` (also a `ValueError`). `InvalidTypeError`
  is an `InvalidEventError`, so one ``except InvalidEventError`` catches both.
- Why: msgspec encodes a field as whatever the caller passed (``exit_code="1"``
  is written as a string) but decodes by the field's type, so a line built from
  a wrong type is written and then cannot be read back, breaking the session.
  Only values that decode into their fields again reach an event.
- Conversions: a duration is any finite real number (int, float, Fraction,
  Decimal; not a bool or a string) and is stored as a float; a time is an aware
  `datetime` or an RFC 3339 string with an offset and is stored in p8j's
  fixed-width UTC form (see timefmt), so times compare as strings.
"""

from __future__ import annotations

import decimal
import math
import numbers
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .codec import check_nesting
from .errors import InvalidEventError, InvalidTypeError
from .timefmt import format_ts, parse_ts

__all__ = [
    "boolean",
    "choice",
    "execution_args",
    "integer",
    "keys",
    "mapping",
    "opt_integer",
    "opt_string",
    "real",
    "start_args",
    "string",
    "timestamp",
    "wrong_type",
]


def wrong_type(what: str, expected: str, value: object) -> InvalidTypeError:
    return InvalidTypeError(f"{what} must be {expected}, not {type(value).__name__}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def string(value: object, what: str) -> str:
    """`value` if it is a string, else InvalidTypeError."""
    if not isinstance(value, str):
        raise wrong_type(what, "a string", value)
    return value


def opt_string(value: object, what: str) -> str | None:
    """`value` if it is a string or None, else InvalidTypeError."""
    if value is not None and not isinstance(value, str):
        raise wrong_type(what, "a string or None", value)
    return value


def boolean(value: object, what: str) -> bool:
    """`value` if it is a bool, else InvalidTypeError."""
    if not isinstance(value, bool):
        raise wrong_type(what, "True or False", value)
    return value


def integer(value: object, what: str, *, minimum: int | None = None) -> int:
    """`value` as a plain int if it is an int (not a bool) of at least `minimum`."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise wrong_type(what, "an int", value)
    if minimum is not None and value < minimum:
        raise InvalidEventError(f"{what} must be >= {minimum}, not {value}")
    return int(value)  # an IntEnum becomes the int it encodes as


def opt_integer(value: object, what: str, *, minimum: int | None = None) -> int | None:
    """`integer`, letting None through."""
    return None if value is None else integer(value, what, minimum=minimum)


def real(value: object, what: str, *, positive: bool = False) -> float:
    """A finite real number (int, float, Fraction, Decimal; not a bool) as a float."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, decimal.Decimal)):
        raise wrong_type(what, "a number", value)
    try:
        number = float(value)
    except (ValueError, OverflowError) as exc:  # a signalling NaN, a huge Fraction or int
        raise InvalidEventError(f"{what} must be a finite number, not {_shown(value)}") from exc
    if not math.isfinite(number):
        raise InvalidEventError(f"{what} must be a finite number, not {_shown(value)}")
    if positive and number <= 0:
        raise InvalidEventError(f"{what} must be > 0, not {_shown(value)}")
    return number


def timestamp(value: object, what: str) -> str:
    """An aware datetime or an RFC 3339 string (with an offset) as p8j's UTC ts string."""
    if not isinstance(value, (datetime, str)):
        raise wrong_type(what, "a datetime or an RFC 3339 string", value)
    try:
        return format_ts(value if isinstance(value, datetime) else parse_ts(value))
    except (ValueError, OverflowError) as exc:
        raise InvalidEventError(
            f"{what} must be an aware datetime or an RFC 3339 time with a UTC offset "
            f"(2026-11-24T07:06:00Z), not {_shown(value)}: {exc}"
        ) from exc


def choice(value: object, what: str, choices: tuple[str, ...]) -> str:
    """`value` if it is one of the strings `choices`."""
    if not isinstance(value, str):
        raise wrong_type(what, "a string", value)
    if value not in choices:
        raise InvalidEventError(f"{what} must be one of {', '.join(choices)}, not {_shown(value)}")
    return value


def keys(value: Mapping[Any, Any], what: str) -> None:
    """Raise InvalidTypeError unless every key of `value` is a string."""
    for key in value:
        if not isinstance(key, str):
            raise InvalidTypeError(
                f"{what} must have string keys, not {type(key).__name__} ({_shown(key)})"
            )


def mapping(value: object, what: str) -> dict[str, Any]:
    """A new dict of the mapping `value` (None gives {}), whose keys must be strings."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):  # a string or a list of pairs is not metadata
        raise wrong_type(what, "a mapping with string keys", value)
    out = dict(value)
    keys(out, what)
    return out


def start_args(project_name: object, metadata: object, cwd: object) -> dict[str, Any]:
    """Check `start_session`'s arguments; return the metadata as a new dict."""
    string(project_name, "project_name")
    meta = mapping(metadata, "session metadata")
    check_nesting(meta, "session metadata")
    opt_string(cwd, "cwd")
    return meta


def execution_args(
    command: object, exit_code: object, output: object, duration_s: object, started_at: object
) -> tuple[int | None, float | None, str | None]:
    """Check `record_execution`'s arguments; return exit_code, duration_s and started_at."""
    string(command, "command")
    string(output, "output")
    return (
        opt_integer(exit_code, "exit_code"),
        None if duration_s is None else real(duration_s, "duration_s"),
        None if started_at is None else timestamp(started_at, "started_at"),
    )
