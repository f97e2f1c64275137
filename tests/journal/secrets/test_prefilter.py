"""The RE2 set prefilter (prefilter.py): supersets of the rules, redacting as before."""

from __future__ import annotations

import dataclasses
import json
import random
import string
import sys
from pathlib import Path
from typing import Any

import pytest
from fakes import FAKES, b62
from hypothesis import given, settings
from hypothesis import strategies as st

from p8j.journal.secrets import rules as rules_module
from p8j.journal.secrets.config import RedactConfig, UserRule
from p8j.journal.secrets.engine import Redactor
from p8j.journal.secrets.prefilter import (
    CHUNK,
    LOWER_FROM,
    RuleSet,
    candidate,
    ignore_case_literal,
)
from p8j.journal.secrets.rules import builtin_rules
from p8j.journal.secrets.stream import RedactStream

REDACTOR = Redactor()
OLD = Redactor(rule_set=False)  # the gate characters, literals and keywords alone
CASES = FAKES.cases()
IDS = [r.id for r in REDACTOR.rules]

# Long enough for the line-by-line path (over 1 kB), with every gate character about.
FILLER = (
    "src/app.py:12: x = a - b  # see https://example.org/a?b=c, key lookup: cache[k]\n"
    "2025-06-15T00:46:15+01:00 level=info msg=\"Using docker host 'unix:///var/run/x'\"\n"
    "  --verbose --retries 3 TIMEOUT=30 Ünïcödé 🚀 naïve café: ok\n"
) * 12


def _planted() -> list[str]:
    """A secret of every rule, alone and inside long text, in quoted and escaped forms."""
    rnd = random.Random(7)
    out = []
    for text, _secret, _rule in CASES:
        out += [text, FILLER + text, text + "\n" + FILLER, FILLER + text + "\n" + FILLER]
    out += [
        FILLER + 'config = {"api_key": "' + b62(rnd, 32) + '"}\n' + FILLER,
        FILLER + '\\"client_secret\\": \\"' + b62(rnd, 32) + '\\"' + FILLER,
        FILLER + "my_\u212aey: " + b62(rnd, 24),
        FILLER + "PASSWORD=" + b62(rnd, 12) + "\n",
        FILLER + "cli --password " + b62(rnd, 20) + " -v\n",
        FILLER + "--password src/app.py:12:\n" + FILLER,  # the flag first on its line
        FILLER + "Authorization: Token " + b62(rnd, 30) + "\n",
    ]
    return out


PLANTED = _planted()
_PIECES = [
    *(c[0] for c in CASES),
    "key=",
    "token: ",
    "api_key",
    "=",
    ":",
    '"',
    "\\",
    '\\"',
    "\n",
    " ",
    "sk-",
    "AKIA",
    "-----END RSA PRIVATE KEY-----",
    "Bearer ",
    "://u:",
    "@",
    "[REDACTED:",
    "]",
    "_TOKEN=",
    "--password ",
    "\u212a",
    "\u0130",
    "\ud800",
    "\u00e9",
    'note: "see api_key: ' + "aB3" * 8 + '"\n',  # the quoted value hides the secret
]


def test_every_builtin_rule_has_a_candidate_re2_compiles() -> None:
    assert all(candidate(r) is not None for r in builtin_rules())
    assert REDACTOR._set is not None and REDACTOR._set.always == ()
    # Every rule whose matches hold no line break runs line by line: all but the key's.
    assert {IDS[i] for i in REDACTOR._set.local} == set(IDS) - {"private-key"}


def test_lower_from_lists_every_character_that_lower_cases_to_an_ascii_letter() -> None:
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        low = c.lower()
        for a in set(low) & set(string.ascii_lowercase):
            assert c in (a, a.upper()) or c in LOWER_FROM.get(a, ""), hex(cp)
        if c.isascii() or len(low) == 1:
            continue
        # A lower case of several characters only matters if an ASCII letter ends it.
        assert not low[-1].isascii() or c in LOWER_FROM.get(low[-1], ""), hex(cp)


@pytest.mark.parametrize("text", PLANTED)
def test_the_set_reports_every_rule_that_finds_a_secret(text: str) -> None:
    hits = REDACTOR._set.hits(text) if REDACTOR._set is not None else None
    assert hits is not None
    found = {i for i, r in enumerate(REDACTOR.rules) if any(True for _ in r.spans(text))}
    assert found, text
    assert found <= set(hits)
    assert REDACTOR.text(text) == OLD.text(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_PIECES + PLANTED), st.text(max_size=40)), max_size=10))
