"""Search patterns: compiled with RE2 (linear time), and the literals every match must contain.

Contract:
- `SearchPattern.compile` compiles a user pattern with RE2 (google-re2), whose
  matching time is linear in the text: no pattern can make a search hang
  (``(a+)+$`` on 32 ``a``s and a ``!`` takes microseconds; Python's `re`
  backtracks for minutes). The syntax is Python's `re` syntax minus what needs
  backtracking: backreferences (``\\1``, ``(?P=name)``) and lookaround
  (``(?=``, ``(?!``, ``(?<=``, ``(?<!``) raise `PatternError` (the CLI's usage
  error, exit 2), as does anything else RE2 rejects (``\\Z``: RE2 spells it
  ``\\z``). ``-i`` is RE2's Unicode case folding (``k`` also matches the Kelvin
  sign, ``s`` the long s, as in `re`). ``\\d``, ``\\w``, ``\\s`` and their
  negations mean what they mean in `re` (Unicode; `unicode_classes` spells them
  for RE2, whose own are ASCII), except ``\\W`` and ``\\S`` inside a ``[...]``
  class, and ``\\b``/``\\B``, which stay ASCII. ``\\pL``, ``\\p{Greek}`` name
  Unicode classes.
- `SearchPattern.need` is what every match's text must contain, as a `Need`
  (a piece, or an ``and``/``or`` of needs), or None when nothing can be said.
  It comes from a conservative reading of the pattern's RE2 syntax: literal
  runs outside classes, required groups (a repeat of at least one), and
  alternations whose branches all need something; anything unusual (``\\Q``,
  octal escapes, unknown group syntax) gives None. Pieces hold only characters
  that stand for themselves inside a JSON string (no ``"``, ``\\``, control
  characters), so a piece's UTF-8 bytes appear verbatim in a log line whose
  text holds it. With ``-i`` pieces hold only ASCII characters whose case
  variants are ASCII too (not ``i``, ``k``, ``s``), lower-cased, and are
  compared with the lower-cased line. Pieces shorter than `MIN_PIECE` are
  dropped, and so are pieces that could come from text search adds itself
  (``[image]`` in flattened tool results).
"""

from __future__ import annotations

import re
from typing import Any

import re2

from p8j.journal.cache.search_index import Need
from p8j.journal.errors import PatternError

__all__ = ["MIN_PIECE", "PatternError", "SearchPattern", "unicode_classes"]

MIN_PIECE = 3
# Text that search itself puts between parts (content.py's flattened tool results).
_SYNTHETIC = "[image]"
# Escapes that stand for one literal character.
_CONTROL_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
# Escapes that are classes or assertions (a literal run ends there).
_CLASS_ESCAPES = frozenset("dDwWsSbBAzC")
_UNSUPPORTED = (
    ("(?=", "lookahead"),
    ("(?!", "negative lookahead"),
    ("(?<=", "lookbehind"),
    ("(?<!", "negative lookbehind"),
    ("(?P=", "a named backreference"),
)


# Python's \s for str patterns: the characters str.isspace() accepts.
_SPACE = (
    "\\t\\n\\x0b\\f\\r\\x{1c}-\\x{1f} \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}"
    "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
)
# Python's Unicode \d, \w, \s in RE2 syntax (RE2's own are ASCII-only), outside a class...
_OUTSIDE = {
    "d": "\\p{Nd}",
    "D": "\\P{Nd}",
    "w": "[\\p{L}\\p{N}_]",
    "W": "[^\\p{L}\\p{N}_]",
    "s": f"[{_SPACE}]",
    "S": f"[^{_SPACE}]",
}
# ... and inside one (RE2 cannot negate a class inside a class: \W and \S stay ASCII there).
_INSIDE = {"d": "\\p{Nd}", "D": "\\P{Nd}", "w": "\\p{L}\\p{N}_", "s": _SPACE}


def unicode_classes(text: str) -> str:
    """`text` with \\d, \\w, \\s (and negations) spelled as Python's Unicode classes for RE2."""
    out: list[str] = []
    i = 0
    in_class = False
    class_start = -1  # index where a class's members begin (a "]" there is a member)
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            e = text[i + 1]
            table = _INSIDE if in_class else _OUTSIDE
            if e in table:
                out.append(table[e])
            elif e == "Q" and not in_class:  # \Q...\E: literal text, copied as is
                end = text.find("\\E", i + 2)
                end = len(text) if end < 0 else end + 2
                out.append(text[i:end])
                i = end
                continue
            else:
                out.append(text[i : i + 2])
            i += 2
            continue
        if in_class:
            if text.startswith("[:", i):
                end = text.find(":]", i + 2)
                if end >= 0:
                    out.append(text[i : end + 2])
                    i = end + 2
                    continue
            if c == "]" and i != class_start:
                in_class = False
        elif c == "[":
            in_class = True
            class_start = i + 2 if text.startswith("^", i + 1) else i + 1
        out.append(c)
        i += 1
    return "".join(out)


