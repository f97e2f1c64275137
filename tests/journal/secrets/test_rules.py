"""The built-in rules (rules.py): each rule, secret part only, no false positives, linear time."""

from __future__ import annotations

import dataclasses
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from fakes import FAKES, b62

from p8j.journal.secrets.engine import Redactor
from p8j.journal.secrets.rules import BUILTIN_RULE_IDS, builtin_rules, high_entropy, marker

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


HANG = 30.0


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
    # A hang guard, not a benchmark (speed is measured in bench/): a rule that
    # backtracks catastrophically takes minutes to hours on 1 MB, a linear one
    # about 10 ms. The bound sits far from both, so a loaded machine cannot fail it.
    assert spec < HANG
    assert all(spent < HANG for spent, _ in worst.values()), worst


@pytest.mark.parametrize(
    "url",
    [
        "redis://:{pw}@cache.internal:6379/0",
        "amqp://:{pw}@mq.example.org/vhost",
        "postgresql://:{pw}@db",
        "REDIS_URL=rediss://:{pw}@redis.example.org:6380",
    ],
)
def test_an_url_password_with_an_empty_user_is_redacted(url: str) -> None:
    pw = "pw-" + FAKES.password
    fired: list[str] = []
    out = REDACTOR.text(url.format(pw=pw), fired)
    assert pw not in out
    assert ":[REDACTED:url-password]@" in out
    assert "url-password" in fired


@pytest.mark.parametrize(
    "text", ["see http://:8080/status", "ssh://@host", "a dict {'http://': ':', 'x': '@'}"]
)
def test_an_empty_user_without_a_password_is_left_alone(text: str) -> None:
    assert REDACTOR.text(text) == text


def test_the_generic_rule_vets_a_value_only_after_its_name() -> None:
    vetted: list[str] = []

    def check(v: str) -> bool:
        vetted.append(v)
        return high_entropy(v)

    rules = [dataclasses.replace(r, check=check) for r in builtin_rules()]
    generic = [r for r in rules if r.id == "generic-secret"]
    # An 87 KB tool result: thousands of random-looking values after names that are no secret's.
    text = "".join(f'"sha{i}": "{b62(random.Random(i), 24)}",\n' for i in range(2500))
    assert len(text) > 80_000
    assert [s for r in generic for s in r.spans(text)] == []
    assert vetted == []
    named = 'api_key: "' + FAKES.generic + '"'
    assert [named[a:b] for r in generic for a, b in r.spans(named)] == [FAKES.generic]
    assert vetted == [FAKES.generic]