def test_the_set_path_redacts_as_the_old_prefilter(parts: list[str]) -> None:
    text = "".join(parts)
    fired: list[str] = []
    old_fired: list[str] = []
    assert REDACTOR.text(text, fired) == OLD.text(text, old_fired)
    assert fired == old_fired
    long = FILLER + text + FILLER  # the line-by-line path of the assignment rules
    assert REDACTOR.text(long) == OLD.text(long)
    assert REDACTOR.text(text, prefix=long[-128:]) == OLD.text(text, prefix=long[-128:])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_PIECES + PLANTED), st.text(max_size=60)), max_size=8))
def test_a_stream_redacts_as_with_the_old_prefilter(parts: list[str]) -> None:
    new, old = RedactStream(REDACTOR), RedactStream(OLD)
    assert [new.text(p) for p in parts] == [old.text(p) for p in parts]
    assert new.take() == old.take()


def test_text_full_of_gate_characters_runs_no_rule_without_a_candidate() -> None:
    # Before the set, every rule gated by "-", "=", ":" or "_" ran its pattern over this.
    assert len(OLD._applicable(FILLER)) >= 5
    assert REDACTOR._applicable(FILLER) == []
    assert REDACTOR.text(FILLER) is FILLER


def test_the_generic_rule_vets_only_the_lines_of_its_candidates() -> None:
    seen: list[int] = []

    def counting(text: str, op: int) -> bool:
        seen.append(op)
        return rules_module._generic_name_ok(text, op)

    red = Redactor(
        [
            dataclasses.replace(r, name_check=counting) if r.id == "generic-secret" else r
            for r in builtin_rules()
        ]
    )
    # 400 "name: value" lines a generic pattern matches, one of them a real secret.
    lines = [f"docs/file{i}.md:{i}: configuration_value_{i}_here" for i in range(400)]
    secret = b62(random.Random(3), 32)
    lines[200] = f"client_secret: {secret}"
    text = "\n".join(lines)
    out = red.text(text)
    assert secret not in out and "[REDACTED:generic-secret]" in out
    assert out == OLD.text(text)
    # Only the candidate's line is vetted (before: every ":" whose value is 16 characters).
    assert len(seen) <= 2, len(seen)


def test_lines_are_character_offsets_in_non_ascii_text() -> None:
    assert REDACTOR._set is not None
    idx = max(REDACTOR._set.local)  # the generic ":" rule
    line = "ü api_key: " + b62(random.Random(4), 24)
    text = "é🚀\n" * 50 + line + "\n" + "ö\n" * 5
    assert [text[lo:hi] for lo, hi in REDACTOR._set.lines(idx, text)] == [line]
    assert REDACTOR.text(text) == OLD.text(text) != text


def test_candidate_lines_are_found_by_re2s_own_match(monkeypatch: pytest.MonkeyPatch) -> None:
    import re2

    red = Redactor()
    assert red._set is not None
    idx = max(red._set.local)  # the generic ":" rule
    line = "ü api_key: " + b62(random.Random(5), 24)
    text = "é🚀 prose\n" * 20 + line + "\n" + "ö word --flag\n" * 10 + line + "\n" + "end"
    want = [text[lo:hi] for lo, hi in red._set.lines(idx, text)]
    assert want == [line, line]
    redacted = red.text(text)
    assert redacted == OLD.text(text) != text

    def wrapped(*args: Any) -> Any:
        raise AssertionError("the wrapper's search (a generator and a match object a call)")

    # Before: every line search went through the wrapper.
    monkeypatch.setattr(re2._Regexp, "search", wrapped)
    fresh = Redactor()
    assert fresh._set is not None
    assert [text[lo:hi] for lo, hi in fresh._set.lines(idx, text)] == want
    assert fresh.text(text) == redacted
    long = text + "\n" + "ü prose line with nothing in it\n" * 400 + line
    assert fresh.text(long) == OLD.text(long) != long


def test_a_long_text_after_a_carry_is_not_copied_to_join_them() -> None:
    import tracemalloc

    red = Redactor()
    assert red._set is not None
    line = "u api_key: " + b62(random.Random(6), 24)
    # ASCII: its lines need no conversion to character offsets (`_characters`).
    text = "plain prose line, nothing to see\n" * 4000 + line + "\n" + "o\n" * 5
    head = b"the carry ends with a colon:"
    data = text.encode()
    assert len(data) > 100_000
    tracemalloc.start()
    try:
        hits, lines, local = red._set.scan(text, data, head)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Before: `head + data`, a copy of the whole text, for the set's first chunk.
    assert peak < len(data) // 4, peak
    generic = max(red._set.local)
    assert generic in hits and generic in local
    assert [text[lo:hi] for lo, hi in lines] == [line]
    assert red.text(text, prefix="the carry ends with a colon:") == OLD.text(text) != text


def test_a_lone_surrogate_falls_back_to_the_old_prefilter() -> None:
    text = "\ud800 " + CASES[0][0] + FILLER
    assert REDACTOR._set is not None and REDACTOR._set.hits(text) is None
    assert REDACTOR.text(text) == OLD.text(text) != text


