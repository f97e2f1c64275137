"""Format version 1 replays forever, and the schema only evolves by the written rules.

Schema evolution rules (journal/events.py states them; this file enforces them):

1. A tag (event type name) is never renamed, removed or reused.
2. A field of a released version is never removed or renamed, its type never
   changes, and its default never changes (fields at their default are omitted on
   disk, so an old line reads as the default).
3. A new field always has a default, so lines written before it still decode.
4. A reader meets an event type it does not know as `UnknownEvent` (kept raw,
   reported), and ignores fields it does not know.
5. Logs of every released version live in tests/fixtures/v<N>/ with the
   `Session.to_dict()` they replay to (``<name>.expected.json``); they must replay
   to exactly that forever. A new format version adds a directory; it never
   rewrites an old one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import msgspec
import pytest

from p8j.journal import SCHEMA_VERSION, Home, Session, SessionManager, SessionResumed, UnknownEvent
from p8j.journal.codec import decode_line, encode_event
from p8j.journal.events import EVENT_TYPES, Event
from p8j.journal.store.fs import read_events
from p8j.replay import load_session, load_session_with_report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
V1 = sorted(p.name.removesuffix(".jsonl") for p in (FIXTURES / "v1").glob("*.jsonl"))

# Format version 1 as released: tag -> [(field, type, default)]. Never edit an entry.
V1_SCHEMA: dict[str, list[tuple[str, str, str]]] = {
    "SessionStarted": [
        ("project_name", "str", "required"),
        ("metadata", "dict[str, any]", "{}"),
        ("cwd", "None | str", "None"),
        ("host", "None | str", "None"),
        ("pid", "None | int", "None"),
        ("p8j_version", "None | str", "None"),
        ("forked_from", "None | str", "None"),
        ("forked_at_seq", "None | int", "None"),
    ],
    "MessageRecorded": [
        ("role", "str", "required"),
        ("content", "any", "UNSET"),
        ("extra", "dict[str, any]", "{}"),
    ],
    "CommandRecorded": [("command", "str", "required"), ("cwd", "None | str", "None")],
    "ExecutionRecorded": [
        ("command", "str", "required"),
        ("exit_code", "None | int", "None"),
        ("output", "str", "''"),
        ("started_at", "None | str", "None"),
        ("duration_s", "None | float", "None"),
    ],
    "MetadataUpdated": [("changes", "dict[str, any]", "required")],
    "SessionPaused": [("reason", "None | str", "None")],
    "SessionResumed": [
        ("reason", "None | str", "None"),
        ("recovered", "bool", "False"),
        ("repaired_bytes", "int", "0"),
        ("pid", "None | int", "None"),
        ("host", "None | str", "None"),
    ],
    "SessionEnded": [("reason", "None | str", "None")],
    # Added by p8j repair; readers that predate it meet it as UnknownEvent.
    "LinesRemoved": [
        ("seqs", "int", "1"),
        ("state", "None | str", "None"),
        ("removed", "list[RemovedLines]", "[]"),
        ("repaired_at", "None | str", "None"),
    ],
    # Added by p8j title; readers that predate it meet it as UnknownEvent.
    "SessionTitled": [("title", "str", "required")],
    # Added by the importers (p8j import); readers that predate them meet them as UnknownEvent.
    "SessionCompacted": [
        ("trigger", "None | str", "None"),
        ("tokens_before", "None | int", "None"),
        ("summary", "None | str", "None"),
        ("replacement", "any", "UNSET"),
        ("redactions", "list[str]", "[]"),
        ("blobs", "list[BlobRef]", "[]"),
        ("origin", "None | Origin", "None"),
    ],
    "UsageRecorded": [
        ("usage", "Usage", "required"),
        ("model", "None | str", "None"),
        ("response_id", "None | str", "None"),
        ("origin", "None | Origin", "None"),
    ],
    "RecordImported": [
        ("kind", "str", "required"),
        ("record", "any", "UNSET"),
        ("redactions", "list[str]", "[]"),
        ("blobs", "list[BlobRef]", "[]"),
        ("origin", "None | Origin", "None"),
    ],
}
ENVELOPE = [
    ("v", "int", "required"),
    ("session_id", "str", "required"),
    ("seq", "int", "required"),
    ("ts", "str", "required"),
]


def _type(t: msgspec.inspect.Type) -> str:
    names = {
        msgspec.inspect.IntType: "int",
        msgspec.inspect.StrType: "str",
        msgspec.inspect.FloatType: "float",
        msgspec.inspect.BoolType: "bool",
        msgspec.inspect.NoneType: "None",
        msgspec.inspect.AnyType: "any",
    }
    if isinstance(t, msgspec.inspect.UnionType):
        return " | ".join(sorted(_type(x) for x in t.types))
    if isinstance(t, msgspec.inspect.DictType):
        return f"dict[{_type(t.key_type)}, {_type(t.value_type)}]"
    if isinstance(t, msgspec.inspect.ListType):
        return f"list[{_type(t.item_type)}]"
    if isinstance(t, msgspec.inspect.StructType):
        return t.cls.__name__
    return names.get(type(t), repr(t))


def _fields(cls: type[Event]) -> list[tuple[str, str, str]]:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    out = []
    for f in info.fields:
        if f.required:
            default = "required"
        elif f.default_factory is not msgspec.NODEFAULT:
            default = repr(f.default_factory())
        elif f.default is msgspec.NODEFAULT:
            default = "UNSET"  # optional without a default: absent means msgspec.UNSET
        else:
            default = repr(f.default)
        out.append((f.name, _type(f.type), default))
    return out


def test_schema_version() -> None:
    assert SCHEMA_VERSION >= 1


@pytest.mark.parametrize("tag", sorted(V1_SCHEMA))
def test_v1_fields_are_kept_and_new_fields_have_defaults(tag: str) -> None:
    classes = {c.__name__: c for c in EVENT_TYPES}
    assert tag in classes, f"tag {tag} was renamed or removed"
    cls = classes[tag]
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    assert (info.tag_field, info.tag) == ("type", tag)  # the tag is the class name
    fields = _fields(cls)
    assert fields[:4] == ENVELOPE  # the envelope comes first, unchanged
    now = {name: (typ, default) for name, typ, default in fields[4:]}
    for name, typ, default in V1_SCHEMA[tag]:
        assert name in now, f"{tag}.{name} was removed or renamed"
        assert now[name] == (typ, default), f"{tag}.{name} changed its type or default"
    for name, (_, default) in now.items():
        if name not in {n for n, _, _ in V1_SCHEMA[tag]}:
            assert default != "required", f"new field {tag}.{name} needs a default"


def test_every_event_type_is_in_a_released_schema() -> None:
    # A new event type must be added to the released table of the version that ships it.
    assert {c.__name__ for c in EVENT_TYPES} == set(V1_SCHEMA)


def _install(name: str, home: Home) -> str:
    """Copy fixture `name` into `home`; return its session id."""
    src = FIXTURES / "v1" / f"{name}.jsonl"
    sid = json.loads(src.read_bytes().split(b"\n")[0])["session_id"]
    home.ensure()
    shutil.copyfile(src, home.log_path(sid))
    return str(sid)


def test_there_are_fixtures() -> None:
    assert {"claude-code", "codex", "crash-recovered", "newer-writer"} <= set(V1)


@pytest.mark.parametrize("name", V1)
def test_v1_fixture_replays_to_its_snapshot(name: str, home: Home) -> None:
    sid = _install(name, home)
    expected = json.loads((FIXTURES / "v1" / f"{name}.expected.json").read_text("utf-8"))
    session, report = load_session_with_report(sid, home)
    assert session.to_dict() == expected
    assert Session.from_dict(expected) == session
    assert report.torn is None
    assert all(i.kind == "unknown-event" for i in report.issues)


@pytest.mark.parametrize("name", V1)
def test_v1_lines_re_encode_byte_for_byte(name: str) -> None:
    for raw in (FIXTURES / "v1" / f"{name}.jsonl").read_bytes().splitlines(keepends=True):
        event = decode_line(raw[:-1])
        obj: dict[str, Any] = json.loads(raw)
        if isinstance(event, UnknownEvent) or obj["v"] != 1:
            continue  # a newer writer's line: kept as it is, not re-encoded
        assert encode_event(event) == raw


@pytest.mark.parametrize("name", V1)
def test_v1_fixture_can_be_continued(name: str, home: Home) -> None:
    sid = _install(name, home)
    before = home.log_path(sid).read_bytes()
    old = load_session(sid, home)
    mgr = SessionManager(home)
    if old.status == "completed":
        with pytest.raises(Exception, match="completed"):
            mgr.resume_session(sid)
        return
    mgr.resume_session(sid)
    mgr.record_message({"role": "user", "content": "continued by today's p8j"})
    mgr.end_session()
    after = home.log_path(sid).read_bytes()
    assert after.startswith(before)  # old lines byte-identical
    events, cursor = read_events(home.log_path(sid), session_id=sid)
    assert cursor.torn is None
    assert isinstance(events[old.last_seq + 1], SessionResumed)
    assert load_session(sid, home) == mgr.current_session
    assert mgr.current_session is not None
    assert mgr.current_session.conversation_history[:-1] == old.conversation_history
