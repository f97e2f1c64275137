"""Search patterns: RE2 compiled, and the literal pieces every match must contain."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p8j.journal import Home, SessionManager
from p8j.replay.search import search
from p8j.replay.search_pattern import PatternError, SearchPattern, unicode_classes


@pytest.mark.parametrize(
    ("pattern", "ignore_case", "need"),
    [
        ("ZebraQuokka", False, "ZebraQuokka"),
        ("ZebraQuokka", True, "zebraquo"),  # no k, s, i with -i: they have non-ASCII variants
        ("Database Connection", True, ("and", ("databa", "e connect"))),
        ("cafébar", True, ("and", ("caf", "bar"))),  # -i: ASCII only
        ("cafébar", False, "cafébar"),
        ("(?i)Hello", False, "hello"),
        ("def \\w+", False, "def "),
        ("import (os|sys)", False, "import "),
        ("rate.?limit", False, ("and", ("rate", "limit"))),
        ("foo|bar", False, ("or", ("foo", "bar"))),
        ("foo|b", False, None),
        ("(?:abc)+x", False, "abc"),
        ("(abc)?xyz", False, "xyz"),
        ("abc*", False, None),
        ("abcd+", False, "abcd"),
        ("a{,3}bcd", False, "a{,3}bcd"),  # RE2 reads {,3} as literal text
        ("x{2}yz", False, None),
        ("[[:alpha:]]xyz", False, "xyz"),
        ("\\pLxyz", False, "xyz"),
        ("\\Qa.b\\E", False, None),  # syntax the reader does not follow: no need
        ("a\\.bc", False, "a.bc"),
        ('say "hello"', False, ("and", ("say ", "hello"))),
        ("line\\nbreak", False, ("and", ("line", "break"))),
        ("image]", False, None),  # could come from search's own "[image]"
        (".", False, None),
        ("", False, None),
    ],
)
def test_need(pattern: str, ignore_case: bool, need: object) -> None:
    assert SearchPattern(pattern, ignore_case).need == need


def test_an_inline_flag_makes_the_pieces_fold_case(home: Home) -> None:
    mgr = SessionManager(home)
    mgr.start_session("p")
    mgr.record_message({"role": "user", "content": "Calculate the total"})
    mgr.end_session()
    pattern = SearchPattern("(?i)CALCULATE")
    assert pattern.fold and pattern.need == "calculate"
    assert [h.seq for h in search(home, pattern, use_index=False).hits] == [1]
    assert search(home, pattern, use_index=False).hits == search(home, pattern, narrow=False).hits


def test_catastrophic_pattern_is_linear() -> None:
    pattern = SearchPattern("(a+)+$")
    start = time.monotonic()
    assert pattern.first_and_count(["a" * 32 + "!"]) is None
    assert pattern.first_and_count(["a" * 10_000 + "!"]) is None
    assert time.monotonic() - start < 5  # Python's re: astronomically long


@pytest.mark.parametrize("pattern", ["(a)\\1", "(?=a)", "(?!a)", "(?<=a)b", "(?<!a)b", "("])
def test_unsupported(pattern: str) -> None:
    with pytest.raises(PatternError):
        SearchPattern(pattern)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet="aäb\u212ak\nK€ ", max_size=30),
    pattern=st.sampled_from(["a", "ä", "k", "", "b*", "K", "€ a", "\\w", "."]),
    ignore_case=st.booleans(),
)
def test_spans_and_counts_are_in_characters(text: str, pattern: str, ignore_case: bool) -> None:
    compiled = SearchPattern(pattern, ignore_case)
    found = compiled.first_and_count(["xx", text])
    matches = list(compiled._regex.finditer(text)) + list(compiled._regex.finditer("xx"))
    if not matches:
        assert found is None
        return
    assert found is not None
    first = next(iter(compiled._regex.finditer("xx")), None) or compiled._regex.search(text)
    assert found[1:3] == (first.start(), first.end())
    assert found[3] == len(matches)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="aZ_9٣é中 \t\u00a0\u2003\u3000-.!ßΣ\n", max_size=25),
    pattern=st.sampled_from(
        ["\\w+", "\\d", "\\s+", "\\W", "\\D+", "\\S+", "[\\w.]+", "[\\d-]", "[^\\s]+", "a\\sZ"]
    ),
)
def test_class_escapes_mean_what_they_mean_in_re(text: str, pattern: str) -> None:
    expected = [m.span() for m in re.finditer(pattern, text)]
    found = SearchPattern(pattern).first_and_count([text])
    if not expected:
        assert found is None
        return
    assert found is not None and found[1:] == (*expected[0], len(expected))


def test_unicode_classes_leave_the_rest_alone() -> None:
    assert unicode_classes("a\\.b[]\\d]\\Q\\d\\E[[:alpha:]\\s]") == (
        "a\\.b[]\\p{Nd}]\\Q\\d\\E[[:alpha:]" + unicode_classes("[\\s]")[1:]
    )
    assert unicode_classes("\\b\\B\\\\w") == "\\b\\B\\\\w"