def test_user_rules_run_behind_their_keywords_or_always() -> None:
    config = RedactConfig(
        rules=[
            UserRule("acme", r"acme_[0-9a-f]{32}", keywords=["acme_"]),
            UserRule("loud", r"(?i)zebra-[0-9]{6}", keywords=["ZEBRA-"], ignore_case=True),
            UserRule("nokw", r"(?<=@)quux[0-9]{4}"),
            UserRule("uni", r"(?i)straße-[0-9]{4}", keywords=["straße-"], ignore_case=True),
        ]
    )
    red = Redactor.from_config(config)
    old = Redactor.from_config(config)
    old._set = None
    assert red._set is not None
    always = {red.rules[i].id for i in red._set.always}
    assert always == {"nokw", "uni"}  # no keywords; a keyword of non-ASCII letters
    hits = {red.rules[i].id for i in red._set.hits("x acme_ y ZeBrA- z") or []}
    assert {"acme", "loud"} <= hits
    texts = [
        FILLER + "acme_" + "0f" * 16,
        FILLER + "Zebra-123456",
        FILLER + "mail @quux1234",
        FILLER + "STRASSE-1234 straße-1234",
    ]
    for text in texts:
        assert red.text(text) == old.text(text) != text
    uni = next(r for r in red.rules if r.id == "uni")
    assert candidate(uni) is None and ignore_case_literal("straße") is None


def test_a_ruleset_of_rules_without_candidates_runs_them_all() -> None:
    rule = rules_module.Rule("x", "", None, finder=lambda s: iter(()))
    rset = RuleSet([rule])
    assert rset.always == (0,) and rset.hits("anything") == [0]


@pytest.mark.parametrize("length", [20, 120, 200, 250])
def test_a_split_url_password_running_far_into_the_next_text_is_caught(length: int) -> None:
    password = b62(random.Random(length), length)
    parts = ["connect to postgres://admin:", password + "@db.internal:5432/app"]
    new, old = RedactStream(REDACTOR), RedactStream(OLD)
    out = [new.text(p) for p in parts]
    assert out == [old.text(p) for p in parts]
    assert password not in out[1]


def test_the_set_still_names_a_rule_after_a_megabyte_of_adversarial_text() -> None:
    # The set's automaton never gives up: after 1 MB of text built to grow its states
    # (every literal repeated, runs of token characters), a planted secret is found.
    rnd = random.Random(9)
    noise = "".join(
        rnd.choice(["sk-", "ghp_", "eyJ", "key: ", "AKIA", "--password ", "://u:", "x" * 40, "="])
        for _ in range(120_000)
    )
    assert len(noise) > 10**6
    for text, _secret, rule in CASES:
        hits = REDACTOR._set.hits(noise + "\n" + text) if REDACTOR._set is not None else None
        assert hits is not None and rule in {IDS[i] for i in hits}, rule
    text, secret, _ = CASES[0]
    assert secret not in REDACTOR.text(noise[-5000:] + "\n" + text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=40)), max_size=40))
def test_the_gate_of_one_rule_is_the_gate_of_all(parts: list[str]) -> None:
    text = "".join(parts)
    user = Redactor.from_config(
        RedactConfig(rules=[UserRule("u", "zz[0-9]+", keywords=["ZZ"], ignore_case=True)])
    )
    for red in (REDACTOR, user):
        gated = red._gated(text)
        assert [i for i in range(len(red.rules)) if red._passes_gate(i, text)] == gated


def test_the_real_agent_logs_redact_as_with_the_old_prefilter() -> None:
    root = Path(__file__).resolve().parents[4] / "shared" / "realdata"
    if not root.is_dir():
        pytest.skip("../shared/realdata is absent")
    new, old = RedactStream(REDACTOR), RedactStream(OLD)
    n = 0
    for path in sorted(root.rglob("*.jsonl")):
        new.reset()
        old.reset()
        for raw in path.read_bytes().split(b"\n"):
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            assert new.value(record) == old.value(record), (path.name, n)
            assert new.take() == old.take()
            n += 1
    assert n > 1000


# -- the fast path (set scan in chunks, candidate lines, one pass per text) against every rule
# run in full over every text ------------------------------------------------------------------

# Every rule over the whole of every text: no set, no gate, no literal, no keyword, no lines.
PLAIN = Redactor(
    [
        dataclasses.replace(r, gate="", literals=(), keywords=(), ignore_case=False)
        for r in REDACTOR.rules
    ],
    rule_set=False,
)


