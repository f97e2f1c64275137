"""The redaction engine: `Redactor` runs the rules over a text behind a cheap prefilter.

Contract:
- `Redactor.text` returns its input with every secret a rule finds replaced by
  its marker (see rules.py), in rule order; the rule ids that fired are
  appended to the caller's list. The same object comes back when nothing
  changed (callers test identity).
- Idempotent: a marker is never matched again, and a text is passed over until
  nothing changes, so redacting redacted text changes nothing. Strings stay
  strings. Besides text rules, `Redactor.fields` redacts a string whose field
  name says it is a secret (``password``, ``api_key``, ``client_secret``...) as
  ``secret-field`` (for token-like names, only if the value looks random).
- Cheap when there is nothing to find: a text holding none of the rules' gate
  characters (most prose; eleven memchr calls) runs no rule. Otherwise one pass
  of an RE2 set (prefilter.py) over the text names the rules whose candidate
  pattern matches in it, in time linear in the text's length; only those run
  their pattern. On a text over 2 kB the set reads it in chunks of whole lines,
  and every rule whose matches hold no line break (all but the private key's)
  runs only on the lines of its chunks where a candidate matches, so its cost
  follows the lines that look like secrets, not every ``=``, ``:`` or literal.
  The text is encoded and read by the set once: with a prefix, the pass over
  prefix + text that rules out a split secret also names the text's rules.
  Without
  the set (``rule_set=False``, or a text holding a lone surrogate), a rule runs
  on a text if the text holds one of its gate characters and one of the
  literals every match of the rule holds (``sk-``, ``eyJ``, ``TOKEN=``) or, for
  case-insensitive keywords, one of them in the lower-cased text; on a text
  over 1 kB only the gate characters and case-sensitive keywords are tested. A
  user rule is gated by a character of each of its keywords; one without
  keywords (or with a case-insensitive keyword of letters only) runs on every
  text and turns the memchr shortcut off. Clean texts up to 64 characters (ids,
  names, roles: they repeat all session long) are remembered as clean in a
  bounded set; a text with a secret is never kept. A caller that found no
  candidate in some names (`remember_clean`: the keys of a message judged in
  one set pass) adds them too, and to `plain_names` those no field rule
  redacts under either.
- Split secrets: with ``prefix=`` (the end of the text recorded before), a
  secret that starts in the prefix and runs into the text is caught too (its
  part in the text becomes the marker; split.py finds it); everything else is
  judged on the text alone. The stream (stream.py) keeps that prefix.
- Stateless and thread-safe; user rules and the allow-list come from
  redact.json (config.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .prefilter import RuleSet, Scan, utf8
from .rules import (
    BUILTIN_GATES,
    MARKER_PREFIX,
    Rule,
    builtin_rules,
    high_entropy,
    is_placeholder,
    marker,
)
from .split import crossing, may_cross

if TYPE_CHECKING:
    from .config import RedactConfig

__all__ = ["Redactor"]


def _keyword_gate(keywords: tuple[str, ...], *, ignore_case: bool) -> str:
    """Gate characters for a user rule: one from each keyword, or "" if one has none.

    Compared case-insensitively, a keyword only offers ASCII characters other than
    letters: no character lower-cases to one of them but itself, so a text whose
    lower case holds it holds it too. A character the built-in rules test anyway is
    preferred (no extra memchr), then punctuation (rarer in prose than letters).
    """
    gate: dict[str, None] = {}
    for k in keywords:
        pool = [c for c in k if c.isascii() and not c.isalpha()] if ignore_case else list(k)
        if not pool:
            return ""
        pick = next((c for c in pool if c in BUILTIN_GATES), None)
        if pick is None:
            pick = next((c for c in pool if not c.isalnum()), pool[0])
        gate[pick] = None
    return "".join(gate)


# Field names whose string value is a secret whatever it looks like, and ones whose value
# is a secret if it looks random.
_PASSWORD_FIELD = re.compile(r"(?:.*[_.-])?(?:password|passwd|passphrase|client[_-]?secret|secret)")
_TOKEN_FIELD = re.compile(
    r"(?:.*[_.-])?(?:token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key"
    r"|auth[_-]?token|credentials?)"
)
_FIELD_CACHE_MAX = 4096
# Clean texts up to this length are remembered as clean (a bounded set).
_CACHED_UP_TO = 64
_CACHE_MAX = 8192
# A rule's literals and case-insensitive keywords are tested on texts up to this length
# only: there an `in` test is cheaper than the fixed cost of running the pattern, but on
# long texts CPython's substring search (0.6-0.8 ns a character for short needles) and
# lower-casing (up to 4 ns for non-ASCII text) cost more than the pattern's own literal
# search (0.4-0.6 ns, measured on the realdata corpus); 1-4 kB do equally well.
_LITERALS_UP_TO = 1024
# A gate character, the rules it lets run outright, and (rule, literals) pairs for the
# rules that also need one of their literals in the text.
_Gate = tuple[str, tuple[int, ...], tuple[tuple[int, tuple[str, ...]], ...]]


class Redactor:
    """A compiled set of rules plus the allow-list; stateless and thread-safe."""

    def __init__(
        self,
        rules: list[Rule] | None = None,
        *,
        allow: list[str] | tuple[str, ...] = (),
        allow_patterns: list[str] | tuple[str, ...] = (),
        rule_set: bool = True,
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(builtin_rules() if rules is None else rules)
        # False: long texts are filtered by the gate characters alone (the tests' reference).
        self._set = RuleSet(self.rules) if rule_set else None
        self._allow = frozenset(allow)
        self._allow_res = tuple(re.compile(p) for p in allow_patterns)
        self._lowered = frozenset(
            i for i, r in enumerate(self.rules) if r.ignore_case and r.keywords
        )
        self._gates = self._tables(short=True)
        self._gates_long = self._tables(short=False)
        # Only a rule gated by several characters can be found twice in one text.
        self._dupes = any(len(r.gate) > 1 for r in self.rules)
        # A text holding none of these can hold no match (None: some rule has no gate).
        self._chars: str | None = "".join(ch for ch, _, _ in self._gates)
        if any(not r.gate for r in self.rules):
            self._chars = None
        # The same test as one regex search: faster than eleven `in` tests on a short name.
        self._gate_re = None if self._chars is None else re.compile(f"[{re.escape(self._chars)}]")
        self._field_cache: dict[str, int] = {}
        self._clean: set[str] = set()
        # Names both `name` and `fields` pass over (clean, not a secret's field name): a
        # dict whose keys are all here needs no look at its keys (stream.py).
        self.plain_names: set[str] = set()
        self._markers = tuple(marker(r.id) for r in self.rules)

    def _tables(self, *, short: bool) -> tuple[_Gate, ...]:
        """The prefilter for short or long texts: one entry per gate character.

        The rules with no gate are under "", which every text holds. Case-insensitive
        keywords are left out: `_applicable` compares them with the lower-cased text,
        and only for the rules that pass the rest.
        """
        tables: dict[str, tuple[list[int], list[tuple[int, tuple[str, ...]]]]] = {}
        for idx, rule in enumerate(self.rules):
            needs = () if idx in self._lowered else rule.keywords
            if short and not needs:
                needs = rule.literals
            for ch in rule.gate or [""]:
                plain, tested = tables.setdefault(ch, ([], []))
                if needs:
                    tested.append((idx, needs))
                else:
                    plain.append(idx)
        return tuple((ch, tuple(plain), tuple(tested)) for ch, (plain, tested) in tables.items())

    @classmethod
    def from_config(cls, config: RedactConfig) -> Redactor:
        """Built-in rules (minus the disabled ones) plus the user's rules and allow-list."""
        disabled = set(config.disable)
        rules = [r for r in builtin_rules() if r.id not in disabled]
        for ur in config.rules:
            pat = re.compile(ur.pattern)
            group: int | str = "secret" if "secret" in pat.groupindex else 0
            keywords = (
                tuple(k.lower() for k in ur.keywords) if ur.ignore_case else tuple(ur.keywords)
            )
            rules.append(
                Rule(
                    ur.id,
                    _keyword_gate(keywords, ignore_case=ur.ignore_case),
                    pat,
                    keywords=keywords,
                    ignore_case=ur.ignore_case,
                    groups=(group,),
                )
            )
        # The generic rule stays last: a user's pattern claims its secrets first.
        rules.sort(key=lambda r: r.id == "generic-secret")
        return cls(rules, allow=config.allow, allow_patterns=config.allow_patterns)

    # -- text --------------------------------------------------------------------------------

    def _applicable(self, s: str) -> list[int]:
        """Indices of the rules that can match in `s`, in rule order."""
        if self._set is not None:
            found = self._set.hits(s)
            if found is not None:
                return found
        return self._gated(s)

    def _gated(self, s: str) -> list[int]:
        """`_applicable` by gate characters, literals and keywords (without the set)."""
        hits: list[int] = []
        short = len(s) <= _LITERALS_UP_TO
        for ch, plain, tested in self._gates if short else self._gates_long:
            if ch in s:  # a memchr
                hits.extend(plain)
                for idx, needs in tested:
                    for k in needs:
                        if k in s:
                            hits.append(idx)
                            break
        if len(hits) > 1:
            hits = sorted(set(hits)) if self._dupes else sorted(hits)
        if self._lowered and hits and short:
            low = s.lower()
            hits = [
                i
                for i in hits
                if i not in self._lowered or any(k in low for k in self.rules[i].keywords)
            ]
        return hits

    def _passes_gate(self, idx: int, s: str) -> bool:
        """``idx in self._gated(s)``, for one rule."""
        rule = self.rules[idx]
        if rule.gate and not any(ch in s for ch in rule.gate):
            return False
        short = len(s) <= _LITERALS_UP_TO
        lowered = idx in self._lowered
        needs = () if lowered else rule.keywords
        if short and not needs:
            needs = rule.literals
        if needs and not any(k in s for k in needs):
            return False
        if lowered and short:
            low = s.lower()
            return any(k in low for k in rule.keywords)
        return True

    def _quiet(self, s: str) -> bool:
        """True if `s` holds none of the gate characters: no match lies within it."""
        chars = self._chars
        if chars is None:
            return False
        for ch in chars:  # noqa: SIM110 (all() over a generator takes twice as long)
            if ch in s:
                return False
        return True

    def quiet_name(self, s: str) -> bool:
        """`_quiet` for a short text (a key, a name): True if no rule can match in `s`."""
        gate = self._gate_re
        return gate is not None and gate.search(s) is None

    def name(self, s: str, fired: list[str] | None = None) -> str:
        """`text` for a name judged alone (a key, a label): a clean name seen before is a lookup."""
        clean = self._clean
        if s in clean:
            return s
        gate = self._gate_re
        if gate is not None and gate.search(s) is None:
            if len(s) <= _CACHED_UP_TO:
                if len(clean) >= _CACHE_MAX:
                    clean.clear()
                clean.add(s)
            return s
        return self._alone(s, fired)

    def remember_clean(self, names: list[str]) -> None:
        """Remember `names` as clean names: the caller found no rule's candidate in any of them."""
        clean, plain = self._clean, self.plain_names
        for s in names:
            if len(s) <= _CACHED_UP_TO:
                if len(clean) >= _CACHE_MAX:
                    clean.clear()
                clean.add(s)
                if self._field_kind(s) == 0:
                    if len(plain) >= _CACHE_MAX:
                        plain.clear()
                    plain.add(s)

    def _allowed(self, secret: str) -> bool:
        if secret in self._allow:
            return True
        return any(p.fullmatch(secret) for p in self._allow_res)

    def text(self, s: str, fired: list[str] | None = None, *, prefix: str = "") -> str:
        """`s` with its secrets replaced by markers; rule ids that fired are appended to `fired`.

        With `prefix` (the end of the text recorded before `s`), a secret that
        starts in the prefix and ends in `s` is caught too (its part in `s`
        becomes the marker); everything else in `s` is judged on `s` alone, so
        the previous text never changes how this one reads.
        """
        if prefix and s and may_cross(prefix, s):
            # One pass answers both questions: a candidate in the window, or in `s` alone,
            # is one in prefix + s, so its rules (a superset of `s`'s own) judge `s` too.
            known = both = None
            if self._set is not None:
                data, head = utf8(s), utf8(prefix)
                if data is not None and head is not None:
                    known = self._set.scan(s, data, head)
                    both = known[0]
            if both == []:
                return s
            hit = crossing(self, prefix, s, both)
            if hit is not None:
                idx, end = hit
                if fired is not None:
                    fired.append(self.rules[idx].id)
                return self._markers[idx] + self._alone(s[end:], fired)
            return self._alone(s, fired, known)
        return self._alone(s, fired)

    def _alone(self, s: str, fired: list[str] | None, known: Scan | None = None) -> str:
        """`_text`, skipped for a short text known to be clean: ids, names and roles repeat.

        Only clean texts are remembered, so no secret outlives its call in the cache;
        a full cache starts over, so what repeats now gets back in.
        """
        if len(s) > _CACHED_UP_TO:
            return self._text(s, fired, known)
        clean = self._clean
        if s in clean:
            return s
        out = self._text(s, fired, known)
        if out is s:  # nothing fired: every rule that fires replaces something
            if len(clean) >= _CACHE_MAX:
                clean.clear()
            clean.add(s)
        return out

    def _text(self, s: str, fired: list[str] | None, known: Scan | None = None) -> str:
        """`text` for a text on its own: passes until nothing changes (idempotence).

        `known`: the set's `scan` of `s` (its rules may be a superset), if the
        caller made it already (with the text before `s`). One pass nearly
        always suffices; another runs only after a change, since a marker can
        end a word a rejected candidate had swallowed. Every change turns
        secret characters into a marker, which no rule matches again, so this
        ends; the bound is a guard.
        """
        for _ in range(8):
            out = self._pass(s, fired, known)
            if out is s:
                break
            s, known = out, None
        return s

    def _pass(self, s: str, fired: list[str] | None, known: Scan | None) -> str:
        """Every applicable rule once, in order, over `s`: the text is read once by the set.

        On a long text the line-bound rules run only on the lines where one of
        their candidates matches (`RuleSet.scan`); those are found again only
        after an earlier rule changed the text.
        """
        rset = self._set
        if known is None and rset is not None:
            data = utf8(s)
            if data is not None:
                known = rset.scan(s, data)
        rules, lines, local = (self._gated(s), [], ()) if known is None else known
        for idx in rules:
            rule = self.rules[idx]
            mark = self._markers[idx]
            pieces: list[str] | None = None
            last = 0
            for start, end in self._spans(rule, s, lines if idx in local else None):
                if start < last:
                    continue
                if self._allowed(s[start:end]):
                    continue
                if pieces is None:
                    pieces = []
                pieces.append(s[last:start])
                pieces.append(mark)
                last = end
                if fired is not None:
                    fired.append(rule.id)
            if pieces is not None:
                pieces.append(s[last:])
                s = "".join(pieces)
                if local:  # found in the text before this change: find them again
                    assert rset is not None
                    lines = rset.lines_of(local, s)
        return s  # the same object when nothing changed: callers test identity

    def _spans(
        self, rule: Rule, s: str, lines: list[tuple[int, int]] | None
    ) -> Iterator[tuple[int, int]]:
        """`rule.spans(s)`; for a line-bound rule, on the candidate `lines` only."""
        if lines is None:
            yield from rule.spans(s)
            return
        for lo, hi in lines:
            yield from rule.spans(s, lo, hi)

    def _field_kind(self, name: str) -> int:
        """0: `fields` never redacts under `name`; 1: any value; 2: a value that looks random."""
        kind = self._field_cache.get(name)
        if kind is None:
            low = name.lower()
            if _PASSWORD_FIELD.fullmatch(low):
                kind = 1
            elif _TOKEN_FIELD.fullmatch(low):
                kind = 2
            else:
                kind = 0
            if len(self._field_cache) < _FIELD_CACHE_MAX:
                self._field_cache[name] = kind
        return kind

    def fields(self, name: str, value: str) -> str | None:
        """The rule id that redacts `value` because of its field `name`, or None."""
        kind = self._field_kind(name)
        if kind == 0 or MARKER_PREFIX in value or self._allowed(value):
            return None
        if kind == 1:
            return "secret-field" if value and not is_placeholder(value) else None
        return "secret-field" if high_entropy(value) else None
