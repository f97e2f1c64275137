"""One session's redaction in record order: `RedactStream`, and which event fields it covers.

Contract:
- Every string an event carries from its caller is redacted before the event
  is encoded: the fields named in `REDACTED_FIELDS` for its type, every string
  inside them (lists and dicts at any depth) and every dict key. A key that is
  a secret becomes the marker; two keys made equal keep apart as ``key#2``
  (see jsontree.py). A structure keeps its shape, so a redacted event is
  still valid; a value that was clean comes back as the same object.
- Split secrets: free texts (message content, commands, output, metadata
  values...) are redacted in record order, keeping the last `CARRY_CHARS`
  characters of the text before (in memory only). A secret that starts there
  and runs into the next text is caught in the next one. A text holding none
  of the gate characters, after a carry holding none either, runs no rule; a
  list or dict whose texts (joined in order after the carry) and keys hold no
  rule's candidate (prefilter.py) is passed over after one RE2 set pass, and
  so is a whole message (`message`: its content and other fields at once).
- Labels (`LABEL_FIELDS`: project name, cwd, role, reasons, timestamps given
  as text) and dict keys are judged alone: a name never joins the texts
  around it, so it neither hides nor invents a secret split between two texts.
- `take()` hands over the sorted, distinct rule ids fired since the last take:
  what the event's ``redactions`` lists.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from ..jsontree import Path, TreeRewriter, distinct_key
from .engine import Redactor
from .rules import MARKER_PREFIX, marker

__all__ = [
    "CARRY_CHARS",
    "LABEL_FIELDS",
    "PLAIN_ROLES",
    "REDACTED_FIELDS",
    "RedactStream",
    "StreamTree",
]

# Message roles agents use: names, never secrets, so recording skips checking them.
PLAIN_ROLES = frozenset({"user", "assistant", "system", "tool", "developer", "function"})

CARRY_CHARS = 128
# Values `_gather` passes over (they hold no text): not even a call.
_SCALARS = frozenset({int, float, bool, type(None)})
# A structure holding this many characters, most of them in one text: that text is judged
# on its own (`Redactor.text`, with its carry), the rest in one set pass that holds only the
# end of it, so the long text is read once even when it holds a candidate.
_ONE_TEXT_FROM = 4096

# The caller-given fields redacted in each event type (by name; see events.py), in the
# order they are written.
REDACTED_FIELDS: dict[str, tuple[str, ...]] = {
    "SessionStarted": ("project_name", "metadata", "cwd", "origin"),
    "MessageRecorded": ("role", "content", "extra", "origin"),
    "CommandRecorded": ("command", "cwd", "input", "origin"),
    "ExecutionRecorded": ("command", "output", "started_at", "stderr", "result", "origin"),
    "MetadataUpdated": ("changes",),
    "SessionPaused": ("reason",),
    "SessionResumed": ("reason",),
    "SessionEnded": ("reason",),
    "SessionTitled": ("title", "origin"),
    "SessionCompacted": ("summary", "replacement", "origin"),
    "UsageRecorded": ("origin",),
    "RecordImported": ("record", "origin"),
}
LABEL_FIELDS = frozenset({"project_name", "cwd", "role", "reason", "started_at"})


def _carry(s: str) -> str:
    """What the stream keeps of `s` for the text after it (see `RedactStream._advance`)."""
    tail = s[-CARRY_CHARS:]
    return "" if MARKER_PREFIX in tail else tail


class StreamTree(TreeRewriter):
    """Walks a value for a stream: texts in order, keys alone, secret-named fields."""

    def __init__(self, stream: RedactStream) -> None:
        self.stream = stream

    def string(self, s: str, path: Path) -> Any:
        """A text inside a value: redacted in order, with the carry."""
        return self.stream.text(s)

    def key(self, k: str, path: Path) -> Any:
        """A dict key: redacted alone."""
        return self.stream.label(k)

    def entry(self, d: dict[Any, Any], k: Any, item: Any, path: Path) -> Any:
        """A dict item: a string under a secret's name is redacted whole."""
        if isinstance(item, str) and isinstance(k, str):
            stream = self.stream
            rid = stream.redactor.fields(k, item)
            if rid is None:
                return self.string(item, path)
            stream.fired.append(rid)
            stream.carry, stream.quiet = "", True
            return marker(rid)
        return self.value(item, path)


