"""The redaction engine (engine.py): idempotence, structures keep their shape, the prefilter."""

from __future__ import annotations

import dataclasses
import json
import random
import string
from typing import Any

import pytest
from fakes import FAKES, b62
from hypothesis import given, settings
from hypothesis import strategies as st

from p8j.journal import (
    MessageRecorded,
)
from p8j.journal.secrets.config import RedactConfig, UserRule
from p8j.journal.secrets.engine import Redactor
from p8j.journal.secrets.rules import MARKER_PREFIX, marker
from p8j.journal.secrets.stream import CARRY_CHARS, RedactStream

REDACTOR = Redactor()
CASES = FAKES.cases()


_PIECES = [c[0] for c in CASES] + [
    "key=",
    "token: ",
    "=",
    ":",
    '"',
    "\\",
    "\\n",
    "sk-",
    "ghp_",
    "eyJ",
    "AKIA",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "Bearer ",
    "://",
    "@",
    "[REDACTED:",
    "]",
    " ",
    "\n",
    "_TOKEN=",
    "PASSWORD=",
    "--password ",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(_PIECES), st.text(max_size=30)),
        max_size=12,
    )
)
def test_redaction_is_idempotent(parts: list[str]) -> None:
    text = "".join(parts)
    once = REDACTOR.text(text)
    assert REDACTOR.text(once) == once


def test_structures_keep_their_shape_and_the_event_stays_valid() -> None:
    f = FAKES
    content: list[dict[str, Any]] = [
        {"type": "text", "text": f"use {f.github}"},
        {"type": "tool_use", "id": "t1", "input": {"command": f"export A_TOKEN={f.password}"}},
        {"type": "tool_result", "content": [{"type": "text", "text": f.pem}], "n": 3},
        {"type": "other", "password": "hunter2", "api_key": f.generic, "max_tokens": 5},
    ]
    fired: list[str] = []
    out = RedactStream(REDACTOR).value(content, fired)
    assert out is not content
    assert content[0]["text"] == f"use {f.github}"  # the input is not mutated
    assert out[0] == {"type": "text", "text": "use [REDACTED:github-token]"}
    assert out[1]["input"] == {"command": "export A_TOKEN=[REDACTED:secret-assignment]"}
    assert out[2]["content"][0]["text"] == "[REDACTED:private-key]"
    assert out[3] == {
        "type": "other",
        "password": "[REDACTED:secret-field]",
        "api_key": "[REDACTED:secret-field]",
        "max_tokens": 5,
    }
    assert sorted(set(fired)) == [
        "github-token",
        "private-key",
        "secret-assignment",
        "secret-field",
    ]
    assert RedactStream(REDACTOR).value(out) is out
    event = MessageRecorded(1, "s", 1, "t", role="user", content=out, redactions=sorted(fired))
    from p8j.journal.codec import decode_line, encode_event

    assert decode_line(encode_event(event)[:-1]) == event


def test_json_escaped_secrets_are_caught() -> None:
    f = FAKES
    doc = json.dumps({"env": f"GITHUB_TOKEN={f.password}", "cfg": {"api_key": f.generic}})
    escaped = json.dumps(doc)  # a JSON document inside a JSON string: \" everywhere
    out = REDACTOR.text(escaped)
    assert f.password not in out and f.generic not in out
    pem_escaped = json.dumps(f.pem)[1:-1]  # the key with literal \n escapes
    out = REDACTOR.text(f"key = '{pem_escaped}'")
    assert "PRIVATE KEY" not in out and f.pem.split("\n")[1] not in out


# The same rules without their literals, keywords and RE2 set: only the gate characters filter.
UNFILTERED = Redactor(
    [dataclasses.replace(r, literals=(), keywords=(), ignore_case=False) for r in REDACTOR.rules],
    rule_set=False,
)
# The prefilter before the RE2 set: gate characters, literals and keywords.
GATES_ONLY = Redactor(rule_set=False)


def _forms() -> list[str]:
    """A secret of each form a rule's literals must let through, beyond the cases above."""
    rnd = random.Random(5)
    upper = string.ascii_uppercase + string.digits
    return [
        "id AS" + "IA" + "".join(rnd.choice(upper) for _ in range(16)),
        *(f"t gh{c}" + "_" + b62(rnd, 36) for c in "pousr"),
        *(f"s xox{c}" + "-" + b62(rnd, 30) for c in "abposre"),
        "s xa" + "pp-1-" + b62(rnd, 30),
        "k rk" + "_test_" + b62(rnd, 24),
        "w whs" + "ec_" + b62(rnd, 32),
        "BEA" + "RER " + b62(rnd, 30),
        "AUTHORIZ" + "ATION=" + b62(rnd, 30),
        "authoriz" + "ation: " + b62(rnd, 30),
        "cli --tok" + "en " + b62(rnd, 20),
        "cli --api-k" + "ey=" + b62(rnd, 20),
        "export DB_PASSPH" + "RASE=" + b62(rnd, 20),
        "GOOGLE_CREDENT" + "IALS=" + b62(rnd, 20),
        "X_AP" + "IKEY='" + b62(rnd, 20) + "'",
        "cfg.Api_To" + 'ken = "' + b62(rnd, 24) + '"',
        '{"db_PassW' + 'ord": "' + b62(rnd, 24) + '"}',
        "my_\u212a" + "ey: " + b62(rnd, 24),  # KELVIN SIGN lower-cases to k
        "my_K" + "ey: " + b62(rnd, 24),
        "CREDENTIA" + 'LS\\"   :' + b62(rnd, 24),
        "user_pw" + "d=" + b62(rnd, 24),
    ]


