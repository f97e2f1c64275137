"""Redaction in record order (stream.py): split secrets; every string the record path writes."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fakes import FAKES, RECORDING_POSITIONS, Fakes, b62
from hypothesis import example, given, settings
from hypothesis import strategies as st

from p8j.journal import ExecutionRecorded, Home, MetadataUpdated, SessionManager, SessionStarted
from p8j.journal.jsontree import Path as TreePath
from p8j.journal.jsontree import TreeRewriter
from p8j.journal.secrets.engine import Redactor
from p8j.journal.secrets.rules import marker
from p8j.journal.secrets.stream import RedactStream, StreamTree
from p8j.journal.store.fs import read_events
from p8j.replay import load_session

REDACTOR = Redactor()
CASES = FAKES.cases()


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


def test_a_split_private_key_is_caught_by_its_end() -> None:
    head, tail = FAKES.pem[:100], FAKES.pem[100:]
    stream = RedactStream(REDACTOR)
    assert stream.text(head).endswith(marker("private-key"))
    out = stream.text(tail)
    assert out == marker("private-key")


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


# -- every string the record path writes -------------------------------------------------------


def _written_bytes(home: Home) -> bytes:
    """Every file p8j wrote in the home: logs, the catalog, snapshots, blobs."""
    return b"".join(p.read_bytes() for p in sorted(Path(home.path).rglob("*")) if p.is_file())


def _leaks(data: bytes, secret: str) -> bool:
    return secret.encode() in data or json.dumps(secret)[1:-1].encode() in data


@pytest.mark.parametrize(
    ("position", "call"), RECORDING_POSITIONS, ids=[p for p, _ in RECORDING_POSITIONS]
)
def test_no_secret_reaches_the_disk_from_any_argument_position(
    tmp_path: Path, position: str, call: Callable[[SessionManager, str], object]
) -> None:
    """Each fake secret, in each place a recording call takes a string (keys too)."""
    for i, (text, secret, rule) in enumerate(CASES):
        home = Home(tmp_path / f"home{i}")
        with SessionManager(home) as mgr:
            call(mgr, text)
        data = _written_bytes(home)
        assert not _leaks(data, secret), f"{rule} leaked from the {position}"
        (log,) = (home.path / "sessions").glob("*.jsonl")
        events, _ = read_events(log)
        fired = {r for e in events for r in getattr(e, "redactions", [])}
        assert rule in fired, f"{rule} in the {position} is not listed in redactions"


def test_an_empty_user_url_password_is_redacted_in_every_position(tmp_path: Path) -> None:
    secret = "s3cr3t-" + FAKES.password
    for i, (_, call) in enumerate(RECORDING_POSITIONS):
        home = Home(tmp_path / f"home{i}")
        with SessionManager(home) as mgr:
            call(mgr, f"redis://:{secret}@cache.internal:6379/0")
        assert not _leaks(_written_bytes(home), secret)


def test_keys_that_redact_alike_stay_distinct_and_in_order(home: Home) -> None:
    one, two = FAKES.github, Fakes(seed=2).github
    with SessionManager(home) as mgr:
        sid = mgr.start_session("p", {one: 1, "plain": 2, two: 3}, cwd="/w").session_id
        mgr.update_metadata({two: "x", one: "y"})
    mark = marker("github-token")
    events, _ = read_events(home.log_path(sid))
    start, update = events[0], events[1]
    assert isinstance(start, SessionStarted) and isinstance(update, MetadataUpdated)
    assert list(start.metadata.items()) == [(mark, 1), ("plain", 2), (mark + "#2", 3)]
    assert start.redactions == ["github-token"]
    assert update.changes == {mark: "x", mark + "#2": "y"}
    assert load_session(sid, home).metadata == {mark: "x", "plain": 2, mark + "#2": "y"}


def test_labels_do_not_join_the_split_secret_carry() -> None:
    """A key or a role between two texts neither hides nor invents a split secret."""
    stream = RedactStream(REDACTOR)
    stream.text("export GITHUB_TO" + "KEN=")
    assert stream.label("role") == "role"
    assert stream.text(FAKES.password) == marker("secret-assignment")
    stream = RedactStream(REDACTOR)
    assert stream.label("export GITHUB_TO" + "KEN=") == "export GITHUB_TOKEN="
    assert stream.text(FAKES.password) == FAKES.password  # a name is not a text before it


def test_no_key_of_the_real_agent_logs_is_redacted() -> None:
    root = Path(__file__).resolve().parents[4] / "shared" / "realdata"
    if not root.is_dir():
        pytest.skip("../shared/realdata is absent")
    keys: set[str] = set()

    def walk(v: object) -> None:
        if isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            keys.update(k for k in v if isinstance(k, str))
            for x in v.values():
                walk(x)

    for path in sorted(root.rglob("*.jsonl")):
        for raw in path.read_bytes().split(b"\n"):
            try:
                walk(json.loads(raw))
            except ValueError:
                continue
    assert len(keys) > 100
    stream = RedactStream(REDACTOR)
    assert [k for k in sorted(keys) if stream.label(k) != k] == []
    assert stream.take() == []


_JSON_PIECES = [c[0] for c in CASES] + [
    "api_key",
    "password",
    "type",
    "text",
    "tool_use",
    "x",
    "export A_TOKEN=",
    FAKES.github,
    FAKES.generic,
    "\ud800",
]
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from(_JSON_PIECES), st.text(max_size=20)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(_JSON_PIECES), st.text(max_size=12)), inner, max_size=4
        ),
    ),
    max_leaves=12,
)


class _Generic(TreeRewriter):
    """StreamTree's hooks through the generic TreeRewriter walk (the reference)."""

    def __init__(self, stream: RedactStream) -> None:
        self.tree = StreamTree(stream)

    def string(self, s: str, path: TreePath) -> Any:
        return self.tree.string(s, path)

    def key(self, k: str, path: TreePath) -> Any:
        return self.tree.key(k, path)

    def entry(self, d: dict[Any, Any], k: Any, item: Any, path: TreePath) -> Any:
        if isinstance(item, str) and isinstance(k, str):
            return self.tree.entry(d, k, item, path)
        return self.value(item, path)