class _GiveUp(Exception):
    """The pattern uses syntax the literal reader does not follow: no need."""


def _safe(ch: str, ignore_case: bool) -> bool:
    if ch in '"\\' or ord(ch) < 0x20:
        return False
    if ignore_case:
        return ch.isascii() and ch.lower() not in "iks"
    return True


class _Reader:
    """A conservative recursive-descent reader of RE2 syntax that collects required literals."""

    def __init__(self, text: str, ignore_case: bool) -> None:
        self.text = text
        self.pos = 0
        self.ci = ignore_case

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def alternation(self) -> Need | None:
        branches = [self.concat()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.concat())
        if len(branches) == 1:
            return branches[0]
        if any(b is None for b in branches):
            return None
        return ("or", tuple(b for b in branches if b is not None))

    def concat(self) -> Need | None:
        needs: list[Need] = []
        run: list[str] = []
        while self.peek() not in ("", "|", ")"):
            literal, sub = self.atom()
            low = self.quantifier()
            if literal is not None:
                if low == 0:
                    needs.extend(self.pieces(run))
                    run = []
                    continue
                run.append(literal)
                if low is None:
                    continue
            needs.extend(self.pieces(run))
            run = []
            if sub is not None and (low is None or low >= 1):
                needs.append(sub)
        needs.extend(self.pieces(run))
        if not needs:
            return None
        return needs[0] if len(needs) == 1 else ("and", tuple(needs))

    def pieces(self, run: list[str]) -> list[Need]:
        out: list[Need] = []
        current: list[str] = []
        for ch in [*run, "\n"]:
            if _safe(ch, self.ci):
                current.append(ch.lower() if self.ci else ch)
                continue
            piece = "".join(current)
            current = []
            synthetic = _SYNTHETIC.lower() if self.ci else _SYNTHETIC
            if len(piece) >= MIN_PIECE and piece not in synthetic:
                out.append(piece)
        return out

    def quantifier(self) -> int | None:
        """The minimum count of a quantifier here (consumed), or None if there is none."""
        ch = self.peek()
        low: int | None = None
        if ch in ("*", "?"):
            low, self.pos = 0, self.pos + 1
        elif ch == "+":
            low, self.pos = 1, self.pos + 1
        elif ch == "{":
            end = self.text.find("}", self.pos)
            body = self.text[self.pos + 1 : end] if end > 0 else ""
            first = body.split(",", 1)[0]
            if not first.isdigit() or not all(p.isdigit() or p == "" for p in body.split(",")):
                return None  # RE2 reads a "{" that starts no repeat as a literal
            if body.count(",") > 1:
                return None
            low, self.pos = int(first), end + 1
        if low is not None and self.peek() in ("?", "+"):
            self.pos += 1
        return low

    def atom(self) -> tuple[str | None, Need | None]:
        """(a literal character, or the need of a group); (None, None) for anything else."""
        ch = self.peek()
        self.pos += 1
        if ch == "\\":
            return self.escape(), None
        if ch == "[":
            self.skip_class()
            return None, None
        if ch == "(":
            return None, self.group()
        if ch in ".^$":
            return None, None
        if ch in "*+?{":
            if ch == "{":
                return "{", None
            raise _GiveUp
        return ch, None

    def escape(self) -> str | None:
        ch = self.peek()
        self.pos += 1
        if ch == "" or ch.isdigit() or ch in "QEgGkKxXuUNo":
            if ch == "x":
                return self.hex_escape()
            raise _GiveUp
        if ch in _CONTROL_ESCAPES:
            return _CONTROL_ESCAPES[ch]
        if ch in "pP":
            if self.peek() == "{":
                end = self.text.find("}", self.pos)
                if end < 0:
                    raise _GiveUp
                self.pos = end + 1
            else:
                self.pos += 1
            return None
        if ch in _CLASS_ESCAPES:
            return None
        if ch.isalnum():
            raise _GiveUp
        return ch

    def hex_escape(self) -> str:
        if self.peek() == "{":
            end = self.text.find("}", self.pos)
            digits = self.text[self.pos + 1 : end] if end > 0 else ""
            self.pos = end + 1
        else:
            digits = self.text[self.pos : self.pos + 2]
            self.pos += 2
        try:
            return chr(int(digits, 16))
        except (ValueError, OverflowError):
            raise _GiveUp from None

    def skip_class(self) -> None:
        i = self.pos
        if self.text.startswith("^", i):
            i += 1
        if self.text.startswith("]", i):
            i += 1
        while i < len(self.text):
            c = self.text[i]
            if c == "\\":
                i += 2
                continue
            if self.text.startswith("[:", i):
                end = self.text.find(":]", i + 2)
                if end < 0:
                    raise _GiveUp
                i = end + 2
                continue
            if c == "]":
                self.pos = i + 1
                return
            i += 1
        raise _GiveUp

    def group(self) -> Need | None:
        if self.text.startswith("?", self.pos):
            rest = self.text[self.pos + 1 :]
            if rest.startswith(":"):
                self.pos += 2
            elif rest.startswith(("P<", "<")):
                end = self.text.find(">", self.pos)
                if end < 0:
                    raise _GiveUp
                self.pos = end + 1
            else:
                flags = rest.split(")", 1)[0].split(":", 1)[0]
                if not flags or not all(c in "imsU-" for c in flags):
                    raise _GiveUp
                self.pos += 1 + len(flags)
                if self.peek() == ")":  # (?i): flags for the rest of the pattern
                    self.pos += 1
                    return None
                self.pos += 1  # ":"
        need = self.alternation()
        if self.peek() != ")":
            raise _GiveUp
        self.pos += 1
        return need