FORMS = _forms()


@pytest.mark.parametrize("text", FORMS)
def test_literals_let_every_form_of_a_secret_through(text: str) -> None:
    fired: list[str] = []
    out = REDACTOR.text(text, fired)
    assert fired and out != text
    assert out == UNFILTERED.text(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_PIECES + FORMS), st.text(max_size=30)), max_size=12))
def test_literals_only_skip_rules_that_cannot_match(parts: list[str]) -> None:
    text = "".join(parts)
    assert REDACTOR.text(text) == UNFILTERED.text(text)


def _reference_stream(parts: list[str]) -> list[str]:
    """What a stream must return: each text checked across the boundary, no shortcut."""
    out, carry = [], ""
    for part in parts:
        out.append(UNFILTERED.text(part, prefix=carry))
        tail = part[-CARRY_CHARS:]
        carry = "" if MARKER_PREFIX in tail else tail
    return out


PROSE = "Please refactor the session loader so it streams the log instead of reading it whole. #1"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from([*_PIECES, *FORMS, PROSE]), st.text(max_size=40)),
        min_size=2,
        max_size=8,
    )
)
def test_the_stream_skips_only_texts_no_rule_could_match(parts: list[str]) -> None:
    stream = RedactStream(REDACTOR)
    assert [stream.text(p) for p in parts] == _reference_stream(parts)


@pytest.mark.parametrize("text", [c[0] for c in CASES] + FORMS, ids=[c[2] for c in CASES] + FORMS)
def test_a_secret_cut_anywhere_redacts_as_without_the_prefilter(text: str) -> None:
    for cut in range(1, len(text)):
        parts = [PROSE, text[:cut], text[cut:], PROSE]
        stream = RedactStream(REDACTOR)
        assert [stream.text(p) for p in parts] == _reference_stream(parts), cut


def test_a_private_key_end_a_few_body_characters_in_is_caught() -> None:
    pem = FAKES.pem
    end = pem.index("\n-----END")
    for body in range(1, 64):
        cut = end - body
        if "\n" in pem[cut - 1 : cut + 1]:
            continue  # a text that ends or starts with a line break does not continue one
        stream = RedactStream(REDACTOR)
        stream.text(pem[:cut])
        assert stream.text(pem[cut:]) == marker("private-key"), body


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=2, max_size=6))
def test_redacting_a_stream_is_idempotent_and_keeps_strings_strings(parts: list[str]) -> None:
    stream = RedactStream(REDACTOR)
    once = [stream.text(p) for p in parts]
    again = RedactStream(REDACTOR)
    assert [again.text(p) for p in once] == once


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from(_PIECES), st.text(max_size=40)))
def test_the_name_prefilter_is_the_text_prefilter(name: str) -> None:
    assert REDACTOR.quiet_name(name) == REDACTOR._quiet(name)
    ungated = Redactor.from_config(
        RedactConfig(rules=[UserRule("any", "zz[0-9]+")])  # no keywords: runs on every text
    )
    assert not ungated.quiet_name(name) and not ungated._quiet(name)


def test_rules_that_cannot_match_are_skipped_on_text_full_of_their_gate_characters() -> None:
    ids = [r.id for r in REDACTOR.rules]
    # ':' and '=' everywhere, but no secret word before any of them and no NAME= of a secret.
    text = "at 12:30:01 see https://example.com/a?b=c and x=1, y = 2; {'a': 'b'}" * 10
    assert {ids[i] for i in REDACTOR._applicable(text)} == set()  # no ":...@" for a password
    assert {ids[i] for i in GATES_ONLY._applicable(text)} == {"url-password"}
    named = "my_api_key: 1\nGITHUB_TOKEN=2"
    assert {ids[i] for i in GATES_ONLY._applicable(named)} >= {"generic-secret"}
    assert {ids[i] for i in REDACTOR._applicable(named)} == {"secret-assignment"}  # 1 is short
    named = "my_api_key: 0123456789abcdef\nGITHUB_TOKEN=2"
    assert {"generic-secret", "secret-assignment"} <= {ids[i] for i in REDACTOR._applicable(named)}


def test_a_clean_short_text_is_checked_once_however_often_it_comes() -> None:
    calls: list[str] = []

    class Counting(Redactor):
        def _text(self, s: str, fired: list[str] | None, *known: Any) -> str:
            calls.append(s)
            return super()._text(s, fired, *known)

    red = Counting()
    secret = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    for _ in range(3):
        fired: list[str] = []
        assert red.text(secret, fired) == marker("github-token")
        assert fired == ["github-token"]
        word = "".join(["tool", "_use"])  # equal, never the same object
        assert red.text(word) is word
    assert calls == [secret, "tool_use", secret, secret]  # no secret is remembered
    assert red._clean == {"tool_use"}
