"""One linear-time pass over a text for all rules: `RuleSet`, an RE2 set of candidate patterns.

Contract:
- Each rule gets a candidate: an RE2 pattern that matches in every text where
  the rule finds a secret (a superset: the rule's pattern without its
  look-arounds, its long repetitions cut short, and its name check spelled as
  the names it accepts). A candidate has no anchor nor look-around, so one
  that matches in a part of a text matches in the whole text; no built-in
  candidate holds a line break. `RuleSet.hits(s)` returns, in rule order, the
  indices of the rules whose candidate matches in `s` plus the rules without
  a candidate: one scan of `s` by RE2's DFA, in time linear in
  its length whatever the number of rules, instead of one Python pattern per
  rule over the whole text. Only those rules then run their exact pattern, so
  what is redacted is the same as without the set.
- Built-in rules have candidates written here, keyed by their pattern (a rule
  whose pattern changed without its candidate has none, and always runs). A
  user rule's candidate is its keywords (every match holds one); its own
  pattern is not compiled by RE2, whose ``\\d``, ``\\w``, ``\\s``, ``\\b`` and
  ``$`` differ from Python's. A user rule without keywords, or one RE2 refuses,
  always runs.
- Case-insensitive names are compared as Python's ``str.lower`` compares them:
  each ASCII letter also matches the characters that lower-case to a string
  holding it (KELVIN SIGN for ``k``, I WITH DOT ABOVE for ``i``).
- `RuleSet.lines(idx, s)`: for the flag, ``NAME=`` and generic rules (`local`),
  whose matches never hold a line break and whose patterns try every ``=`` or
  ``:``, the lines of `s` where the rule's candidate matches. Python's
  ``finditer`` started at a line's start finds there what it finds searching
  from the start of `s`, so running the rule on those lines only is exact.
- A text that is not valid UTF-8 once encoded (a lone surrogate) gives None:
  the caller falls back to its own prefilter. RE2's many-match DFA never gives
  up on a text (it only bails out early on single patterns), and the set's
  memory budget is ample for these small automata.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import re2

if TYPE_CHECKING:
    from .rules import Rule

__all__ = ["LOWER_FROM", "RuleSet", "candidate", "ignore_case_literal"]

# Besides an ASCII letter's own upper case, the characters whose `str.lower()` holds it
# (checked over every code point by the tests).
LOWER_FROM: dict[str, str] = {"i": "\u0130", "k": "\u212a"}


def ignore_case_literal(word: str) -> str | None:
    """An RE2 pattern for `word` found in a text's `str.lower()` (`word` is lower case).

    None if `word` holds a character other than ASCII: which characters
    lower-case to it is not spelled out here.
    """
    out: list[str] = []
    for c in word:
        if not c.isascii():
            return None
        if c.isalpha():
            out.append(f"[{c}{c.upper()}{LOWER_FROM.get(c, '')}]")
        else:
            out.append(f"\\x{{{ord(c):x}}}")
    return "".join(out)


def _literal(word: str) -> str:
    return "".join(f"\\x{{{ord(c):x}}}" for c in word)


_GENERIC_NAME = (
    "(?:"
    + "|".join(
        ignore_case_literal(w) or ""
        for w in ("key", "token", "secret", "passwd", "password", "passphrase", "pwd", "credential")
    )
    + ")"
    + "(?:[sS]|[sS][sS])?"  # plural, and "credentials" + "s"
    + r"\\*[\"']*[ \t]*"
)
# A value of at least 16 characters (rules.py's `_value(16)`), cut short: the quoted
# escaped form after its opening \" only.
_VALUE16 = r"""(?:"[^"\n]{16}|\\"|'[^'\n]{16}|[^\s"'\\`;&|<>(){}\[\],]{16})"""
_FLAG_WORDS = "(?:password|passwd|pass|token|api-key|apikey|secret|client-secret)"
_ENV_ENDINGS = (
    "(?:TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIALS|CREDENTIAL"
    "|_KEY|_PASS|_PWD|_AUTH|_APIKEY)"
)
_AUTH_VALUE = (
    r"[\"']?[ \t]{0,8}[:=][ \t]{0,8}[\"']?"
    r"(?:(?:Bearer|bearer|Basic|basic|Token|token|Digest|Negotiate)[ \t]{1,8})?"
    r"[A-Za-z0-9._~+/-]{8}"
)

