"""The built-in redaction rules: what a secret looks like, and how to find it fast.

Contract:
- `builtin_rules()` returns the rule table in its fixed order: specific formats
  first (private keys, vendor tokens, JWTs, bearer and authorization headers,
  URL passwords, password flags, ``NAME=value`` assignments), the generic
  high-entropy rule last. `BUILTIN_RULE_IDS` are their distinct ids, in order.
- A secret is replaced by ``marker(rule_id)`` = ``[REDACTED:<rule-id>]``; only
  the secret part (``export GITHUB_TOKEN=`` and ``https://user:`` stay
  readable). No rule matches text holding a marker.
- Linear time: every pattern starts with a literal and bounds each repetition
  by what can follow it, so no input makes a rule backtrack quadratically
  (tests run each rule on 1 MB adversarial inputs).
- Prefilter data: every match of a rule holds one of its `gate` characters and,
  near its start, one of its `literals`; the engine (engine.py) skips a rule on
  a text holding neither.
- Validators (`high_entropy`, `is_placeholder`...) say whether a candidate looks
  like a real secret rather than a name, a placeholder or prose.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "BUILTIN_GATES",
    "BUILTIN_RULE_IDS",
    "MARKER_PREFIX",
    "Finder",
    "Rule",
    "builtin_rules",
    "high_entropy",
    "is_placeholder",
    "marker",
]

MARKER_PREFIX = "[REDACTED:"


def marker(rule_id: str) -> str:
    """The text that replaces a secret found by `rule_id`."""
    return f"{MARKER_PREFIX}{rule_id}]"


# -- validators: does a candidate look like a real secret? ------------------------------------


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


_PLACEHOLDER_CHARS = "*xX._-\u2022"
_PLACEHOLDER_WORDS = ("your", "example", "placeholder", "changeme", "redacted", "dummy", "<")


def is_placeholder(v: str) -> bool:
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
    if is_placeholder(s):
        return False
    if _DIGIT.search(s) and _ALPHA.search(s):
        return True
    return len(s) >= 20 and _upper_and_lower(s)


def high_entropy(v: str) -> bool:
    """True if `v` looks like a random credential (hex >= 16 or base64-ish >= 16 chars)."""
    if len(v) < 16 or is_placeholder(v) or v.startswith(("/", "./", "~/", "http")):
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


def _nonempty_secret(v: str) -> bool:
    return len(v) >= 3 and not is_placeholder(v)


def _flag_value(v: str) -> bool:
    return not is_placeholder(v)


def _spaced_flag_value(v: str) -> bool:
    """`--password VALUE`: only if VALUE is not a plain word (prose says "--password flag")."""
    return not is_placeholder(v) and not v.startswith("-") and not v.isalpha()


# -- rules -----------------------------------------------------------------------------------

Finder = Callable[[str], Iterator[tuple[int, int]]]
_END = 1 << 62


@dataclass(frozen=True)
class Rule:
    """One redaction rule: a regular expression (or finder) behind a cheap prefilter.

    The rule runs on a text only if it holds one of the `gate` characters (a
    memchr each; "" for no gate) and, when given, one of `keywords`; every match
    must hold both. `literals` (built-in rules) are a finer prefilter for short
    texts: every match holds one near its start. For a secret split between two
    texts, all three are looked for in the first text's tail plus the start of
    the second (split.py's `CROSS_GATE`). `groups` names the group holding the secret (0: the
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

    def spans(self, text: str, lo: int = 0, hi: int = _END) -> Iterator[tuple[int, int]]:
        """(start, end) of every secret this rule finds in `text` (matches in [lo, hi))."""
        for _, start, end in self.matches(text, lo, hi):
            yield start, end

    def matches(self, text: str, lo: int = 0, hi: int = _END) -> Iterator[tuple[int, int, int]]:
        """(match start, secret start, secret end) of every secret found (finders ignore lo, hi)."""
        if self.finder is not None:
            for start, end in self.finder(text):
                yield start, start, end
            return
        assert self.pattern is not None
        check, name_check, back = self.check, self.name_check, self.back
        alternatives = len(self.groups) > 1
        group = self.groups[0]
        for m in self.pattern.finditer(text, lo, hi):
            if alternatives:
                if m.lastindex is None:
                    continue
                start, end = m.span(m.lastindex)
            else:
                start, end = m.span(group)
                start -= back
            if end <= start:
                continue
            # The name first: a few characters, where `check` may take a 4 kB value's entropy.
            if name_check is not None and not name_check(text, m.start()):
                continue
            secret = text[start:end]
            if MARKER_PREFIX in secret:
                continue
            if check is not None and not check(secret):
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
# Every name `_generic_name_ok` accepts holds one of these once lower-cased (its keywords).
_GENERIC_KEYWORDS = ("key", "token", "secret", "pass", "pwd", "credential")


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


def builtin_rules() -> list[Rule]:
    """The built-in rules in their fixed order: formats first, the generic rule last."""
    return _key_rules() + _token_rules() + _context_rules() + _assignment_rules()


def _key_rules() -> list[Rule]:
    """Private keys and the API keys of Anthropic, OpenAI, AWS and GitHub."""
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
    ]


def _token_rules() -> list[Rule]:
    """Vendor tokens by their prefixes (Slack, Google, Stripe, Hugging Face) and JWTs."""
    c = re.compile
    return [
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
    ]


def _context_rules() -> list[Rule]:
    """Secrets known by what precedes them: authorization headers and URL passwords."""
    c = re.compile
    return [
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
            c(r"://[^\s/?#@:\"'<>\[\]]{0,256}:([^\s/?#@\"'<>\[\]]{1,256})@"),
            literals=("://",),
            groups=(1,),
            check=lambda s: not is_placeholder(s),
        ),
    ]


def _assignment_rules() -> list[Rule]:
    """Secrets given to a flag or assigned to a name; the generic rule last."""
    c = re.compile
    return [
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
            # What `_env_name_ok` accepts ends in one of these right before the `=`.
            literals=tuple(w + "=" for w in (*_ENV_WORDS, *_ENV_SUFFIXES)),
            groups=_VALUE_GROUPS,
            check=_nonempty_secret,
            name_check=_env_name_ok,
        ),
        Rule(
            "generic-secret",
            "=",
            c(r"=>?[ \t]{0,8}" + _VALUE16),
            groups=_VALUE_GROUPS,
            keywords=_GENERIC_KEYWORDS,
            ignore_case=True,
            check=high_entropy,
            name_check=_generic_name_ok,
        ),
        Rule(
            "generic-secret",
            ":",
            c(r":=?[ \t]{0,8}" + _VALUE16),
            groups=_VALUE_GROUPS,
            keywords=_GENERIC_KEYWORDS,
            ignore_case=True,
            check=high_entropy,
            name_check=_generic_name_ok,
        ),
    ]


BUILTIN_RULE_IDS: tuple[str, ...] = tuple(dict.fromkeys(r.id for r in builtin_rules()))
BUILTIN_GATES = "".join(dict.fromkeys(ch for r in builtin_rules() for ch in r.gate))
