"""recording.py: how an imported event's fields are redacted (`redact_event`)."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import FAKES

from p8j.journal.events import SCHEMA_VERSION, MessageRecorded, Origin
from p8j.journal.recording import redact_event
from p8j.journal.secrets.engine import Redactor
from p8j.journal.secrets.rules import marker
from p8j.journal.secrets.stream import RedactStream

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
