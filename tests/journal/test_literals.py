"""Literals found in raw bytes exactly where bytes.find finds them, from their rarest byte."""

from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p8j.journal import literals
from p8j.journal.literals import Literal
from p8j.journal.store.fs.rawlines import BLOB_MARK


def test_a_literal_is_searched_from_its_rarest_byte() -> None:
    assert Literal(b"ZebraQuokka").head == b"Zebra"  # from "Q": RE2 skips to it with memchr
    assert Literal(b"the config").head == b"t"  # "h" is rarer than "t", "e", " ", "c", "o", "n"
    assert Literal(BLOB_MARK).head == b',"blobs":'
    assert Literal(b"zebra", ignore_case=True).head == b""  # case folding: searched whole
    with pytest.raises(ValueError):
        Literal(b"two\nlines")


_BYTES = st.binary(max_size=300) | st.text('ab"\\Qqé \n', max_size=300).map(str.encode)


@settings(max_examples=400, deadline=None)
@given(
    data=_BYTES,
    literal=st.text('ab"\\Qqé ', min_size=1, max_size=8).map(str.encode),
    start=st.integers(0, 310),
    end=st.integers(0, 310),
)
def test_a_literal_finds_what_bytes_find_finds(
    data: bytes, literal: bytes, start: int, end: int
) -> None:
    buf = bytearray(data)
    lit = Literal(literal)
    assert lit.find(buf, start, end) == data.find(literal, start, end)
    pos, found = 0, []
    while (at := lit.find(data, pos, len(data))) >= 0:
        found.append(at)
        pos = at + 1
    assert found == [i for i in range(len(data)) if data.startswith(literal, i)]


@settings(max_examples=300, deadline=None)
@given(data=st.text("abAB xX-", max_size=200), literal=st.text("abAB x-", min_size=1, max_size=6))
def test_a_case_insensitive_literal_finds_every_case(data: str, literal: str) -> None:
    lit = Literal(literal.lower().encode(), ignore_case=True)
    raw = data.encode()
    assert lit.find(raw, 0, len(raw)) == data.lower().find(literal.lower())


@settings(max_examples=300, deadline=None)
@given(
    data=_BYTES,
    literal=st.text('ab"\\Qqé ', min_size=1, max_size=8).map(str.encode),
    start=st.integers(0, 310),
    end=st.integers(0, 310),
)
def test_the_direct_match_and_the_wrapper_find_the_same(
    data: bytes, literal: bytes, start: int, end: int
) -> None:
    direct = Literal(literal)
    assert direct.direct  # this google-re2 has RE2's own Match: scans call it, not the wrapper
    with mock.patch.object(literals, "direct_match", return_value=None):
        wrapped = Literal(literal)
    assert not wrapped.direct
    for buf in (data, bytearray(data), memoryview(data)):
        assert direct.find(buf, start, end) == wrapped.find(buf, start, end)
        assert direct.find(buf, start, end) == data.find(literal, start, end)