@settings(max_examples=300, deadline=None)
@given(st.lists(_JSON, min_size=1, max_size=4))
@example(["some text", {"password": "hunter2-A1b2C3"}])  # a secret field ends the carry
@example(["key: " + FAKES.anthropic[:30], [FAKES.anthropic[30:] + " ok"]])  # split across values
@example([{"a": "x", "api_key": FAKES.generic, "b": [FAKES.github[:20], FAKES.github[20:]]}])
def test_the_inlined_walk_is_the_tree_walk(values: list[Any]) -> None:
    fast, slow = RedactStream(REDACTOR), RedactStream(Redactor())
    reference = _Generic(slow)
    for v in values:
        out, ref = fast.value(v), reference.value(v)
        assert out == ref
        assert (out is v) == (ref is v)
        assert fast.take() == slow.take()
        assert (fast.carry, fast.quiet) == (slow.carry, slow.quiet)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from(_JSON_PIECES), st.text(max_size=70)))
def test_a_name_is_redacted_as_a_text_alone_and_only_clean_names_are_kept(name: str) -> None:
    red = Redactor()
    for _ in range(2):
        fired: list[str] = []
        expected: list[str] = []
        assert red.name(name, fired) == REDACTOR.text(name, expected)
        assert fired == expected
    assert red._clean <= {name} and (name in red._clean) == (not fired and len(name) <= 64)


# -- the one-pass message check (`RedactStream.message`) against every rule over every text ----

# Every rule over the whole of every text: no set, no gate, no literal, no keyword, no lines.
PLAIN = Redactor(
    [
        dataclasses.replace(r, gate="", literals=(), keywords=(), ignore_case=False)
        for r in REDACTOR.rules
    ],
    rule_set=False,
)


def _fragments() -> list[str]:
    """Pieces of the real agent logs' texts (8 to 3,000 characters), or prose if absent."""
    root = Path(__file__).resolve().parents[4] / "shared" / "realdata"
    texts: list[str] = []
    for path in sorted(root.rglob("*.jsonl"))[:12] if root.is_dir() else []:
        for raw in path.read_bytes().split(b"\n")[:200]:
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            stack = [record]
            while stack:
                v = stack.pop()
                if isinstance(v, str) and v:
                    texts.append(v)
                elif isinstance(v, list):
                    stack.extend(v)
                elif isinstance(v, dict):
                    stack.extend(v.values())
    texts = texts or ["Let me read the file: key lookup -> cache[k], naïve café 🚀\n" * 40]
    rnd = random.Random(31)
    out = []
    for _ in range(300):
        text = rnd.choice(texts)
        start = rnd.randrange(len(text))
        out.append(text[start : start + rnd.choice([8, 60, 400, 3000])])
    return out