# Built-in rule pattern (or finder name) -> its candidate. Every value after a rule's
# literal is cut to its shortest form: the candidate only needs to start where a match does.
_BUILTIN: dict[str, str] = {
    "-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[^-]{0,65536}"
    "(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?": "-----BEGIN[A-Z0-9 ]*PRIVATE KEY",
    "_pem_tails": "-----END[A-Z0-9 ]*PRIVATE KEY",
    "sk-ant-[A-Za-z0-9_-]{20,}": "sk-ant-[A-Za-z0-9_-]{20}",
    "sk-(?<![A-Za-z0-9_-]sk-)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}": (
        "sk-[A-Za-z0-9_-]{20}"
    ),
    "AKIA(?<![A-Za-z0-9_]AKIA)[A-Z0-9]{16}(?![A-Za-z0-9])": "AKIA[A-Z0-9]{16}",
    "ASIA(?<![A-Za-z0-9_]ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])": "ASIA[A-Z0-9]{16}",
    "gh[pousr]_(?<![A-Za-z0-9_]gh._)[A-Za-z0-9]{36,255}": "gh[pousr]_[A-Za-z0-9]{36}",
    "github_pat_(?<![A-Za-z0-9_]github_pat_)[A-Za-z0-9_]{22,255}": "github_pat_[A-Za-z0-9_]{22}",
    r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_+-]{8,512}": (
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_+-]{8}"
    ),
    "x(?:ox[abposre]-(?<![A-Za-z0-9_]xox.-)[A-Za-z0-9-]{10,512}"
    "|app-(?<![A-Za-z0-9_]xapp-)[0-9]-[A-Za-z0-9-]{10,512})": (
        "x(?:ox[abposre]-[A-Za-z0-9-]{10}|app-[0-9]-[A-Za-z0-9-]{10})"
    ),
    "AIza(?<![A-Za-z0-9_-]AIza)[0-9A-Za-z_-]{35}": "AIza[0-9A-Za-z_-]{35}",
    "k_(?:live|test)_(?<=[sr]k_...._)(?<![A-Za-z0-9_].k_...._)[0-9A-Za-z]{10,255}": (
        "[sr]k_(?:live|test)_[0-9A-Za-z]{10}"
    ),
    "whsec_(?<![A-Za-z0-9_]whsec_)[A-Za-z0-9+/=]{20,255}": "whsec_[A-Za-z0-9+/=]{20}",
    "hf_(?<![A-Za-z0-9_]hf_)[A-Za-z0-9]{30,255}": "hf_[A-Za-z0-9]{30}",
    "eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{5,8192}"
    r"\.eyJ[A-Za-z0-9_-]{5,16384}\.[A-Za-z0-9_-]{0,8192}": (
        r"eyJ[A-Za-z0-9_-]{5}[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]{5}"
    ),
    "B(?:earer|EARER)(?<![A-Za-z0-9_]......)[ \\t]{1,8}([A-Za-z0-9._~+/-]{12,4096}=*)": (
        r"B(?:earer|EARER)[ \t]{1,8}[A-Za-z0-9._~+/-]{12}"
    ),
    **{
        f"{word}(?<={lead}{word})(?<![A-Za-z0-9_].{{{len(word) + 1}}})"
        "[\\\"']?[ \\t]{0,8}[:=][ \\t]{0,8}[\\\"']?"
        "(?:(?:Bearer|bearer|Basic|basic|Token|token|Digest|Negotiate)[ \\t]{1,8})?"
        "([A-Za-z0-9._~+/-]{8,4096}=*)": lead + word + _AUTH_VALUE
        for lead, word in (("[Aa]", "uthorization"), ("A", "UTHORIZATION"))
    },
    "://[^\\s/?#@:\\\"'<>\\[\\]]{0,256}:([^\\s/?#@\\\"'<>\\[\\]]{1,256})@": (
        r"://[^\s/?#@:\"'<>\[\]]*:[^\s/?#@\"'<>\[\]]+@"
    ),
}


def candidate(rule: Rule) -> str | None:
    """The RE2 candidate pattern of `rule`, or None if it has none (it always runs)."""
    if rule.finder is not None:
        return _BUILTIN.get(rule.finder.__name__)
    assert rule.pattern is not None
    pattern = rule.pattern.pattern
    found = _BUILTIN.get(pattern)
    if found is not None:
        return found
    if rule.name_check is not None or rule.literals:
        # A built-in rule (user rules have neither): one of the assignment rules, or
        # one this table does not know.
        return _assignment(rule, pattern)
    if not rule.keywords:
        return None
    words = [ignore_case_literal(k) if rule.ignore_case else _literal(k) for k in rule.keywords]
    if any(w is None for w in words):
        return None
    return "(?:" + "|".join(w for w in words if w is not None) + ")"


