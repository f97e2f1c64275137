"""Write-time secret redaction: built-in rules, a cheap prefilter, and user configuration.

Contract:
- `Redactor.text` returns its input with every secret a rule finds replaced by
  the marker ``[REDACTED:<rule-id>]`` (only the secret part: ``export
  GITHUB_TOKEN=`` and ``https://user:`` stay readable). Rules run in a fixed
  order, specific formats first, the generic high-entropy rule last.
- Idempotent: a marker is never matched again, and a text is passed over until
  nothing changes, so redacting redacted text changes nothing. Strings stay
  strings and structures keep their shape: a redacted event is still valid.
  Besides text rules, a string field whose name says it is a secret
  (``password``, ``api_key``, ``client_secret``...) is redacted as
  ``secret-field`` (for token-like names, only if the value looks random).
- Linear time: every built-in pattern starts with a literal and bounds each
  repetition by what can follow it, so no input makes a rule backtrack
  quadratically (tests run each rule on 1 MB adversarial inputs). User patterns
  run as written: keep them linear too.
- Cheap when there is nothing to find: a rule runs on a text only if the text
  holds one of the rule's gate characters (an ``in`` test, a memchr) and, on a
  text of up to 1 kB, one of the literals every match of the rule holds
  (``sk-``, ``eyJ``); then the literal-first pattern itself is the search. A
  text with none of the built-in gate characters (most prose; eleven memchr
  calls) runs no rule, and in a session, when the carried tail of the text
  before has none either, no split-secret check. A user rule is gated by a
  character of each of its keywords; one without keywords (or with a
  case-insensitive keyword of letters only) runs on every text and turns that
  shortcut off.
- Split secrets: `RedactStream` redacts a session's texts in record order,
  keeping the last `CARRY_CHARS` characters of the text before (in memory
  only). A secret that starts there and runs into the next text is caught in
  the next one (its part there becomes the marker); everything else in a text
  is judged on that text alone.
- Configuration: ``<home>/redact.json`` (optional; owner-only, read when a
  `SessionManager` or `p8j scan`/`p8j redact` starts)::

      {
        "rules": [{"id": "acme-token", "pattern": "acme_[0-9a-f]{32}", "keywords": ["acme_"]}],
        "allow": ["tok_fixture_for_tests_only"],
        "allow_patterns": ["^sk-test-fixture-"],
        "disable": ["generic-secret"]
      }

  ``rules`` add patterns (a group named ``secret`` limits what is replaced;
  ``keywords`` are literals at least one of which every match contains, used as
  the prefilter; without keywords the pattern runs on every text; set
  ``"ignore_case": true`` to compare keywords case-insensitively). ``allow``
  lists exact secrets never to redact, ``allow_patterns`` regular expressions a
  whole secret may match to be kept, ``disable`` built-in rule ids to turn off.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import string
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from ..errors import JournalIOError, RedactConfigError, UnsafePathError

__all__ = [
    "BUILTIN_RULE_IDS",
    "CARRY_CHARS",
    "CONFIG_NAME",
    "ENV_VAR",
    "MARKER_PREFIX",
    "REDACTED_FIELDS",
    "RedactConfig",
    "RedactConfigError",
    "RedactStream",
    "Redactor",
    "Rule",
    "UserRule",
    "default_redactor",
    "load_config",
    "marker",
    "redaction_enabled",
]

ENV_VAR = "P8J_REDACT"
CONFIG_NAME = "redact.json"
MARKER_PREFIX = "[REDACTED:"
CARRY_CHARS = 128
_CONFIG_MAX_BYTES = 1 << 20
_ID_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def marker(rule_id: str) -> str:
    """The text that replaces a secret found by `rule_id`."""
    return f"{MARKER_PREFIX}{rule_id}]"


def redaction_enabled(env: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """False if ``P8J_REDACT`` is set to 0/false/no/off, else True."""
    value = (os.environ if env is None else env).get(ENV_VAR, "")
    return value.strip().lower() not in ("0", "false", "no", "off")


# -- validators: does a candidate look like a real secret? ------------------------------------


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


_PLACEHOLDER_CHARS = "*xX._-\u2022"


_PLACEHOLDER_WORDS = ("your", "example", "placeholder", "changeme", "redacted", "dummy", "<")


def _placeholder(v: str) -> bool:
    """True for values that name or stand for a secret instead of being one."""
    if not v or v.startswith(("$", "%", "<", "{{", "${", "#{", MARKER_PREFIX)):
        return True
    if v.endswith(("...", "\u2026")) or not v.strip(_PLACEHOLDER_CHARS):
        return True
    low = v.lower()
    return any(w in low for w in _PLACEHOLDER_WORDS)


_DIGIT = re.compile(r"[0-9]")
_LOWER = re.compile(r"[a-z]")
_UPPER = re.compile(r"[A-Z]")
_ALPHA = re.compile(r"[A-Za-z]")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_TOKEN_RE = re.compile(r"[A-Za-z0-9+/=_.~-]+")


def _mixed(s: str) -> bool:
    """Upper case, lower case and a digit: what a random base62 token almost always has."""
    return bool(_DIGIT.search(s) and _LOWER.search(s) and _UPPER.search(s))


def _upper_and_lower(s: str) -> bool:
    return bool(_LOWER.search(s) and _UPPER.search(s))


def _tokenish(s: str) -> bool:
    """A bearer/authorization credential: not a placeholder, and not a plain word."""
    if _placeholder(s):
        return False
    if _DIGIT.search(s) and _ALPHA.search(s):
        return True
    return len(s) >= 20 and _upper_and_lower(s)


def high_entropy(v: str) -> bool:
    """True if `v` looks like a random credential (hex >= 16 or base64-ish >= 16 chars)."""
    if len(v) < 16 or _placeholder(v) or v.startswith(("/", "./", "~/", "http")):
        return False
    if not (_DIGIT.search(v) and _ALPHA.search(v)):
        return False
    # Entropy >= 3.0 / 3.5 bits needs at least 8 / 12 distinct characters: a cheap first test.
    distinct = len(set(v))
    if _HEX_RE.fullmatch(v):
        return distinct >= 8 and _entropy(v) >= 3.0
    if distinct < 12 or not _TOKEN_RE.fullmatch(v):
        return False
    return _entropy(v) >= 3.5


def _random_part(s: str) -> bool:
    """A piece of a token rather than a word: digits and letters, or no letters at all."""
    if not _ALPHA.search(s):
        return True
    return bool(_DIGIT.search(s))


_CROSS_WINDOW = 4096
# How far into the next text the split-secret check looks for a rule's gate character
# and literal: past a literal that starts in the carry, and past the END line after
# fewer than 64 body characters of a private key (more are caught in that text alone).
_CROSS_GATE = 128
_TOKEN_EDGE = frozenset(string.ascii_letters + string.digits + "_-+/=")
_SCHEMES = ("Bearer", "BEARER", "bearer", "Basic", "basic", "Token", "token")
_AWAIT_END = frozenset(" \t\"':")


def _may_cross(prefix: str, s: str) -> bool:
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


def _nonempty_secret(v: str) -> bool:
    return len(v) >= 3 and not _placeholder(v)


def _flag_value(v: str) -> bool:
    return not _placeholder(v)


def _spaced_flag_value(v: str) -> bool:
    """`--password VALUE`: only if VALUE is not a plain word (prose says "--password flag")."""
    return not _placeholder(v) and not v.startswith("-") and not v.isalpha()


# -- rules -----------------------------------------------------------------------------------

Finder = Callable[[str], Iterator[tuple[int, int]]]


@dataclass(frozen=True)
class Rule:
    """One redaction rule: a regular expression (or finder) behind a cheap prefilter.

    The rule runs on a text only if it holds one of the `gate` characters (a
    memchr each; "" for no gate) and, when given, one of `keywords`; every match
    must hold both. `literals` (built-in rules) are a finer prefilter for short
    texts: every match holds one near its start. For a secret split between two
    texts, all three are looked for in the first text's tail plus the start of
    the second (`_CROSS_GATE`). `groups` names the group holding the secret (0: the
    whole match, widened `back` characters to the left); with several groups
    they are alternatives and the one that matched is used. `check` vets the
    secret, `name_check(text, match_start)` what precedes it.
    """

    id: str
    gate: str
    pattern: re.Pattern[str] | None = None
    keywords: tuple[str, ...] = ()
    ignore_case: bool = False
    groups: tuple[int | str, ...] = (0,)
    back: int = 0
    check: Callable[[str], bool] | None = field(default=None, compare=False)
    name_check: Callable[[str, int], bool] | None = field(default=None, compare=False)
    finder: Finder | None = field(default=None, compare=False)
    literals: tuple[str, ...] = ()

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """(start, end) of every secret this rule finds in `text`, left to right."""
        for _, start, end in self.matches(text):
            yield start, end

    def matches(self, text: str) -> Iterator[tuple[int, int, int]]:
        """(match start, secret start, secret end) of every secret found, left to right."""
        if self.finder is not None:
            for start, end in self.finder(text):
                yield start, start, end
            return
        assert self.pattern is not None
        check, name_check, back = self.check, self.name_check, self.back
        alternatives = len(self.groups) > 1
        group = self.groups[0]
        for m in self.pattern.finditer(text):
            if alternatives:
                if m.lastindex is None:
                    continue
                start, end = m.span(m.lastindex)
            else:
                start, end = m.span(group)
                start -= back
            if end <= start:
                continue
            secret = text[start:end]
            if MARKER_PREFIX in secret:
                continue
            if check is not None and not check(secret):
                continue
            if name_check is not None and not name_check(text, m.start()):
                continue
            yield m.start(), start, end


# A value after `=`/`:`: double-quoted, JSON-escaped-quoted (\"...\"), single-quoted or bare.
# Exactly one of its four groups matches, and they are the last groups of any pattern using it.
def _value(least: int) -> str:
    n = f"{{{least},4096}}"
    return (
        rf'(?:"([^"\n]{n})"'
        rf'|\\"((?:[^"\\\n]|\\[^"\n]){n}?)\\"'
        rf"|'([^'\n]{n})'"
        rf"|([^\s\"'\\`;&|<>(){{}}\[\],]{n}))"
    )


_VALUE = _value(1)
_VALUE16 = _value(16)
_VALUE_GROUPS = (1, 2, 3, 4)
_BARE = r"[^\s\"'\\`;&|<>(){}\[\],]{1,4096}"

_ENV_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIALS", "CREDENTIAL")
_ENV_SUFFIXES = tuple("_" + w for w in (*_ENV_WORDS, "KEY", "PASS", "PWD", "AUTH", "APIKEY"))
_NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"


def _env_name_ok(text: str, eq: int) -> bool:
    """`eq` is the `=`: the name before it must be an UPPER_CASE env name ending in a secret word.

    GITHUB_TOKEN=, AWS_SECRET_ACCESS_KEY=, PASSWORD= qualify; KEY= alone, PWD=, my_TOKEN=
    do not.
    """
    lo = max(0, eq - 128)
    seg = text[lo:eq]
    start = lo + len(seg.rstrip(_NAME_CHARS))
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        return False  # part of a lower-case or longer name
    name = text[start:eq]
    return name in _ENV_WORDS or name.endswith(_ENV_SUFFIXES)


_GENERIC_WORDS = (
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "credential",
    "credentials",
)
_GENERIC_ENDINGS = (*_GENERIC_WORDS, *(w + "s" for w in _GENERIC_WORDS))


def _generic_name_ok(text: str, op: int) -> bool:
    """`op` is the `=`/`:`: the name before it (quotes and blanks skipped) ends in a secret word.

    A bare ``key`` is not enough (``cache key: ...``, ``key = ...`` name lookups):
    it must end a longer name (``api_key``, ``secretKey``).
    """
    seg = text[max(0, op - 40) : op].rstrip(" \t").rstrip("\"'").rstrip("\\").lower()
    if not seg.endswith(_GENERIC_ENDINGS):
        return False
    word = seg.removesuffix("s") if seg.endswith("keys") else seg
    if word.endswith("key"):
        before = word[-4:-3]
        return before.isalnum() or before in ("_", "-", ".")
    return True


_PEM_END = re.compile(r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\\ \t\r\n:,"


def _pem_tails(text: str) -> Iterator[tuple[int, int]]:
    """A private key's body and END line whose BEGIN line is not in this text (split keys)."""
    floor = 0
    for m in _PEM_END.finditer(text):
        lo = max(floor, m.start() - 65536)
        seg = text[lo : m.start()]
        run = len(seg) - len(seg.rstrip(_PEM_BODY_CHARS))
        floor = m.end()
        if run >= 64:
            yield m.start() - run, m.end()


