"""The JSON tree walker (jsontree.py): copy-on-write, distinct keys, paths."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from p8j.journal.jsontree import Path, TreeRewriter, distinct_key

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=20,
)


class Upper(TreeRewriter):
    """Upper-cases strings and keys that start with "x"; records every path it sees."""

    def __init__(self) -> None:
        self.paths: list[tuple[str, Path]] = []

    def string(self, s: str, path: Path) -> Any:
        self.paths.append(("s", path))
        return s.upper() if s.startswith("x") else s

    def key(self, k: str, path: Path) -> Any:
        self.paths.append(("k", path))
        return k.upper() if k.startswith("x") else k


def _upper(v: Any) -> Any:
    """What Upper should give, built independently (no key collisions in its inputs)."""
    if isinstance(v, str):
        return v.upper() if v.startswith("x") else v
    if isinstance(v, list):
        return [_upper(x) for x in v]
    if isinstance(v, dict):
        return {(k.upper() if k.startswith("x") else k): _upper(x) for k, x in v.items()}
    return v


@given(JSON)
def test_a_walk_that_changes_nothing_returns_the_same_object(value: Any) -> None:
    assert TreeRewriter().value(value) is value
    assert TreeRewriter().value(value, ()) is value


@given(JSON)
def test_changes_copy_only_what_they_touch_and_never_mutate_the_input(value: Any) -> None:
    before = copy.deepcopy(value)
    out = Upper().value(value)
    assert value == before
    keys_collide = any(
        isinstance(d, dict) and len({_upper(k) for k in d}) < len(d) for d in _containers(value)
    )
    if not keys_collide:
        assert out == _upper(value)
    if out == value and not keys_collide:
        assert out is value


def _containers(v: Any) -> list[Any]:
    out = [v]
    if isinstance(v, list):
        for x in v:
            out += _containers(x)
    elif isinstance(v, dict):
        for x in v.values():
            out += _containers(x)
    return out


def test_untouched_branches_are_shared() -> None:
    clean = {"a": [1, "b"]}
    value = {"clean": clean, "dirty": ["x1", {"k": "x2"}]}
    out = Upper().value(value)
    assert out == {"clean": clean, "dirty": ["X1", {"k": "X2"}]}
    assert out["clean"] is clean
    assert out is not value


def test_keys_made_equal_stay_distinct_in_order() -> None:
    value = {"xa": 1, "XA": 2, "XA#2": 3, "b": 4}
    out = Upper().value(value)
    assert list(out.items()) == [("XA", 1), ("XA#2", 2), ("XA#2#2", 3), ("b", 4)]
    assert Upper().value(value) == out  # deterministic
    assert distinct_key("k", {"k": 1, "k#2": 2}) == "k#3"
    assert distinct_key("k", {}) == "k"


def test_hooks_get_paths_only_when_asked() -> None:
    value = {"a": [{"xk": "v"}, "s"]}
    walker = Upper()
    walker.value(value, ("content",))
    assert walker.paths == [
        ("k", ("content", "a")),
        ("k", ("content", "a", 0, "xk")),
        ("s", ("content", "a", 0, "xk")),
        ("s", ("content", "a", 1)),
    ]
    walker = Upper()
    walker.value(value)
    assert {p for _, p in walker.paths} == {None}
