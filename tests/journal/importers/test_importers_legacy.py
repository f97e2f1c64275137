"""The original session manager's JSON files: every item one event, native rebuilds the document."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from p8j.journal.events import (
    CommandRecorded,
    ExecutionRecorded,
    MessageRecorded,
    SessionStarted,
)
from p8j.journal.importers.base import ReadPoint
from p8j.journal.importers.engine import import_path
from p8j.journal.importers.legacy import IMPORTER
from p8j.journal.store.fs.store import FileStore

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "legacy"
TOKEN = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"


def session_of(home: Path, source_id: str) -> list[Any]:
    """The events of the session imported from `source_id`."""
    store = FileStore(home)
    for sid in store.session_ids():
        events = list(store.open_cursor(sid).read())
        start = events[0]
        assert isinstance(start, SessionStarted) and start.source is not None
        if start.source.source_id == source_id:
            return events
    raise AssertionError(f"no session imported from {source_id}")


@pytest.mark.parametrize("name", ["completed", "paused"])
def test_fixture_imports_and_rebuilds_exactly(name: str, tmp_path: Path) -> None:
    path = FIXTURES / f"{name}.json"
    doc = json.loads(path.read_text())
    report = import_path("legacy", path, home=tmp_path / "home")
    assert report.ok and report.sessions_new == 1
    items = sum(len(doc[k]) for k in ("conversation_history", "command_history"))
    assert report.events == items + len(doc["execution_histories"])
    events = session_of(tmp_path / "home", doc["session_id"])
    assert events[0].project_name == doc["project_name"]
    assert events[0].origin.ts is not None  # the start_time, as the source time
    assert list(IMPORTER.native(events)) == [doc]
    msgs = [e for e in events if isinstance(e, MessageRecorded)]
    assert [m.content for m in msgs] == [c["content"] for c in doc["conversation_history"]]
    runs = [e for e in events if isinstance(e, ExecutionRecorded)]
    assert [r.exit_code for r in runs] == [x["exit_code"] for x in doc["execution_histories"]]


def test_odd_items_are_kept_raw_and_the_secret_redacted(tmp_path: Path) -> None:
    path = FIXTURES / "odd.json"
    report = import_path("legacy", path, home=tmp_path / "home")
    assert report.ok
    assert report.kept_raw == {
        "conversation_history": 2,
        "command_history": 1,
        "execution_histories": 1,
    }
    events = session_of(tmp_path / "home", "odd")
    assert events[0].cwd is None  # the format never recorded one: unknown, not ours
    cmds = [e for e in events if isinstance(e, CommandRecorded)]
    assert [(c.command, c.cwd) for c in cmds] == [("ls", None), ("make build", "/home/dev/scratch")]
    (rebuilt,) = IMPORTER.native(events)
    source = json.loads(path.read_text())
    assert TOKEN in path.read_text() and TOKEN not in json.dumps(rebuilt)
    fixed = json.loads(json.dumps(rebuilt).replace("[REDACTED:github-token]", TOKEN))
    assert fixed == source


def test_broken_file_is_reported_and_others_imported(tmp_path: Path) -> None:
    report = import_path("legacy", FIXTURES, home=tmp_path / "home")
    assert report.sessions_new == 3
    (skip,) = report.skipped
    assert skip.path.endswith("broken.json") and skip.line == 1
    assert "not valid JSON" in skip.reason


@pytest.mark.parametrize(
    ("text", "why"),
    [(b"", "empty file"), (b"[1]", "a JSON list"), (b'{"a": 1}', "no conversation_history")],
)
def test_not_a_session_file(text: bytes, why: str, tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(text)
    report = import_path("legacy", path, home=tmp_path / "home")
    assert why in report.skipped[0].reason


def test_a_grown_file_adds_only_its_new_items(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    shutil.copy(FIXTURES / "paused.json", path)
    home = tmp_path / "home"
    import_path("legacy", path, home=home)
    doc = json.loads(path.read_text())
    doc["conversation_history"].append({"role": "assistant", "content": "Use single quotes."})
    doc["command_history"].append("exec zsh")
    doc["status"] = "completed"
    doc["end_time"] = "2025-04-02T18:10:00"
    path.write_text(json.dumps(doc))
    report = import_path("legacy", path, home=home)
    assert report.sessions_updated == 1 and report.sessions_new == 0
    assert report.records == {"MessageRecorded": 1, "CommandRecorded": 1, "RecordImported": 1}
    assert report.kept_raw == {"document": 1}
    events = session_of(home, doc["session_id"])
    assert list(IMPORTER.native(events)) == [doc]
    assert import_path("legacy", path, home=home).events == 0


def test_items_map_to_their_index_and_count() -> None:
    path = FIXTURES / "completed.json"
    file = next(IMPORTER.discover(path))
    mapped = list(IMPORTER.read(file, path.read_bytes(), ReadPoint(), IMPORTER.resume_state([])))
    assert [(m.kind, m.line, m.end) for m in mapped] == [
        *(("conversation_history", i, i) for i in range(1, 6)),
        ("command_history", 1, 6),
        ("command_history", 2, 7),
        ("execution_histories", 1, 8),
        ("execution_histories", 2, 9),
    ]
    origins = [m.event.origin for m in mapped if m.event is not None]  # type: ignore[attr-defined]
    assert [(o.line, o.end) for o in origins] == [(m.line, m.end) for m in mapped]