def _folds(text: str, ignore_case: bool) -> bool:
    """True if any part of the pattern matches case-insensitively (``-i`` or an ``i`` flag)."""
    return ignore_case or any(
        "i" in m.split(")", 1)[0].split(":", 1)[0] for m in text.split("(?")[1:]
    )


def _need(text: str, fold: bool) -> Need | None:
    # A case-insensitive part anywhere makes the whole reading case-insensitive (fewer pieces).
    reader = _Reader(text, fold)
    try:
        need = reader.alternation()
    except _GiveUp:
        return None
    return need if reader.pos == len(text) else None


def _explain(text: str, exc: Exception) -> str:
    """Why RE2 refused `text`, naming the Python-only syntax when that is the reason."""
    reason = exc.args[0] if exc.args else str(exc)
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    for syntax, what in _UNSUPPORTED:
        if syntax in text:
            return f"{what} ({syntax}...) is not supported: p8j matches with RE2 ({reason})"
    if re.search(r"\\[1-9]", text):
        return f"backreferences are not supported: p8j matches with RE2 ({reason})"
    if "\\Z" in text:
        return f"not a valid regular expression: {reason} (RE2 spells end of text \\z)"
    return f"not a valid regular expression: {reason}"


class SearchPattern:
    """A compiled user pattern (RE2) and what every match must contain."""

    def __init__(self, text: str, ignore_case: bool = False) -> None:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise PatternError(
                "the pattern is not valid UTF-8 text (a byte sequence from another encoding?)"
            ) from None
        options = re2.Options()
        options.case_sensitive = not ignore_case
        options.log_errors = False
        options.never_capture = True  # only the whole match is used: faster
        try:
            self._regex: Any = re2.compile(unicode_classes(text), options)
        except re2.error as exc:
            raise PatternError(_explain(text, exc)) from exc
        self.text = text
        self.ignore_case = ignore_case
        # Pieces are lower-cased and must be looked for regardless of case when any part
        # of the pattern folds case, whatever the -i flag says.
        self.fold = _folds(text, ignore_case)
        self.need: Need | None = _need(text, self.fold)
        self._empty = self._regex.search("") is not None  # it matches the empty string

    def first_and_count(self, texts: list[str]) -> tuple[str, int, int, int] | None:
        """The text holding the first match, its span (characters), and all texts' match count.

        Matches are counted on the UTF-8 bytes (the wrapper's per-match work is half
        that of str input); a match spans whole characters there, so the count is
        the same, except for a pattern that matches the empty string in non-ASCII
        text (one empty match per byte instead of per character): that is counted
        on the str.
        """
        first: tuple[str, bytes, int, int] | None = None
        count = 0
        for text in texts:
            if self._empty and not text.isascii():
                for m in self._regex.finditer(text):
                    if first is None:
                        first = (text, b"", m.start(), m.end())
                    count += 1
                continue
            data = text.encode("utf-8", "surrogatepass")
            for m in self._regex.finditer(data):
                if first is None:
                    first = (text, data, m.start(), m.end())
                count += 1
        if first is None:
            return None
        text, data, start, end = first
        if data and not text.isascii():
            start, end = _chars(data, start), _chars(data, end)
        return text, start, end, count

    def search(self, text: str) -> Any:
        """The first match in `text`, or None."""
        return self._regex.search(text)


def _chars(data: bytes, offset: int) -> int:
    """The character offset of byte `offset` in UTF-8 `data`."""
    return len(data[:offset].decode("utf-8", "surrogatepass"))
