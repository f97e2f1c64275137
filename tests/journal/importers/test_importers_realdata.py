"""Every real Claude Code and Codex log imports: records = imported + skipped, native is exact."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from p8j.journal.events import SessionStarted
from p8j.journal.importers.base import event_origin
from p8j.journal.importers.engine import import_path
from p8j.journal.importers.registry import get_importer
from p8j.journal.importers.report import ImportReport
from p8j.journal.store.fs.store import FileStore

REALDATA = Path(__file__).resolve().parents[3].parent / "shared" / "realdata"
CORPORA = {"claude": REALDATA / "claude-code", "codex": REALDATA / "codex"}
needs_realdata = pytest.mark.skipif(not REALDATA.is_dir(), reason=f"no real logs at {REALDATA}")


class Imported:
    """One corpus imported into a fresh home (redaction off: native must be byte-exact)."""

    def __init__(self, agent: str, home: Path) -> None:
        self.agent = agent
        self.report: ImportReport = import_path(agent, CORPORA[agent], home=home, redact=False)
        store = FileStore(home)
        self.by_path: dict[str, list[list[Any]]] = defaultdict(list)
        self.starts: dict[str, SessionStarted] = {}
        for sid in store.session_ids():
            events = list(store.open_cursor(sid).read())
            start = events[0]
            assert isinstance(start, SessionStarted) and start.source is not None
            self.starts[sid] = start
            self.by_path[start.source.path].append(events)
        self.skipped: dict[str, set[int]] = defaultdict(set)
        for s in self.report.skipped:
            self.skipped[s.path].add(s.line)


@pytest.fixture(scope="module", params=sorted(CORPORA))
def imported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    """Each corpus, imported once for the module."""
    if not REALDATA.is_dir():
        pytest.skip(f"no real logs at {REALDATA}")
    return Imported(request.param, tmp_path_factory.mktemp(request.param))


@needs_realdata
def test_every_record_is_imported_or_reported(imported: Imported) -> None:
    importer = get_importer(imported.agent)
    files = list(importer.discover(CORPORA[imported.agent]))
    assert files
    for file in files:
        lines = [x for x in Path(file.path).read_bytes().split(b"\n") if x.strip()]
        if file.skipped is not None or 0 in imported.skipped[file.path]:
            assert not imported.by_path.get(file.path)  # a whole file refused: nothing half
            continue
        events = [e for s in imported.by_path[file.path] for e in s]
        got = [e for e in events if event_origin(e) is not None and event_origin(e).line]  # type: ignore[union-attr]
        assert len(got) + len(imported.skipped[file.path]) == len(lines), file.path


@needs_realdata
def test_native_export_reproduces_every_source_record(imported: Imported) -> None:
    importer = get_importer(imported.agent)
    checked = 0
    for path, sessions in imported.by_path.items():
        skipped = imported.skipped[path]
        raw = [x for x in Path(path).read_bytes().split(b"\n")]
        source = [json.loads(x) for i, x in enumerate(raw, 1) if x.strip() and i not in skipped]
        rebuilt = [r for events in sessions for r in importer.native(events)]
        assert rebuilt == source, path
        checked += 1
    assert checked >= 5


@needs_realdata
def test_sub_agents_are_attached_to_their_parent(imported: Imported) -> None:
    importer = get_importer(imported.agent)
    ids = {(s.source.agent, s.source.source_id): sid for sid, s in imported.starts.items()}  # type: ignore[union-attr]
    linked = 0
    for file in importer.discover(CORPORA[imported.agent]):
        if file.parent_source_id is None or (imported.agent, file.parent_source_id) not in ids:
            continue
        (events,) = imported.by_path[file.path]
        assert events[0].parent_id == ids[(imported.agent, file.parent_source_id)], file.path
        linked += 1
    if imported.agent == "claude":
        assert linked >= 3


@needs_realdata
def test_a_second_import_adds_nothing_and_logs_stay_small(
    imported: Imported, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    first = import_path(imported.agent, CORPORA[imported.agent], home=home)
    again = import_path(imported.agent, CORPORA[imported.agent], home=home)
    assert again.events == 0 and again.sessions_new == 0 and again.sessions_updated == 0
    assert first.events == imported.report.events  # redaction changes no count
    logs = sum(p.stat().st_size for p in (home / "sessions").glob("*.jsonl"))
    sources = sum(Path(p).stat().st_size for p in imported.by_path)
    assert logs <= 1.5 * sources
