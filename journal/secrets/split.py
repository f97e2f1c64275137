"""Secrets split between two texts: can one cross from the text before, and where does it end.

Contract:
- `may_cross(prefix, s)` is a cheap test before the real one: False only if no
  secret can run from the end of `prefix` into `s` (prose ends with ``.``,
  ``?``, a newline...; a token split in two, or a prefix still waiting for its
  value after ``=``, ``:``, ``Bearer`` or a ``--flag``, say True).
- `crossing(red, prefix, s, hits)` finds the first rule (in rule order) whose
  match starts in `prefix` and ends in `s`, judged on a window of `s`
  (`CROSS_WINDOW`, or the whole text when a match runs past it), and returns
  (rule index, its end in `s`). A secret the prefix already held whole counts
  only if its part in `s` looks random and `s` does not start with a secret of
  its own. The gate characters and literals are looked for in the prefix plus
  the first `CROSS_GATE` characters of `s`; a line-bound rule is run on the
  line of the cut only.
"""

from __future__ import annotations

import re
import string
from typing import TYPE_CHECKING

from .rules import MARKER_PREFIX, Rule

if TYPE_CHECKING:
    from .engine import Redactor

__all__ = ["CROSS_GATE", "CROSS_WINDOW", "crossing", "may_cross"]

_DIGIT = re.compile(r"[0-9]")
_ALPHA = re.compile(r"[A-Za-z]")


def _random_part(s: str) -> bool:
    """A piece of a token rather than a word: digits and letters, or no letters at all."""
    if not _ALPHA.search(s):
        return True
    return bool(_DIGIT.search(s))


CROSS_WINDOW = 4096
# How far into the next text the split-secret check looks for a rule's gate character
# and literal: past a literal that starts in the carry, and past the END line after
# fewer than 64 body characters of a private key (more are caught in that text alone).
CROSS_GATE = 128
_TOKEN_EDGE = frozenset(string.ascii_letters + string.digits + "_-+/=")
_SCHEMES = ("Bearer", "BEARER", "bearer", "Basic", "basic", "Token", "token")
_AWAIT_END = frozenset(" \t\"':")


def may_cross(prefix: str, s: str) -> bool:
    """Can a secret run from the end of `prefix` into `s`? (A cheap test before the real one.)

    Yes for a token split in two, and for a prefix still waiting for its secret:
    ending in an operator (``=``, ``:``), a scheme (``Bearer``) or a ``--flag``.
    """
    last = prefix[-1]
    if last in _TOKEN_EDGE:
        if s[0] in _TOKEN_EDGE:
            return True
    elif last not in _AWAIT_END:
        return False  # ".", "?", ")", a newline...: what prose ends with
    t = prefix.rstrip(" \t\"'")
    if not t:
        return False
    if t[-1] in "=:" or t.endswith(_SCHEMES):
        return True
    i = t.rfind("--", max(0, len(t) - 32))
    return i >= 0 and t[i + 2 :].replace("-", "").isalpha()


def crossing(
    red: Redactor, prefix: str, s: str, hits: list[int] | None = None
) -> tuple[int, int] | None:
    """(rule index, end in `s`) of a secret that starts in `prefix` and runs into `s`.

    `hits`: the set's rules for prefix + s, if known (None: as the gate finds them).
    """
    cut = len(prefix)
    gate = prefix + s[:CROSS_GATE]
    # A candidate may end far past the gate's window (a long URL password), so the set
    # looks at the whole window (or more); the rules it names must also pass the gate.
    hits = red._gated(gate) if hits is None else [i for i in hits if red._passes_gate(i, gate)]
    if not hits:
        # Most texts end here (a candidate further on in `s` is no secret from the
        # carry): the window, up to 16 KB copied twice, is not built (-5% of such a text).
        return None
    window = prefix + s[:CROSS_WINDOW]
    local = {} if red._set is None else red._set.local
    for idx in hits:
        rule = red.rules[idx]
        # A rule whose matches hold no line break crosses on the line of the cut.
        lo = prefix.rfind("\n") + 1 if idx in local else 0
        hi = window.find("\n", cut) if idx in local else -1
        for begin, start, end in rule.matches(window, lo, len(window) if hi < 0 else hi):
            if begin >= cut:
                break
            if end <= cut:
                continue
            if end == len(window) and len(s) > CROSS_WINDOW:
                # It may run on past the window: measure it on the whole text.
                whole = prefix + s
                end = next((e for b, _, e in rule.matches(whole, lo) if b == begin), end)
            part = window[max(start, cut) : end]
            if _continues(red, rule, prefix, part, s) and not red._allowed((prefix + s)[start:end]):
                return idx, end - cut
            break
    return None


def _continues(red: Redactor, rule: Rule, prefix: str, part: str, s: str) -> bool:
    """Is `part` (the start of `s`) the rest of a secret that began in `prefix`?

    Yes if the rule needs it (the prefix alone holds no complete match that
    reaches its end: ``export TOKEN=`` then the value). If the prefix's
    secret was already complete, only if `part` looks random and `s` does
    not start with a secret of its own (a message that starts with a word,
    or with its own token, is not a continuation).
    """
    if not any(end == len(prefix) for _, end in rule.spans(prefix)):
        return True
    if not _random_part(part):
        return False
    return not red._text(s, None).startswith(MARKER_PREFIX)
