"""The argument checks: which values pass, what they become, and which error the rest raise."""

from __future__ import annotations

import decimal
import enum
import math
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import pytest

from p8j.journal import InvalidEventError, InvalidTypeError, checks
from p8j.journal.store.fs.layout import check_home_arg


class Code(enum.IntEnum):
    FAILED = 2


def test_integers_refuse_bools_and_floats_and_become_plain_ints() -> None:
    assert type(checks.integer(Code.FAILED, "exit_code")) is int
    assert checks.opt_integer(None, "history") is None
    for bad in (True, 1.0, "1", None):
        with pytest.raises(InvalidTypeError, match="exit_code must be an int"):
            checks.integer(bad, "exit_code")
    with pytest.raises(InvalidEventError, match="history must be >= 0, not -1"):
        checks.opt_integer(-1, "history", minimum=0)


def test_reals_are_finite_floats() -> None:
    assert checks.real(decimal.Decimal("0.5"), "d") == 0.5
    assert checks.real(Fraction(3, 2), "d") == 1.5
    assert type(checks.real(2, "d")) is float
    for bad in (math.nan, math.inf, decimal.Decimal("NaN"), decimal.Decimal("sNaN"), 10**400):
        with pytest.raises(InvalidEventError, match="finite number") as info:
            checks.real(bad, "d")
        assert not isinstance(info.value, TypeError)
    for wrong in (True, "1.5", 1j, None):
        with pytest.raises(InvalidTypeError):
            checks.real(wrong, "d")
    with pytest.raises(InvalidEventError, match="> 0"):
        checks.real(0, "batch_interval_ms", positive=True)


def test_timestamps_become_p8j_utc_strings() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert checks.timestamp("2026-11-24T09:06:00+02:00", "t") == "2026-11-24T07:06:00.000000Z"
    assert checks.timestamp(datetime(2026, 11, 24, 9, 6, tzinfo=plus_two), "t") == (
        "2026-11-24T07:06:00.000000Z"
    )
    for bad in ("2026-11-24T09:06:00", "noon", "\ud800", datetime(2026, 1, 1)):
        with pytest.raises(InvalidEventError, match="RFC 3339"):
            checks.timestamp(bad, "t")
    with pytest.raises(InvalidEventError):  # out of range once converted to UTC
        checks.timestamp(datetime(1, 1, 1, tzinfo=plus_two), "t")
    with pytest.raises(InvalidTypeError):
        checks.timestamp(1_700_000_000, "t")


def test_mappings_need_string_keys_and_are_copied() -> None:
    given = OrderedDict(a=1)
    copy = checks.mapping(given, "metadata")
    assert copy == {"a": 1} and type(copy) is dict and copy is not given
    assert checks.mapping(None, "metadata") == {}
    for bad in ("ab", [("a", 1)], 5):
        with pytest.raises(InvalidTypeError, match="metadata must be a mapping"):
            checks.mapping(bad, "metadata")
    with pytest.raises(InvalidTypeError, match="string keys, not int"):
        checks.mapping({1: "a"}, "metadata")


def test_strings_choices_bools_and_homes() -> None:
    assert checks.opt_string(None, "cwd") is None
    with pytest.raises(InvalidTypeError, match="cwd must be a string or None, not int"):
        checks.opt_string(5, "cwd")
    with pytest.raises(InvalidEventError, match="one of default, fsync, batch"):
        checks.choice("never", "durability", ("default", "fsync", "batch"))
    with pytest.raises(InvalidTypeError):
        checks.boolean(1, "redact")
    check_home_arg(Path("/tmp/x"))
    for bad in (5, b"/tmp/x"):
        with pytest.raises(InvalidTypeError, match="home must be"):
            check_home_arg(bad)