def _builtin_rules() -> list[Rule]:
    c = re.compile
    # Every pattern starts with a literal, so the engine finds candidates at memchr speed;
    # a look-behind right after the literal checks that it starts a word, so a run of
    # repeated literals is tried once, not at every repetition; every repetition is
    # bounded by a character it cannot contain, so a failed match costs its own length.
    sk_alts = r"(?:proj-|svcacct-|admin-|None-)?"
    return [
        Rule(
            "private-key",
            "V",
            c(
                r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[^-]{0,65536}"
                r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?"
            ),
            literals=("-----BEGIN",),
        ),
        Rule("private-key", "V", literals=("-----END",), finder=_pem_tails),
        Rule("anthropic-api-key", "-", c(r"sk-ant-[A-Za-z0-9_-]{20,}"), literals=("sk-ant-",)),
        Rule(
            "openai-api-key",
            "-",
            c(r"sk-(?<![A-Za-z0-9_-]sk-)" + sk_alts + r"[A-Za-z0-9_-]{20,}"),
            literals=("sk-",),
            check=_mixed,
        ),
        Rule(
            "aws-access-key",
            "K",
            c(r"AKIA(?<![A-Za-z0-9_]AKIA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
            literals=("AKIA",),
        ),
        Rule(
            "aws-access-key",
            "S",
            c(r"ASIA(?<![A-Za-z0-9_]ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
            literals=("ASIA",),
        ),
        Rule(
            "github-token",
            "_",
            c(r"gh[pousr]_(?<![A-Za-z0-9_]gh._)[A-Za-z0-9]{36,255}"),
            literals=("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        ),
        Rule(
            "github-token",
            "_",
            c(r"github_pat_(?<![A-Za-z0-9_]github_pat_)[A-Za-z0-9_]{22,255}"),
            literals=("github_pat_",),
        ),
        Rule(
            "slack-webhook",
            ":",
            c(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_+-]{8,512}"),
            literals=("hooks.slack.com/",),
        ),
        Rule(
            "slack-token",
            "-",
            c(
                r"x(?:ox[abposre]-(?<![A-Za-z0-9_]xox.-)[A-Za-z0-9-]{10,512}"
                r"|app-(?<![A-Za-z0-9_]xapp-)[0-9]-[A-Za-z0-9-]{10,512})"
            ),
            literals=("xox", "xapp-"),
        ),
        Rule(
            "google-api-key",
            "z",
            c(r"AIza(?<![A-Za-z0-9_-]AIza)[0-9A-Za-z_-]{35}"),
            literals=("AIza",),
        ),
        Rule(
            "stripe-key",
            "_",
            c(r"k_(?:live|test)_(?<=[sr]k_...._)(?<![A-Za-z0-9_].k_...._)[0-9A-Za-z]{10,255}"),
            literals=("k_live_", "k_test_"),
            back=1,
            check=_mixed,
        ),
        Rule(
            "stripe-key",
            "_",
            c(r"whsec_(?<![A-Za-z0-9_]whsec_)[A-Za-z0-9+/=]{20,255}"),
            literals=("whsec_",),
        ),
        Rule(
            "huggingface-token",
            "_",
            c(r"hf_(?<![A-Za-z0-9_]hf_)[A-Za-z0-9]{30,255}"),
            literals=("hf_",),
            check=lambda s: _upper_and_lower(s[3:]),
        ),
        Rule(
            "jwt",
            "J",
            c(
                r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{5,8192}"
                r"\.eyJ[A-Za-z0-9_-]{5,16384}\.[A-Za-z0-9_-]{0,8192}"
            ),
            literals=("eyJ",),
        ),
        Rule(
            "bearer-token",
            "B",
            c(
                r"B(?:earer|EARER)(?<![A-Za-z0-9_]......)[ \t]{1,8}"
                r"([A-Za-z0-9._~+/-]{12,4096}=*)"
            ),
            literals=("Bearer", "BEARER"),
            check=_tokenish,
            groups=(1,),
        ),
        *(
            Rule(
                "authorization-header",
                gate,
                c(
                    rf"{word}(?<={lead}{word})(?<![A-Za-z0-9_].{{{len(word) + 1}}})"
                    r"[\"']?[ \t]{0,8}[:=][ \t]{0,8}[\"']?"
                    r"(?:(?:Bearer|bearer|Basic|basic|Token|token|Digest|Negotiate)[ \t]{1,8})?"
                    r"([A-Za-z0-9._~+/-]{8,4096}=*)"
                ),
                literals=(word,),
                groups=(1,),
                check=_tokenish,
            )
            for gate, lead, word in (("z", "[Aa]", "uthorization"), ("Z", "A", "UTHORIZATION"))
        ),
        Rule(
            "url-password",
            ":",
            c(r"://[^\s/?#@:\"'<>\[\]]{1,256}:([^\s/?#@\"'<>\[\]]{1,256})@"),
            literals=("://",),
            groups=(1,),
            check=lambda s: not _placeholder(s),
        ),
        Rule(
            "password-flag",
            "-",
            c(
                r"--(?<![A-Za-z0-9_-]--)"
                r"(?:password|passwd|pass|token|api-key|apikey|secret|client-secret)=" + _VALUE
            ),
            literals=("--",),
            groups=_VALUE_GROUPS,
            check=_flag_value,
        ),
        Rule(
            "password-flag",
            "-",
            c(
                r"--(?<![A-Za-z0-9_-]--)"
                r"(?:password|passwd|pass|token|api-key|apikey|secret|client-secret)"
                r"[ \t]{1,8}(" + _BARE + ")"
            ),
            literals=("--",),
            groups=(1,),
            check=_spaced_flag_value,
        ),
        Rule(
            "secret-assignment",
            "=",
            c(r"=(?<=[A-Z]=)" + _VALUE),
            groups=_VALUE_GROUPS,
            check=_nonempty_secret,
            name_check=_env_name_ok,
        ),
        Rule(
            "generic-secret",
            "=",
            c(r"=>?[ \t]{0,8}" + _VALUE16),
            groups=_VALUE_GROUPS,
            check=high_entropy,
            name_check=_generic_name_ok,
        ),
        Rule(
            "generic-secret",
            ":",
            c(r":=?[ \t]{0,8}" + _VALUE16),
            groups=_VALUE_GROUPS,
            check=high_entropy,
            name_check=_generic_name_ok,
        ),
    ]


BUILTIN_RULE_IDS: tuple[str, ...] = tuple(dict.fromkeys(r.id for r in _builtin_rules()))
_BUILTIN_GATES = "".join(dict.fromkeys(ch for r in _builtin_rules() for ch in r.gate))


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
        pick = next((c for c in pool if c in _BUILTIN_GATES), None)
        if pick is None:
            pick = next((c for c in pool if not c.isalnum()), pool[0])
        gate[pick] = None
    return "".join(gate)


# -- configuration ---------------------------------------------------------------------------


class UserRule(msgspec.Struct, forbid_unknown_fields=True):
    """A pattern a user adds in redact.json."""

    id: str
    pattern: str
    keywords: list[str] = []
    ignore_case: bool = False


class RedactConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The contents of ``<home>/redact.json``."""

    rules: list[UserRule] = []
    allow: list[str] = []
    allow_patterns: list[str] = []
    disable: list[str] = []


_CONFIG_DECODER = msgspec.json.Decoder(RedactConfig)


def load_config(home_path: str | os.PathLike[str]) -> RedactConfig:
    """Read ``<home>/redact.json`` (owner-only, never through a symlink); defaults if absent."""
    path = Path(home_path) / CONFIG_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return RedactConfig()
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            raise UnsafePathError(
                "refusing to read a symlinked redaction config", path=path
            ) from exc
        raise RedactConfigError(f"cannot open: {exc.strerror}", path=path) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError("the redaction config is not a regular file", path=path)
        if st.st_uid != os.geteuid():
            raise UnsafePathError("the redaction config is owned by another user", path=path)
        if st.st_mode & 0o022:
            raise UnsafePathError(
                f"the redaction config is group- or world-writable (mode {st.st_mode & 0o777:o}); "
                f"run: chmod 600 {path}",
                path=path,
            )
        if st.st_size > _CONFIG_MAX_BYTES:
            raise RedactConfigError(f"larger than {_CONFIG_MAX_BYTES} bytes", path=path)
        data = os.read(fd, _CONFIG_MAX_BYTES + 1)
    except OSError as exc:
        raise RedactConfigError(f"cannot read: {exc.strerror}", path=path) from exc
    finally:
        os.close(fd)
    try:
        config = _CONFIG_DECODER.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise RedactConfigError(f"invalid: {exc}", path=path) from exc
    _validate(config, path)
    return config


def _validate(config: RedactConfig, path: Path) -> None:
    for i, r in enumerate(config.rules):
        if not _ID_RE.fullmatch(r.id):
            raise RedactConfigError(
                f"rules[{i}].id {r.id!r} must be lower-case letters, digits, '.', '_' or '-'",
                path=path,
            )
        try:
            compiled = re.compile(r.pattern)
        except re.error as exc:
            raise RedactConfigError(f"rules[{i}] ({r.id}): bad pattern: {exc}", path=path) from exc
        if compiled.fullmatch(""):
            raise RedactConfigError(
                f"rules[{i}] ({r.id}): the pattern matches the empty string", path=path
            )
        if any(not k for k in r.keywords):
            raise RedactConfigError(f"rules[{i}] ({r.id}): an empty keyword", path=path)
    for i, p in enumerate(config.allow_patterns):
        try:
            re.compile(p)
        except re.error as exc:
            raise RedactConfigError(f"allow_patterns[{i}]: bad pattern: {exc}", path=path) from exc
    unknown = sorted(set(config.disable) - set(BUILTIN_RULE_IDS))
    if unknown:
        raise RedactConfigError(
            f"disable names unknown rule ids {unknown}; built-in ids: {list(BUILTIN_RULE_IDS)}",
            path=path,
        )


# -- the engine ------------------------------------------------------------------------------

# Field names whose string value is a secret whatever it looks like, and ones whose value
# is a secret if it looks random.
_PASSWORD_FIELD = re.compile(r"(?:.*[_.-])?(?:password|passwd|passphrase|client[_-]?secret|secret)")
_TOKEN_FIELD = re.compile(
    r"(?:.*[_.-])?(?:token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key"
    r"|auth[_-]?token|credentials?)"
)
_FIELD_CACHE_MAX = 4096
# A rule's literals are tested on texts up to this length only: there an `in` test is
# cheaper than the fixed cost of running the pattern, but on long texts CPython's
# substring search (about 0.6 ns a character for short needles) is slower than the
# pattern's own literal search (about 0.3 ns); 1-4 kB do equally well on real logs.
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
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(_builtin_rules() if rules is None else rules)
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
        self._field_cache: dict[str, int] = {}
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
        rules = [r for r in _builtin_rules() if r.id not in disabled]
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
        hits: list[int] = []
        for ch, plain, tested in self._gates if len(s) <= _LITERALS_UP_TO else self._gates_long:
            if ch in s:  # a memchr
                hits.extend(plain)
                for idx, needs in tested:
                    for k in needs:
                        if k in s:
                            hits.append(idx)
                            break
        if len(hits) > 1:
            hits = sorted(set(hits)) if self._dupes else sorted(hits)
        if self._lowered and hits:
            low = s.lower()
            hits = [
                i
                for i in hits
                if i not in self._lowered or any(k in low for k in self.rules[i].keywords)
            ]
        return hits

    def _quiet(self, s: str) -> bool:
        """True if `s` holds none of the gate characters: no match lies within it."""
        chars = self._chars
        if chars is None:
            return False
        for ch in chars:  # noqa: SIM110 (all() over a generator takes twice as long)
            if ch in s:
                return False
        return True

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
        if prefix and s and _may_cross(prefix, s):
            hit = self._crossing(prefix, s)
            if hit is not None:
                idx, end = hit
                if fired is not None:
                    fired.append(self.rules[idx].id)
                return self._markers[idx] + self._text(s[end:], fired)
        return self._text(s, fired)

    def _text(self, s: str, fired: list[str] | None) -> str:
        """`text` for a text on its own: passes until nothing changes (idempotence).

        One pass nearly always suffices; another runs only after a change, since a
        marker can end a word a rejected candidate had swallowed. Every change
        turns secret characters into a marker, which no rule matches again, so
        this ends; the bound is a guard.
        """
        for _ in range(8):
            out = self._pass(s, fired)
            if out is s:
                break
            s = out
        return s

    def _pass(self, s: str, fired: list[str] | None) -> str:
        """Every applicable rule once, in order, over `s`."""
        rules = self._applicable(s)
        for idx in rules:
            rule = self.rules[idx]
            mark = self._markers[idx]
            pieces: list[str] | None = None
            last = 0
            for start, end in rule.spans(s):
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
        return s  # the same object when nothing changed: callers test identity

    def _crossing(self, prefix: str, s: str) -> tuple[int, int] | None:
        """(rule index, end in `s`) of a secret that starts in `prefix` and runs into `s`."""
        cut = len(prefix)
        window = prefix + s[:_CROSS_WINDOW]
        for idx in self._applicable(prefix + s[:_CROSS_GATE]):
            rule = self.rules[idx]
            for begin, start, end in rule.matches(window):
                if begin >= cut:
                    break
                if end <= cut:
                    continue
                if end == len(window) and len(s) > _CROSS_WINDOW:
                    # It may run on past the window: measure it on the whole text.
                    whole = prefix + s
                    end = next((e for b, _, e in rule.matches(whole) if b == begin), end)
                part = window[max(start, cut) : end]
                if self._continues(rule, prefix, part, s) and not self._allowed(
                    (prefix + s)[start:end]
                ):
                    return idx, end - cut
                break
        return None

    def _continues(self, rule: Rule, prefix: str, part: str, s: str) -> bool:
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
        return not self._text(s, None).startswith(MARKER_PREFIX)

    def fields(self, name: str, value: str) -> str | None:
        """The rule id that redacts `value` because of its field `name`, or None."""
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
        if kind == 0 or MARKER_PREFIX in value or self._allowed(value):
            return None
        if kind == 1:
            return "secret-field" if value and not _placeholder(value) else None
        return "secret-field" if high_entropy(value) else None

    def value(self, v: Any, fired: list[str] | None = None) -> Any:
        """Redact every string inside `v` (lists and dicts recursively); same object if clean."""
        return RedactStream(self).value(v, fired)


class RedactStream:
    """Redacts one session's texts in record order, catching secrets split between them."""

    __slots__ = ("carry", "fired", "quiet", "redactor")

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.carry = ""
        self.quiet = True  # the carry holds none of the gate characters
        self.fired: list[str] = []

    def reset(self) -> None:
        """Forget the previous text (a new or resumed session starts here)."""
        self.carry = ""
        self.quiet = True
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
        tail = s[-CARRY_CHARS:]
        if MARKER_PREFIX in tail:
            self.carry, self.quiet = "", True
        else:
            self.carry, self.quiet = tail, red._quiet(tail)
        return out

    def fields(self, fields: dict[str, Any], names: tuple[str, ...]) -> list[str]:
        """Redact `fields[name]` in place for each of `names`; return the rule ids that fired."""
        for name in names:
            value = fields.get(name)
            if value is not None:
                fields[name] = self._value(value)
        return self.take()

    def value(self, v: Any, fired: list[str] | None = None) -> Any:
        """Redact every string inside `v`; returns `v` itself when nothing changed."""
        if fired is None and type(v) is str:
            return self.text(v)  # the common case, one call shorter
        if fired is not None:
            saved, self.fired = self.fired, fired
            try:
                return self._value(v)
            finally:
                self.fired = saved
        return self._value(v)

    def _value(self, v: Any) -> Any:
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, list):
            out: list[Any] | None = None
            for i, item in enumerate(v):
                new = self._value(item)
                if new is not item:
                    if out is None:
                        out = list(v)
                    out[i] = new
            return v if out is None else out
        if isinstance(v, dict):
            dout: dict[Any, Any] | None = None
            for k, item in v.items():
                if isinstance(item, str) and isinstance(k, str):
                    rid = self.redactor.fields(k, item)
                    if rid is not None:
                        new = marker(rid)
                        self.fired.append(rid)
                        self.carry, self.quiet = "", True
                    else:
                        new = self.text(item)
                else:
                    new = self._value(item)
                if new is not item:
                    if dout is None:
                        dout = dict(v)
                    dout[k] = new
            return v if dout is None else dout
        return v


# The text fields redacted in each event type (by name; see events.py).
REDACTED_FIELDS: dict[str, tuple[str, ...]] = {
    "SessionStarted": ("metadata",),
    "MessageRecorded": ("content", "extra"),
    "CommandRecorded": ("command",),
    "ExecutionRecorded": ("command", "output"),
    "MetadataUpdated": ("changes",),
}

_DEFAULT: Redactor | None = None
_CACHE: dict[tuple[str, int, int, int], Redactor] = {}


def default_redactor(home_path: str | os.PathLike[str] | None = None) -> Redactor:
    """The redactor for a journal home: built-in rules plus its redact.json, cached by mtime."""
    global _DEFAULT
    if home_path is not None:
        path = Path(home_path) / CONFIG_NAME
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno != errno.ENOTDIR:  # no home yet: the writer reports that
                raise JournalIOError(f"cannot stat: {exc.strerror}", path=path) from exc
        else:
            key = (str(path), st.st_ino, st.st_mtime_ns, st.st_size)
            cached = _CACHE.get(key)
            if cached is None:
                cached = Redactor.from_config(load_config(home_path))
                _CACHE.clear()
                _CACHE[key] = cached
            return cached
    if _DEFAULT is None:
        _DEFAULT = Redactor()
    return _DEFAULT