_FRAGMENTS = _fragments()
_SECRETS = [c[0] for c in CASES] + [
    "client_secret = '" + b62(random.Random(22), 30) + "'",
    "export GITHUB_TO",
    "KEN=" + b62(random.Random(23), 24),
]
_KEYS = ["type", "text", "input_tokens", "api_key", "password", "token", "note", "id", "x-y"]
_PIECE = st.one_of(st.sampled_from(_FRAGMENTS), st.sampled_from(_SECRETS))
_LEAF = st.one_of(_PIECE, st.integers(0, 9), st.none())
_TEXT = st.lists(_PIECE, min_size=1, max_size=8).map("".join)  # up to ~20 kB
_FIELDS = st.dictionaries(st.sampled_from(_KEYS), st.one_of(_LEAF, _TEXT), max_size=4)
_MESSAGE = st.tuples(
    st.one_of(_TEXT, st.lists(st.one_of(_FIELDS, _TEXT), max_size=3)),
    st.dictionaries(st.sampled_from(_KEYS), st.one_of(_LEAF, _FIELDS), max_size=3),
)
FAST = Redactor()  # its caches (clean names, plain keys) carry over from example to example


@settings(max_examples=150, deadline=None)
@given(st.lists(_MESSAGE, min_size=1, max_size=5))
@example([({"input_tokens": 3}, {}), ([{"input_tokens": FAKES.generic}], {})])  # int, then str
@example([("a" * 5000, {"note": "export GITHUB_TO"}), ("KEN=" + FAKES.github, {})])
@example([(["key: " + FAKES.anthropic[:30], FAKES.anthropic[30:] + "x" * 5000], {})])
@example([("x" * 3000 + " " + FAKES.github + " " + "y" * 3000, {"id": "m"})])  # inside it
@example([(["see postgres://admin:", "S3cr3tPassw0rd@db " + "x" * 5000], {})])  # into it
@example([(["x" * 5000 + " see postgres://admin:", "S3cr3tPassw0rd@db"], {})])  # out of it
@example([(["[REDACTED:x] export A_TOKEN=", FAKES.password + "x" * 5000 + " " * 200], {})])
@example([(["a" * 200, "é" * 5000 + "\n" + FAKES.jwt + "\n", "b"], {})])  # non-ASCII lines
def test_messages_redact_as_every_rule_over_every_text(messages: list[tuple[Any, Any]]) -> None:
    fast, plain = RedactStream(FAST), RedactStream(PLAIN)
    for content, extra in messages:
        got = fast.message("assistant", content, extra)
        assert got == plain.message("assistant", content, extra)
        assert (got[1] is content) == (got[1] == content)  # a clean value comes back as itself
        assert (got[2] is extra) == (got[2] == extra)
        assert fast.carry == plain.carry  # (PLAIN has no gate: its carry is never quiet)


class _Counting:
    """A stand-in for the RE2 set that counts the bytes each pass reads."""

    def __init__(self, inner: Any, seen: list[int]) -> None:
        self.inner, self.seen = inner, seen

    def Match(self, data: Any) -> Any:
        self.seen.append(len(data))
        return self.inner.Match(data)


def _counting_redactor(monkeypatch: pytest.MonkeyPatch) -> tuple[Redactor, list[int]]:
    red = Redactor()
    assert red._set is not None
    scanned: list[int] = []
    monkeypatch.setattr(red._set, "_set", _Counting(red._set._set, scanned))
    return red, scanned