def _realdata_fragments() -> list[str]:
    """Pieces of the real agent logs' texts (1 to 3,000 characters), or FILLER if absent."""
    root = Path(__file__).resolve().parents[4] / "shared" / "realdata"
    texts: list[str] = []

    def walk(v: object) -> None:
        if isinstance(v, str):
            if v:
                texts.append(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    for path in sorted(root.rglob("*.jsonl"))[:12] if root.is_dir() else []:
        for raw in path.read_bytes().split(b"\n")[:200]:
            try:
                walk(json.loads(raw))
            except ValueError:
                continue
    if not texts:
        texts = [FILLER]
    rnd = random.Random(13)
    out = []
    for _ in range(400):
        text = rnd.choice(texts)
        start = rnd.randrange(len(text))
        out.append(text[start : start + rnd.choice([8, 60, 400, 3000])])
    # Long non-ASCII and long line-broken texts: the chunked scan's character offsets.
    out += [t[:6000] for t in texts if len(t) > 2500 and not t.isascii()][:20]
    return out


FRAGMENTS = _realdata_fragments()
_SECRETS = [c[0] for c in CASES] + [
    "api_key: " + b62(random.Random(21), 24),
    "client_secret = '" + b62(random.Random(22), 30) + "'",
    "--password " + b62(random.Random(23), 16),
    "https://user:" + b62(random.Random(24), 12) + "@db",
]
_MIXED = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.sampled_from(_SECRETS), st.sampled_from(_PIECES)),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(_MIXED, st.sampled_from(["", *(f[-128:] for f in FRAGMENTS[:40]), *_SECRETS]))
def test_the_fast_path_redacts_as_every_rule_over_every_text(parts: list[str], prefix: str) -> None:
    text = "".join(parts)
    fired: list[str] = []
    plain_fired: list[str] = []
    assert REDACTOR.text(text, fired) == PLAIN.text(text, plain_fired)
    assert fired == plain_fired
    assert REDACTOR.text(text, prefix=prefix) == PLAIN.text(text, prefix=prefix)


@settings(max_examples=100, deadline=None)
@given(st.lists(_MIXED, min_size=1, max_size=4))
def test_messages_redact_as_every_rule_over_every_text(messages: list[list[str]]) -> None:
    fast, plain = RedactStream(REDACTOR), RedactStream(PLAIN)
    for parts in messages:
        content = [{"type": "text", "text": p} for p in parts[1:]]
        extra = {"model": "m", "usage": {"input_tokens": 3}, "note": parts[0] if parts else ""}
        got = fast.message("assistant", content, extra)
        assert got == plain.message("assistant", content, extra)
        assert (got[1] is content) == (got[1] == content)  # a clean value comes back as itself


class _Counting:
    """A stand-in for the RE2 set or a line finder that counts the bytes it is given."""

    def __init__(self, inner: Any, seen: list[int]) -> None:
        self.inner, self.seen = inner, seen

    def Match(self, data: Any) -> Any:
        self.seen.append(len(data))
        return self.inner.Match(data)

    def search(self, data: Any, pos: int = 0, end: int = -1) -> Any:
        self.seen.append((len(data) if end < 0 else end) - pos)
        return self.inner.search(data, pos, len(data) if end < 0 else end)


def test_a_long_text_is_read_once_by_the_set_and_its_candidate_chunks_once_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    red = Redactor()
    assert red._set is not None
    scanned: list[int] = []
    searched: list[int] = []
    monkeypatch.setattr(red._set, "_set", _Counting(red._set._set, scanned))
    finder = red._set._line_finder
    monkeypatch.setattr(
        red._set, "_line_finder", lambda i: (_Counting(finder(i)[0], searched), None)
    )
    body = "Ünïcödé 🚀 prose line, nothing to see here at all\n" * 2000
    # A candidate of the generic rule (and of no other) that its pattern then rejects.
    text = body + "client_secret: your-client-secret-goes-here\n" + body
    prefix = "previous message ends with a colon:"
    assert red.text(text, prefix=prefix) is text
    assert PLAIN.text(text, prefix=prefix) == text
    # Before: prefix + text, then the text alone, then each line-bound rule's candidate over
    # the whole text, each after encoding it again.
    assert sum(scanned) == len((prefix + text).encode())
    assert sum(searched) <= 3 * CHUNK + 100


def test_a_clean_message_is_one_set_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    red = Redactor()
    assert red._set is not None
    scanned: list[int] = []
    monkeypatch.setattr(red._set, "_set", _Counting(red._set._set, scanned))
    stream = RedactStream(red)
    content = [{"type": "text", "text": "Let me read the file."}, {"type": "tool_use", "id": "t1"}]
    extra = {"model": "claude", "usage": {"input_tokens": 3, "output_tokens": 9}}
    assert stream.message("assistant", content, extra) == ("assistant", content, extra, [])
    assert len(scanned) == 1  # before: one pass for the content, one for the other fields
