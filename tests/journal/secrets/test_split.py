"""Secrets split between two texts: `may_cross` and `crossing` (split.py)."""

from __future__ import annotations

import tracemalloc

from p8j.journal.secrets.engine import Redactor
from p8j.journal.secrets.split import CROSS_WINDOW, crossing, may_cross

RED = Redactor()


def test_no_window_is_built_when_no_rule_passes_the_gate() -> None:
    # A carry ending in a word, then a long text of one wide character (4 bytes each) whose
    # only candidate, `key:` far from the cut, no rule can carry across the boundary.
    prefix = "we use the standard"
    s = "ok 🚀\n" + "prose 🚀 line\n" * 1000 + "cache key: setup-uv-1-x86_64-unknown\n"
    assert RED._set is not None and may_cross(prefix, s)
    hits = RED._set.hits(prefix + s)
    assert hits  # the generic rule's candidate
    tracemalloc.start()
    try:
        assert crossing(RED, prefix, s, hits) is None
        assert crossing(RED, prefix, s) is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Before: `prefix + s[:CROSS_WINDOW]` (and the slice) were built first, 16 KB each.
    assert peak < CROSS_WINDOW, peak
    assert RED.text(s, prefix=prefix) is s


def test_a_secret_split_at_the_cut_is_still_found_behind_the_gate() -> None:
    prefix = "export GITHUB_TOKEN=ghp_" + "A1b2C3d4E5f6G7h8"
    s = "I9j0K1l2M3n4O5p6Q7r8S9t0\n" + "🚀 prose\n" * 1000
    assert RED._set is not None
    hit = crossing(RED, prefix, s, RED._set.hits(prefix + s))
    assert hit is not None and s[: hit[1]] == "I9j0K1l2M3n4O5p6Q7r8S9t0"
    assert RED.text(s, prefix=prefix).startswith("[REDACTED:")