def test_the_keys_of_a_clean_message_are_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    red, scanned = _counting_redactor(monkeypatch)
    stream = RedactStream(red)
    content = [{"type": "text", "text": "Reading it."}]
    extra = {"model": "m-1", "usage": {"input_tokens": 3, "cache_read_input_tokens": 9}}
    for _ in range(2):
        assert stream.message("assistant", content, extra) == ("assistant", content, extra, [])
    keys = "\ntype\ntext\nmodel\nusage\ninput_tokens\ncache_read_input_tokens"
    assert scanned[0] == len("" + "text" + "Reading it." + "m-1" + keys)
    assert scanned[1] == len("m-1" + "text" + "Reading it." + "m-1")  # the carry, the texts
    assert red.plain_names >= {"type", "text", "model", "usage", "input_tokens"}


def test_a_message_with_one_long_text_is_two_set_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    red, scanned = _counting_redactor(monkeypatch)
    stream = RedactStream(red)
    stream.message("user", "before", {})
    # A candidate of the generic rule that its pattern rejects, in a long tool result.
    body = "CI log line, nothing to see here at all\n" * 90
    long = body + "cache key: setup-uv-1-x86_64-unknown-linux-gnu-0.7.13\n" + body
    content = [{"type": "tool_result", "content": long, "tool_use_id": "toolu_01"}]
    assert stream.message("user", content, {}) == ("user", content, {}, [])
    assert stream.carry == "toolu_01"
    # The long text after its carry; the rest (with the end of the long text) in one pass.
    # Before: one pass for each text (the type, the long text, the id) after its carry.
    # ("before", prose with no gate character, took no pass of its own.)
    assert scanned == [
        len("before" + "tool_result" + long[-128:] + "toolu_01" + "\ntype\ncontent\ntool_use_id"),
        len("tool_result" + long),
    ]


FILLER_PROSE = (
    "Please refactor the session loader so it streams the log instead of reading it whole. "
)


class _CountingSet:
    """The RE2 set behind a `RuleSet`, counting the passes made over texts."""

    def __init__(self, inner: Any, passes: list[int]) -> None:
        self.inner, self.passes = inner, passes

    def Match(self, data: Any) -> Any:
        self.passes.append(len(data))
        return self.inner.Match(data)


def test_a_message_of_prose_without_a_gate_character_runs_no_set_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The usual short message (bench/test_record.py's): the set pass cost recording +46%
    # per message with redaction on, where the gate characters alone say it is clean.
    red = Redactor()
    assert red._set is not None and red._quiet(FILLER_PROSE)
    passes: list[int] = []
    monkeypatch.setattr(red._set, "_set", _CountingSet(red._set._set, passes))
    stream = RedactStream(red)
    for i in range(3):
        text = f"{FILLER_PROSE}#{i}"
        assert stream.message("user", text, {}) == ("user", text, {}, [])
        assert (stream.carry, stream.quiet) == (text[-128:], True)
    assert passes == []
    # A gate character in the text (or in the carry) still takes the set's way.
    assert stream.message("user", "key: x", {}) == ("user", "key: x", {}, [])
    assert len(passes) == 1


_PROSE = st.sampled_from(
    [FILLER_PROSE, "ok", "", "tests pass now.", "see the log", "\n", "a" * 200, "ünïcödé 🚀"]
)
_MESSAGE_TEXTS = st.lists(
    st.one_of(
        st.lists(_PROSE, min_size=1, max_size=3).map("".join),
        st.sampled_from(_JSON_PIECES),
        st.builds(lambda s, k: s[:k], st.sampled_from([c[0] for c in CASES]), st.integers(0, 60)),
        st.builds(lambda s, k: s[k:], st.sampled_from([c[0] for c in CASES]), st.integers(0, 60)),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(_MESSAGE_TEXTS)
@example([FILLER_PROSE + "export GITHUB_TO", "KEN=" + FAKES.github])  # split across messages
@example(["my key is " + FAKES.anthropic[:30], FAKES.anthropic[30:] + " thanks"])
def test_a_one_text_message_redacts_as_its_text_in_record_order(texts: list[str]) -> None:
    fast, slow = RedactStream(REDACTOR), RedactStream(Redactor())
    for role, text in zip(itertools.cycle(["user", "assistant"]), texts):
        out = fast.message(role, text, {})
        assert out == (role, slow.text(text), {}, slow.take())
        assert (out[1] is text) == (out[1] == text)
        assert (fast.carry, fast.quiet) == (slow.carry, slow.quiet)
