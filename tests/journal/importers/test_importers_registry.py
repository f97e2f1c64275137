"""The importer registry: built-in names, entry points from a real .dist-info, clear errors."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from p8j.journal.errors import P8jError
from p8j.journal.importers.legacy import IMPORTER as LEGACY
from p8j.journal.importers.registry import (
    ImporterError,
    get_importer,
    importer_names,
    native_records,
)


def make_dist(root: Path, entries: dict[str, str], modules: dict[str, str]) -> None:
    """A fake installed distribution under `root`: modules and a dist-info with entry points."""
    info = root / "fake_agents-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-agents\nVersion: 1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entries.items())
    (info / "entry_points.txt").write_text(f"[p8j.importers]\n{lines}")
    for name, text in modules.items():
        (root / f"{name}.py").write_text(text)


@pytest.fixture
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path for fake distributions."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    yield root
    for name in ("myagent", "broken_agent", "notimporter"):
        sys.modules.pop(name, None)


def test_builtin_legacy() -> None:
    assert get_importer("legacy") is LEGACY
    assert {"claude", "codex", "legacy"} <= set(importer_names())


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ImporterError, match=r"no importer named 'nope' \(known: .*legacy"):
        get_importer("nope")


def test_entry_point_importer_is_found(dist: Path) -> None:
    module = (
        "from fake_importers import LineImporter\nIMPORTER = LineImporter('myagent', 'claude')\n"
    )
    make_dist(dist, {"myagent": "myagent:IMPORTER"}, {"myagent": module})
    assert "myagent" in importer_names()
    assert get_importer("myagent").agent == "myagent"


def test_broken_entry_points_are_clear_errors(dist: Path) -> None:
    make_dist(
        dist,
        {
            "broken": "broken_agent:IMPORTER",
            "missing": "no_such_module_xyz:IMPORTER",
            "noattr": "notimporter:NOPE",
            "wrong": "notimporter:THING",
        },
        {"broken_agent": "raise RuntimeError('boom')\n", "notimporter": "THING = 42\n"},
    )
    with pytest.raises(ImporterError, match="'broken': cannot import broken_agent: boom"):
        get_importer("broken")
    with pytest.raises(ImporterError, match="'missing': cannot import no_such_module_xyz"):
        get_importer("missing")
    with pytest.raises(ImporterError, match="'noattr': notimporter has no NOPE"):
        get_importer("noattr")
    with pytest.raises(ImporterError, match="'wrong': int is not an Importer"):
        get_importer("wrong")
    assert issubclass(ImporterError, P8jError)


def test_native_records_refuses_a_session_that_was_not_imported() -> None:
    from p8j.journal.events import SessionStarted

    start = SessionStarted(1, "019b0000-0000-7000-8000-000000000000", 0, "t", "p")
    with pytest.raises(ImporterError, match="was not imported"):
        list(native_records([start]))
