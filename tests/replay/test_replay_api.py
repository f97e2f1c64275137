"""Package surfaces: the lazy replay exports, and the layering cli -> replay -> journal."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_lazy_replay_exports_cover_all() -> None:
    import p8j.replay as replay

    eager = {"CorruptLineError", "InvalidSessionIdError", "JournalIOError", "P8jError"}
    eager.add("SessionNotFoundError")
    assert set(replay._LAZY) | eager == set(replay.__all__)


def _imports(folder: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / folder).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
    return found


def test_replay_does_not_import_cli() -> None:
    assert not any(m.startswith("p8j.cli") for m in _imports("replay"))


def test_journal_does_not_import_replay_or_cli() -> None:
    assert not any(m.startswith(("p8j.replay", "p8j.cli")) for m in _imports("journal"))