class RedactStream:
    """Redacts one session's texts in record order, catching secrets split between them."""

    __slots__ = ("_calm", "carry", "fired", "redactor", "tree")

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.carry = ""
        # `quiet`, or None until asked: most carries are replaced before anyone asks.
        self._calm: bool | None = True
        self.fired: list[str] = []
        self.tree = StreamTree(self)

    @property
    def quiet(self) -> bool:
        """True if the carry holds none of the gate characters."""
        calm = self._calm
        if calm is None:
            calm = self._calm = self.redactor._quiet(self.carry)
        return calm

    @quiet.setter
    def quiet(self, value: bool) -> None:
        self._calm = value

    def reset(self) -> None:
        """Forget the previous text (a new or resumed session starts here)."""
        self.carry = ""
        self._calm = True
        self.fired = []

    def take(self) -> list[str]:
        """The sorted, distinct rule ids fired since the last take()."""
        fired, self.fired = self.fired, []
        return sorted(set(fired)) if fired else []

    def text(self, s: str) -> str:
        """Redact one text, scanning it together with the end of the previous one."""
        red = self.redactor
        if self.quiet and red._quiet(s):
            # Every match holds a gate character: with none in the carry nor in `s`, no
            # rule matches in `s`, alone or across the boundary (most prose ends here).
            tail = s[-CARRY_CHARS:]
            self.carry = "" if MARKER_PREFIX in tail else tail
            return s
        out = red.text(s, self.fired, prefix=self.carry)
        # A carry holding a marker comes from text redacted before: what a first pass
        # joined across this boundary is already decided, so a second pass does not
        # look across it again (that keeps redaction idempotent).
        self._advance(s)
        return out

    def _advance(self, s: str) -> None:
        """Keep the end of `s` as the carry (after `s` was redacted, or found clean)."""
        tail = s[-CARRY_CHARS:]
        if MARKER_PREFIX in tail:
            self.carry, self._calm = "", True
        else:
            self.carry, self._calm = tail, None

    def label(self, s: str) -> str:
        """Redact a name (a key, a project name, a reason) on its own; the carry stays."""
        return self.redactor.name(s, self.fired)

    def fields(self, fields: dict[str, Any], names: tuple[str, ...]) -> list[str]:
        """Redact `fields[name]` in place for each of `names`; return the rule ids that fired."""
        for name in names:
            value = fields.get(name)
            # None and "" hold nothing, and skipping them here and in scan.py alike keeps
            # the carry between texts the same whichever path redacts a record.
            if value is not None and value != "":
                fields[name] = self.field(name, value)
        return self.take()

    def field(self, name: str, value: Any) -> Any:
        """Redact the value of an event's field `name` (a label alone, else in order)."""
        if name in LABEL_FIELDS and type(value) is str:
            return self.label(value)
        return self._walk(value)

    def value(self, v: Any, fired: list[str] | None = None) -> Any:
        """Redact every string inside `v`; returns `v` itself when nothing changed."""
        if fired is None and type(v) is str:
            return self.text(v)  # the common case, one call shorter
        if fired is not None:
            saved, self.fired = self.fired, fired
            try:
                return self._walk(v)
            finally:
                self.fired = saved
        return self._walk(v)

    def _walk(self, v: Any) -> Any:
        """`self.tree.value(v)`: a structure with nothing to redact costs one set pass."""
        if type(v) is not str and self._clean([v], ()):
            return v
        return self._each(v)

    def message(
        self, role: str, content: Any, extra: dict[str, Any]
    ) -> tuple[str, Any, dict[str, Any], list[str]]:
        """(role, content, extra, rule ids fired): what recording a message redacts.

        The role is a label (the usual ones are never checked), then the content
        (unless UNSET) and the extra fields in order, as `label` and `value` would
        each: one set pass for all of them when nothing is to be redacted.
        """
        if role not in PLAIN_ROLES:
            role = self.label(role)
        if not extra and type(content) is str and self.quiet and self.redactor._quiet(content):
            # The usual message, one text of prose: with no gate character in it nor in
            # the carry, no rule can match (as in `text`), and a few memchrs say so where
            # the set pass below costs several times that (+46% per message before).
            tail = content[-CARRY_CHARS:]
            self.carry = "" if MARKER_PREFIX in tail else tail
            return role, content, extra, self.take()
        values = [extra] if content is UNSET else [content, extra]
        if not self._clean(values, ()):
            if content is not UNSET:
                content = self._each(content)
            if extra:
                extra = self._each(extra)
        return role, content, extra, self.take()

    def clean_all(self, values: list[Any], names: list[str]) -> bool:
        """True (the stream moved on past them) if nothing in `values` nor `names` is redacted.

        `values` are walked in order as `value` walks each (texts joined to the
        carry), `names` are judged alone as `label` judges each: one set pass over
        all of them (an event's fields at once), exact for the reason `_clean` is.
        False leaves the stream as it was: the caller takes the long way.
        """
        return self._clean(values, names)

    def _clean(self, values: list[Any], labels: list[str] | tuple[()]) -> bool:
        """True (the stream moved on past them) if no text, key or field of `values` is redacted.

        One pass of the redactor's set over the carry and the values' texts in
        order (so every text, and every carry joined to the text after it, is a
        part of it), then their keys and `labels`, each after a line break (no
        candidate holds one). With no candidate there, each text and key comes
        back as itself, as `_each` would find one by one; a secret-named field,
        a lone surrogate or a type other than plain JSON sends them the long way
        (False, the stream unchanged). Keys the redactor remembers as clean names
        are left out, and those found clean are remembered. Mostly one long text:
        in the blob, only its last `CARRY_CHARS` characters (the carry of the text
        after it); the text itself is redacted alone after its own carry, as
        `text` would, and must come back unchanged with nothing fired.
        """
        red = self.redactor
        rset = red._set
        if rset is None:
            return False
        texts: list[str] = [self.carry]  # the blob's pieces: the carry, then each text
        keys: list[str] = []
        gather = self._gather
        for v in values:
            if type(v) is str:
                texts.append(v)
            elif not gather(v, texts, keys):
                return False
        n = len(texts)
        size = sum(map(len, texts)) - len(texts[0])
        big = before = ""
        if size > _ONE_TEXT_FROM:
            lengths = list(map(len, texts))
            longest = max(lengths[1:])
            if 2 * longest > size:
                at = lengths.index(longest, 1)
                big, before = texts[at], texts[at - 1]
                # Its carry, as `_advance` leaves it after the text before.
                before = before if at == 1 else _carry(before)
                texts[at] = big[-CARRY_CHARS:]
        # A line break before each name: no candidate holds one, so none spans two.
        if labels:
            texts.append("\n" + "\n".join(labels))
        if keys:
            texts.append("\n" + "\n".join(keys))
        if rset.hits("".join(texts)) != []:
            return False
        if big:
            fired: list[str] = []
            if red.text(big, fired, prefix=before) is not big or fired:
                return False
        if keys:
            # Each key alone holds no candidate either: `label` would pass it over.
            red.remember_clean(keys)
        if n > 1:
            self._advance(texts[n - 1])
        return True

    def _gather(self, v: Any, texts: list[str], names: list[str]) -> bool:
        """Collect the texts and keys of `v` in walk order; False if `v` needs the long way."""
        kind = type(v)
        if kind is list:
            for item in v:
                kind = type(item)
                if kind is str:  # inlined: most items are
                    texts.append(item)
                elif kind not in _SCALARS and not self._gather(item, texts, names):
                    return False
        elif kind is dict:
            red = self.redactor
            if red.plain_names.issuperset(v):
                # Every key a name known clean, under which no value is a secret: the values.
                for item in v.values():
                    kind = type(item)
                    if kind is str:
                        texts.append(item)
                    elif kind not in _SCALARS and not self._gather(item, texts, names):
                        return False
                return True
            known = red._clean  # names `label` passes over: no need to look again
            plain = red._field_cache  # 0: a name `fields` never redacts under
            for k, item in v.items():
                kind = type(item)
                if type(k) is str:
                    if k not in known:
                        names.append(k)
                    if kind is str:
                        if plain.get(k) != 0 and red.fields(k, item) is not None:
                            return False
                        texts.append(item)
                        continue
                elif isinstance(k, str):
                    return False
                if kind is str:
                    texts.append(item)
                elif kind not in _SCALARS and not self._gather(item, texts, names):
                    return False
        elif kind is str:
            texts.append(v)
        else:
            return not isinstance(v, (str, list, dict))
        return True

    def _each(self, v: Any) -> Any:
        """`self.tree.value(v)` with StreamTree's hooks inlined for plain lists and dicts.

        The same walk (texts in order, keys alone, secret-named fields), without a
        method call per hook: what recording pays for every message's structure.
        """
        kind = type(v)
        if kind is str:
            return self.text(v)
        if kind is list:
            out: list[Any] | None = None
            for i, item in enumerate(v):
                new = self._each(item)
                if new is not item:
                    if out is None:
                        out = list(v)
                    out[i] = new
            return v if out is None else out
        if kind is dict:
            return self._walk_dict(v)
        return self.tree.value(v)  # subclasses and scalars, as the tree walks them

    def _walk_dict(self, v: dict[Any, Any]) -> dict[Any, Any]:
        """`TreeRewriter._dict` with `StreamTree.key` and `StreamTree.entry` inlined."""
        red = self.redactor
        dout: dict[Any, Any] | None = None
        keys: list[Any] | None = None
        for i, (k, item) in enumerate(v.items()):
            if isinstance(k, str):
                new_k = red.name(k, self.fired)
                if new_k is not k:
                    if keys is None:
                        keys = list(v)
                    keys[i] = new_k
                if isinstance(item, str):
                    rid = red.fields(k, item)
                    if rid is None:
                        new = self.text(item)
                    else:
                        self.fired.append(rid)
                        self.carry, self.quiet = "", True
                        new = marker(rid)
                else:
                    new = self._each(item)
            else:
                new = self._each(item)
            if new is not item:
                if dout is None:
                    dout = dict(v)
                dout[k] = new
        if keys is not None:
            values = v if dout is None else dout
            rebuilt: dict[Any, Any] = {}
            for new_k, item in zip(keys, values.values(), strict=True):
                rebuilt[distinct_key(new_k, rebuilt)] = item
            return rebuilt
        return v if dout is None else dout
