"""recording.py: how an imported event's fields are redacted (`redact_event`)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from fakes import FAKES
from hypothesis import example, given, settings
from hypothesis import strategies as st

from p8j.journal.events import SCHEMA_VERSION, CommandRecorded, Event, MessageRecorded, Origin
from p8j.journal.recording import _redact_fields, redact_event
from p8j.journal.secrets.engine import Redactor
from p8j.journal.secrets.rules import marker
from p8j.journal.secrets.stream import REDACTED_FIELDS, RedactStream

# What a Claude Code record keeps in `origin.rest`: ids, paths, times, versions.
_REST = {
    "parentUuid": "5f0c5a8e-1b1e-4a57-9a55-3c1d0b8e2f11",
    "isSidechain": False,
    "userType": "external",
    "cwd": "/home/someone/project",
    "sessionId": "0b7f7f34-92a5-4c1b-8f0e-0d9f4b1c2a33",
    "version": "2.0.14",
    "gitBranch": "main",
    "requestId": "req_011CU2bXq9z8",
    "toolUseResult": {"stdout": "ok\n", "stderr": "", "interrupted": False},
}


def _message(rest: Any, content: Any = "hello") -> MessageRecorded:
    origin = Origin(ts="2026-01-01T00:00:00.000000Z", id="u-1", line=1, end=10, rest=rest)
    return MessageRecorded(
        SCHEMA_VERSION, "sid", 1, "2026-01-01T00:00:00.000000Z", "user", content, origin=origin
    )


def _tree_walk(stream: RedactStream, event: MessageRecorded) -> tuple[Any, Any]:
    """The reference: the event's fields in order, `origin.rest` through the generic tree."""
    content = stream.field("content", event.content)
    assert event.origin is not None
    return content, stream.tree.value(event.origin.rest)


def test_a_clean_origin_rest_costs_one_set_pass_not_a_check_per_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    red = Redactor()
    judged: list[str] = []
    name = red.name

    def counting(s: str, fired: list[str] | None = None) -> str:
        judged.append(s)
        return name(s, fired)

    monkeypatch.setattr(red, "name", counting)
    event = _message(_REST)
    out = redact_event(RedactStream(red), event)
    assert out is event  # nothing to redact: the same event back
    assert not set(judged) & {*_REST, *_REST["toolUseResult"]}  # type: ignore[misc]


@pytest.mark.parametrize(
    "rest",
    [
        _REST,
        {**_REST, "toolUseResult": {"stdout": "key " + FAKES.anthropic}},
        {**_REST, "password": "hunter2-A1b2C3", "more": [FAKES.github[:20], FAKES.github[20:]]},
        {"a": "tail of a split secret " + FAKES.anthropic[30:]},
    ],
)
def test_origin_rest_is_redacted_as_the_tree_walk_redacts_it(rest: Any) -> None:
    content = "see " + FAKES.anthropic[:30]  # a secret split into the rest
    event = _message(rest, content)
    fast, slow = RedactStream(Redactor()), RedactStream(Redactor())
    out = redact_event(fast, event)
    assert isinstance(out, MessageRecorded) and out.origin is not None
    assert (out.content, out.origin.rest) == _tree_walk(slow, event)
    assert out.redactions == slow.take()
    assert (fast.carry, fast.quiet) == (slow.carry, slow.quiet)
    if "password" in rest:
        assert any(out.origin.rest["password"] == marker(r) for r in out.redactions)


def test_a_clean_imported_event_costs_one_set_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    red = Redactor()
    assert red._set is not None
    passes: list[str] = []
    hits = red._set.hits

    def counting(s: str) -> list[int] | None:
        passes.append(s)
        return hits(s)

    monkeypatch.setattr(red._set, "hits", counting)
    stream = RedactStream(red)
    event = _message({**_REST, "message": {"content": [{"type": "text", "text": "hi"}]}})
    assert redact_event(stream, event) is event
    assert len(passes) == 1  # content, extra, origin's rest, ids and names together
    assert stream.carry == "hi"  # moved past the last text, as a walk field by field


_PIECES = [c[0] for c in FAKES.cases()] + [
    "api_key", "password", "token", "type", "", "key: ", FAKES.anthropic[:30],
    FAKES.anthropic[30:], FAKES.github[:20], FAKES.github[20:], "\ud800", "a\nb",
]  # fmt: skip
_TEXT = st.one_of(st.sampled_from(_PIECES), st.text(max_size=16))
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), _TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_TEXT, inner, max_size=3)),
    max_leaves=8,
)
_ORIGINS = st.builds(
    Origin,
    id=st.one_of(st.none(), _TEXT),
    parent_id=st.one_of(st.none(), _TEXT),
    rest=st.one_of(st.just(msgspec.UNSET), _JSON),
    cwd=st.one_of(st.none(), _TEXT),
    model=st.one_of(st.none(), _TEXT),
)
_EVENTS = st.one_of(
    st.builds(
        lambda role, content, extra, origin: MessageRecorded(
            SCHEMA_VERSION, "s", 1, "t", role, content, extra=extra, origin=origin
        ),
        _TEXT, _JSON, st.dictionaries(_TEXT, _JSON, max_size=2), st.one_of(st.none(), _ORIGINS),
    ),
    st.builds(
        lambda command, cwd, input, origin: CommandRecorded(
            SCHEMA_VERSION, "s", 1, "t", command, cwd, input=input, origin=origin
        ),
        _TEXT, st.one_of(st.none(), _TEXT), _JSON, st.one_of(st.none(), _ORIGINS),
    ),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_EVENTS, min_size=1, max_size=4))
@example(
    [
        _message(_REST, "see " + FAKES.anthropic[:30]),
        _message({"a": FAKES.anthropic[30:] + " done"}, ""),
    ]
)
def test_the_one_pass_shortcut_redacts_as_field_by_field(events: list[Event]) -> None:
    fast, slow = RedactStream(Redactor()), RedactStream(Redactor())
    for event in events:
        out, ref = redact_event(fast, event), _redact_fields(slow, event, _names(event))
        assert out == ref
        assert (out is event) == (ref is event)
        assert (fast.carry, fast.quiet) == (slow.carry, slow.quiet)


def _names(event: Event) -> tuple[str, ...]:
    return REDACTED_FIELDS[type(event).__name__]