def _assignment(rule: Rule, pattern: str) -> str | None:
    """Candidates of the flag, ``NAME=`` and generic rules (their value patterns are long)."""
    flag = r"--(?<![A-Za-z0-9_-]--)" + _FLAG_WORDS
    if rule.id == "password-flag" and pattern.startswith(flag):
        rest = pattern[len(flag) :]
        if rest.startswith("="):
            return "--" + _FLAG_WORDS + "="
        if rest.startswith("[ \\t]{1,8}("):
            return "--" + _FLAG_WORDS + r"[ \t]{1,8}[^\s\"'\\`;&|<>(){}\[\],]"
    if rule.id == "secret-assignment" and pattern.startswith("=(?<=[A-Z]=)"):
        # Every value form starts with a character that is not a blank.
        return _ENV_ENDINGS + r"=\S"
    if rule.id == "generic-secret":
        if pattern.startswith("=>?[ \\t]{0,8}"):
            return _GENERIC_NAME + r"=>?[ \t]{0,8}" + _VALUE16
        if pattern.startswith(":=?[ \\t]{0,8}"):
            return _GENERIC_NAME + r":=?[ \t]{0,8}" + _VALUE16
    return None


class RuleSet:
    """The candidates of a rule table as one RE2 set; see the module doc."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        options = re2.Options()
        options.max_mem = 64 << 20
        self._set: Any = None
        self._index: list[int] = []  # set entry -> rule index
        always: list[int] = []
        rset = re2.Set.SearchSet(options)
        for idx, rule in enumerate(rules):
            pattern = candidate(rule)
            try:
                if pattern is None:
                    raise re2.error("no candidate")
                rset.Add(pattern)
            except re2.error:
                always.append(idx)
                continue
            self._index.append(idx)
        self.always: tuple[int, ...] = tuple(always)
        if self._index:
            rset.Compile()
            self._set = rset
        # Rules whose matches never hold a line break, and whose pattern tries every `=` or
        # `:` of a text: they run only on the lines where their candidate matches.
        self.local: dict[int, Any] = {}
        for idx, rule in enumerate(rules):
            built_in = rule.name_check is not None or rule.literals  # (see `candidate`)
            if rule.pattern is not None and built_in and idx in self._index:
                pattern = _assignment(rule, rule.pattern.pattern)
                if pattern is not None:
                    self.local[idx] = re2.compile(pattern, options)

    def hits(self, s: str) -> list[int] | None:
        """Rule indices whose candidate matches in `s` (plus those without), in rule order.

        None if `s` holds a lone surrogate (not UTF-8): the caller must judge it another way.
        """
        if self._set is None:
            return list(self.always)
        try:
            data = s.encode()
        except UnicodeEncodeError:
            return None
        found = self._set.Match(data)
        if found is None:
            return list(self.always)
        index = self._index
        hits = [index[i] for i in found]
        if self.always:
            hits.extend(self.always)
        hits.sort()
        return hits

    def lines(self, idx: int, s: str) -> list[tuple[int, int]]:
        """(start, end) of each line of `s` where rule `idx`'s candidate matches (idx in `local`).

        Such a rule's matches hold no line break, so `finditer` from a line's start
        finds on that line what it finds there searching from the start of `s`.
        """
        regexp = self.local[idx]
        try:
            data = s.encode()
        except UnicodeEncodeError:  # not judged by the set: the whole text, then
            return [(0, len(s))]
        size = len(data)
        ascii_only = size == len(s)
        out: list[tuple[int, int]] = []
        pos = 0
        done_b = done_c = 0  # a byte offset and its character offset
        while pos < size:
            found = regexp.search(data, pos)
            if found is None:
                break
            # Its last character: the first may be the line break before a ``--flag``.
            at = found.end() - 1
            lo = data.rfind(b"\n", 0, at) + 1
            hi = data.find(b"\n", at)
            if hi < 0:
                hi = size
            if ascii_only:
                out.append((lo, hi))
            else:
                # Cut at line breaks, so at character boundaries: decoding counts them.
                lo_c = done_c + len(data[done_b:lo].decode())
                hi_c = lo_c + len(data[lo:hi].decode())
                out.append((lo_c, hi_c))
                done_b, done_c = hi, hi_c
            pos = hi + 1
        return out
