"""Write-time redaction: every rule, idempotence, linear time, configuration, the record path."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import string
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fakes import FAKES, Fakes, b62
from hypothesis import given, settings
from hypothesis import strategies as st

from p8j.journal import (
    ExecutionRecorded,
    Home,
    MessageRecorded,
    SessionManager,
    UnsafePathError,
    read_events,
)
from p8j.journal.errors import RedactConfigError
from p8j.journal.secrets.config import CONFIG_NAME, default_redactor
from p8j.journal.secrets.engine import Redactor
from p8j.journal.secrets.rules import BUILTIN_RULE_IDS, MARKER_PREFIX, builtin_rules, marker
from p8j.journal.secrets.stream import CARRY_CHARS, RedactStream
from p8j.replay import load_session

REDACTOR = Redactor()
CASES = FAKES.cases()


@pytest.mark.parametrize(("text", "secret", "rule"), CASES, ids=[c[2] for c in CASES])
def test_each_rule_replaces_the_secret_with_its_marker(text: str, secret: str, rule: str) -> None:
    fired: list[str] = []
    out = REDACTOR.text(text, fired)
    assert secret not in out
    assert marker(rule) in out
    assert fired == [rule]
    assert REDACTOR.text(out) == out  # idempotent


def test_every_builtin_rule_has_a_case() -> None:
    assert {c[2] for c in CASES} == set(BUILTIN_RULE_IDS)


def test_only_the_secret_part_is_replaced() -> None:
    f = FAKES
    out = REDACTOR.text("export GITHUB_TO" + f"KEN={f.password} && echo ok")
    assert out == "export GITHUB_TOKEN=[REDACTED:secret-assignment] && echo ok"
    out = REDACTOR.text(f"git clone https://me:{f.password}@git.example.org/x.git")
    assert out == "git clone https://me:[REDACTED:url-password]@git.example.org/x.git"


@pytest.mark.parametrize(
    "text",
    [
        "Please use the --password flag and set the API key in your config.",
        "def f(key, token=None):\n    password = get_password()\n    return key == token",
        "export PATH=/usr/local/bin:$PATH; PWD=/home/me; KEY=sort",
        "curl -H 'Authorization: Bearer $TOKEN' https://api.example.org",
        "export OPENAI_API_KEY=${OPENAI_API_KEY:-}; --api-key sk-...",
        "cache hit with key: setup-uv-1-x86_64-linux-0.7.13-f6c65b29c82e498115b3dc436b3a85fc",
        "the tokenizer splits text into tokens: 4096 tokens max",
        "postgres://user:${DB_PASSWORD}@localhost/db",
        "task-runner-with-a-very-long-hyphenated-name and disk-usage-report-generator",
        "AKIA is the prefix of AWS access key ids; ghp_ of GitHub tokens",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    fired: list[str] = []
    assert REDACTOR.text(text, fired) is text
    assert fired == []


def test_real_agent_logs_have_no_false_positives() -> None:
    root = Path(__file__).resolve().parents[4] / "shared" / "realdata"
    if not root.is_dir():
        pytest.skip("../shared/realdata is absent")
    texts: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            texts.append(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    for path in sorted(root.rglob("*.jsonl")):
        for raw in path.read_bytes().split(b"\n"):
            try:
                walk(json.loads(raw))
            except ValueError:
                continue
    assert len(texts) > 10_000
    started = time.perf_counter()
    hits: list[tuple[str, list[str]]] = []
    for t in texts:
        fired: list[str] = []
        if REDACTOR.text(t, fired) is not t:
            hits.append((t[:80], fired))
    spent = time.perf_counter() - started
    mb = sum(map(len, texts)) / 1e6
    print(f"redacted {mb:.1f} MB of real log text in {spent:.2f} s ({mb / spent:.0f} MB/s)")
    assert hits == []


# -- idempotence and validity ------------------------------------------------------------------

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


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=2, max_size=6))
def test_redacting_a_stream_is_idempotent_and_keeps_strings_strings(parts: list[str]) -> None:
    stream = RedactStream(REDACTOR)
    once = [stream.text(p) for p in parts]
    again = RedactStream(REDACTOR)
    assert [again.text(p) for p in once] == once


def test_structures_keep_their_shape_and_the_event_stays_valid() -> None:
    f = FAKES
    content: list[dict[str, Any]] = [
        {"type": "text", "text": f"use {f.github}"},
        {"type": "tool_use", "id": "t1", "input": {"command": f"export A_TOKEN={f.password}"}},
        {"type": "tool_result", "content": [{"type": "text", "text": f.pem}], "n": 3},
        {"type": "other", "password": "hunter2", "api_key": f.generic, "max_tokens": 5},
    ]
    fired: list[str] = []
    out = REDACTOR.value(content, fired)
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
    assert REDACTOR.value(out) is out
    event = MessageRecorded(1, "s", 1, "t", role="user", content=out, redactions=sorted(fired))
    from p8j.journal import decode_line, encode_event

    assert decode_line(encode_event(event)[:-1]) == event


def test_a_secret_split_across_two_messages_is_caught_in_the_second() -> None:
    f = FAKES
    stream = RedactStream(REDACTOR)
    first = stream.text("here you go: " + f.anthropic[:30])
    second = stream.text(f.anthropic[30:] + " -- that was my key")
    assert f.anthropic[30:] not in second
    assert second.startswith(marker("anthropic-api-key"))
    assert second.endswith(" -- that was my key")
    assert first == "here you go: " + marker("anthropic-api-key")  # long enough on its own
    stream = RedactStream(REDACTOR)
    assert stream.text("export GITHUB_TO" + "KEN=") == "export GITHUB_TOKEN="
    assert stream.text(f.password + " # set") == marker("secret-assignment") + " # set"
    # A whole token, then a message that merely starts with a word: no continuation.
    stream = RedactStream(REDACTOR)
    stream.text("my token is " + f.github)
    assert stream.text("nothing else to say") == "nothing else to say"


def test_json_escaped_secrets_are_caught() -> None:
    f = FAKES
    doc = json.dumps({"env": f"GITHUB_TOKEN={f.password}", "cfg": {"api_key": f.generic}})
    escaped = json.dumps(doc)  # a JSON document inside a JSON string: \" everywhere
    out = REDACTOR.text(escaped)
    assert f.password not in out and f.generic not in out
    pem_escaped = json.dumps(f.pem)[1:-1]  # the key with literal \n escapes
    out = REDACTOR.text(f"key = '{pem_escaped}'")
    assert "PRIVATE KEY" not in out and f.pem.split("\n")[1] not in out


def test_a_split_private_key_is_caught_by_its_end() -> None:
    head, tail = FAKES.pem[:100], FAKES.pem[100:]
    stream = RedactStream(REDACTOR)
    assert stream.text(head).endswith(marker("private-key"))
    out = stream.text(tail)
    assert out == marker("private-key")


# -- the prefilter: it only skips what no rule could match ------------------------------------

# The same rules without their literals: only the gate characters filter.
UNFILTERED = Redactor([dataclasses.replace(r, literals=()) for r in REDACTOR.rules])


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


def test_user_rules_keep_their_keywords_in_a_stream(home: Home) -> None:
    _config(
        home,
        {
            "rules": [
                {"id": "acme-token", "pattern": "acme_[0-9a-f]{32}", "keywords": ["acme_"]},
                {"id": "zork", "pattern": "zork[0-9]{8}", "keywords": ["zork"]},
                {
                    "id": "ticket",
                    "pattern": r"TICKET(?P<secret>\d{6})",
                    "keywords": ["ticket"],
                    "ignore_case": True,
                },
            ]
        },
    )
    red = default_redactor(home.path)
    acme = "acme_" + "0123456789abcdef" * 2
    stream = RedactStream(red)
    assert stream.text(PROSE) == PROSE
    assert stream.text(f"use {acme} now") == "use [REDACTED:acme-token] now"
    assert stream.text(PROSE) == PROSE
    assert stream.text("see zork12345678") == "see [REDACTED:zork]"
    assert stream.text("see TICKET123456") == "see TICKET[REDACTED:ticket]"
    assert stream.text("a ticket, not TICKET12345") == "a ticket, not TICKET12345"
    stream.reset()
    assert stream.text("key: " + acme[:20]) == "key: " + acme[:20]
    assert stream.text(acme[20:] + " ok") == "[REDACTED:acme-token] ok"


# -- linear time ---------------------------------------------------------------------------------

N = 10**6


def _adversarial(literal: str) -> dict[str, str]:
    return {
        "repeated": literal * (N // len(literal) + 1),
        "then a's": literal + "a" * N,
        "after A's": "A" * N + literal,
        "dense": (literal + "aB3" * 7 + " ") * (N // (len(literal) + 22)),
        "open quote": literal + '"' + "a" * N,
        "escaped": literal + '\\"' * (N // 2),
    }


_LITERALS = [
    "sk-ant-",
    "sk-",
    "AKIA",
    "ASIA",
    "ghp_",
    "github_pat_",
    "https://hooks.slack.com/services/",
    "xoxb-",
    "xapp-1-",
    "AIza",
    "sk_live_",
    "whsec_",
    "hf_",
    "eyJ",
    "eyJa.eyJ",
    "Bearer ",
    "Authorization: ",
    "AUTHORIZATION=",
    "://u:",
    "--password=",
    "--password ",
    "A_TOKEN=",
    "PASSWORD=",
    "api_key: ",
    '"secret": ',
    "-----BEGIN PRIVATE KEY-----",
    "-----END PRIVATE KEY-----",
    "[REDACTED:",
]


def test_every_rule_is_linear_on_1mb_adversarial_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    inputs = {"a*10**6": "a" * N, "key=+=*10**6": "key=" + "=" * N, "=*10**6": "=" * N}
    for lit in _LITERALS:
        for name, text in _adversarial(lit).items():
            inputs[f"{lit!r} {name}"] = text
    worst: dict[str, tuple[float, str]] = {}
    for rule in builtin_rules():
        single = Redactor([rule])
        for name, text in inputs.items():
            started = time.perf_counter()
            single.text(text)
            spent = time.perf_counter() - started
            if spent > worst.get(rule.id, (0.0, ""))[0]:
                worst[rule.id] = (spent, name)
    started = time.perf_counter()
    REDACTOR.text("a" * N)
    REDACTOR.text("key=" + "=" * N)
    spec = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nall rules on 'a'*10**6 and 'key='+'='*10**6: {spec * 1000:.1f} ms")
        for rid, (spent, name) in sorted(worst.items(), key=lambda x: -x[1][0]):
            print(f"  {rid:22} worst {spent * 1000:7.1f} ms on {name}")
    # A guard against catastrophic backtracking (seconds to hours), not a benchmark.
    assert spec < 1.0
    assert all(spent < 1.0 for spent, _ in worst.values()), worst


# -- configuration -------------------------------------------------------------------------------


def _config(home: Home, data: Any, mode: int = 0o600) -> Path:
    home.ensure()
    path = home.path / CONFIG_NAME
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    os.chmod(path, mode)
    return path


def test_user_rules_allow_list_and_disable(home: Home) -> None:
    f = Fakes(seed=7)
    _config(
        home,
        {
            "rules": [
                {"id": "acme-token", "pattern": "acme_[0-9a-f]{32}", "keywords": ["acme_"]},
                {
                    "id": "ticket",
                    "pattern": r"TICKET-(?P<secret>\d{6})",
                    "keywords": ["ticket-"],
                    "ignore_case": True,
                },
            ],
            "allow": [f.github],
            "allow_patterns": ["^sk-proj-fixture.*$"],
            "disable": ["aws-access-key"],
        },
    )
    red = default_redactor(home.path)
    acme = "acme_" + "0123456789abcdef" * 2
    assert red.text(f"use {acme} now") == "use [REDACTED:acme-token] now"
    assert red.text("see TICKET-123456") == "see TICKET-[REDACTED:ticket]"
    assert red.text(f"allowed {f.github}") == f"allowed {f.github}"
    fixture = "sk-proj-fixture" + "Ab1" * 10
    assert red.text(fixture) == fixture
    assert red.text(f"id {f.aws}") == f"id {f.aws}"  # disabled
    assert red.text(f"key {f.anthropic}") == "key [REDACTED:anthropic-api-key]"  # still on
    with SessionManager(home) as mgr:
        sid = mgr.start_session("cfg").session_id
        mgr.record_message({"role": "user", "content": f"deploy with {acme}"})
    assert acme not in home.log_path(sid).read_text()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ("{not json", "invalid"),
        ({"rules": [{"id": "x", "pattern": "("}]}, "bad pattern"),
        ({"rules": [{"id": "Bad Id", "pattern": "x"}]}, "must be lower-case"),
        ({"rules": [{"id": "empty", "pattern": "a*"}]}, "empty string"),
        ({"disable": ["no-such-rule"]}, "unknown rule ids"),
        ({"allow_patterns": ["["]}, "bad pattern"),
        ({"rulez": []}, "invalid"),
    ],
)
def test_a_bad_config_is_a_clear_error_before_anything_is_written(
    home: Home, data: Any, match: str
) -> None:
    path = _config(home, data)
    with pytest.raises(RedactConfigError, match=match) as info:
        SessionManager(home).start_session("x")
    assert info.value.path == str(path)
    assert home.session_ids() == []


def test_an_unsafe_config_is_refused(home: Home, tmp_path: Path) -> None:
    path = _config(home, {"allow": ["x"]}, mode=0o666)
    with pytest.raises(UnsafePathError, match="chmod 600"):
        default_redactor(home.path)
    path.unlink()
    elsewhere = tmp_path / "planted.json"
    elsewhere.write_text(json.dumps({"disable": list(BUILTIN_RULE_IDS)}))
    path.symlink_to(elsewhere)
    with pytest.raises(UnsafePathError, match="symlink"):
        default_redactor(home.path)


# -- the record path -----------------------------------------------------------------------------


def test_the_manager_redacts_every_text_before_it_is_written(home: Home) -> None:
    f = FAKES
    with SessionManager(home) as mgr:
        sid = mgr.start_session(
            "p", {"db_password": "hunter2", "note": f"key {f.openai}"}
        ).session_id
        mgr.record_message({"role": "user", "content": f"my token {f.github}", "meta": f.jwt})
        mgr.record_message(
            {"role": "assistant", "content": [{"type": "text", "text": f"use {f.stripe}"}]}
        )
        mgr.record_command(f"curl -u admin:x https://admin:{f.password}@h.example.org")
        mgr.record_execution("env", 0, f"AWS_SECRET_ACCESS_KEY={f.generic}\nHOME=/root\n")
        mgr.update_metadata(slack=f.slack)
        mgr.record_message({"role": "user", "content": "nothing secret"})
        memory = mgr.current_session
    raw = home.log_path(sid).read_bytes()
    for secret in (f.openai, f.github, f.jwt, f.stripe, f.password, f.generic, f.slack, "hunter2"):
        assert secret.encode() not in raw
        assert json.dumps(secret)[1:-1].encode() not in raw
    events, _ = read_events(home.log_path(sid))
    fired = {type(e).__name__ + str(e.seq): getattr(e, "redactions", None) for e in events}
    assert fired == {
        "SessionStarted0": ["openai-api-key", "secret-field"],
        "MessageRecorded1": ["github-token", "jwt"],
        "MessageRecorded2": ["stripe-key"],
        "CommandRecorded3": ["url-password"],
        "ExecutionRecorded4": ["secret-assignment"],
        "MetadataUpdated5": ["slack-token"],
        "MessageRecorded6": [],
        "SessionPaused7": [],
    }
    assert b'"redactions"' not in raw.split(b"\n")[6]  # the default is not written
    assert load_session(sid, home) == memory  # memory holds what the log holds
    assert memory is not None and memory.execution_histories[0]["output"] == (
        "AWS_SECRET_ACCESS_KEY=[REDACTED:secret-assignment]\nHOME=/root\n"
    )


def test_redaction_can_be_turned_off(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = FAKES.github
    with SessionManager(home, redact=False) as mgr:
        off = mgr.start_session("off").session_id
        mgr.record_message({"role": "user", "content": secret})
    monkeypatch.setenv("P8J_REDACT", "0")
    with SessionManager(home) as mgr:
        env_off = mgr.start_session("env-off").session_id
        mgr.record_execution("echo", 0, secret)
    with SessionManager(home, redact=True) as mgr:  # explicit beats the environment
        on = mgr.start_session("on").session_id
        mgr.record_message({"role": "user", "content": secret})
    assert secret in home.log_path(off).read_text()
    assert secret in home.log_path(env_off).read_text()
    assert secret not in home.log_path(on).read_text()


def test_a_secret_split_across_two_records_never_reaches_the_log_whole(home: Home) -> None:
    key = FAKES.anthropic
    with SessionManager(home) as mgr:
        sid = mgr.start_session("split").session_id
        mgr.record_message({"role": "user", "content": "my key: " + key[:25]})
        mgr.record_message({"role": "user", "content": key[25:]})
    raw = home.log_path(sid).read_text()
    assert key[25:] not in raw and key not in raw
    events, _ = read_events(home.log_path(sid))
    first, second = (getattr(e, "redactions", None) for e in events[1:3])
    assert first  # the first part is long enough to look like a key on its own
    assert second == ["anthropic-api-key"]


def test_a_redacted_execution_event_is_still_an_execution(home: Home) -> None:
    with SessionManager(home) as mgr:
        sid = mgr.start_session("x").session_id
        mgr.record_execution("cat .env", 0, f"GITHUB_TOKEN={FAKES.github}\n", duration_s=0.5)
    events, cursor = read_events(home.log_path(sid))
    (ex,) = [e for e in events if isinstance(e, ExecutionRecorded)]
    assert ex.output == "GITHUB_TOKEN=[REDACTED:github-token]\n"
    assert ex.duration_s == 0.5 and ex.exit_code == 0 and cursor.issues == []
    assert msgspec.json.decode(home.log_path(sid).read_bytes().split(b"\n")[1])["redactions"] == [
        "github-token"
    ]
