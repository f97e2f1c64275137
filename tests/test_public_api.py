"""Every package has an explicit, sorted `__all__` of names that exist, and ships py.typed."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

PACKAGES = ["p8j.journal", "p8j.journal.store", "p8j.journal.store.fs", "p8j.replay", "p8j.cli"]


def isort_key(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: CONSTANTS, then Classes, then functions; each alphabetical."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_explicit_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    source = Path(inspect.getfile(module)).read_text("utf-8")
    literal = None
    for node in ast.parse(source).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == "__all__":
            literal = ast.literal_eval(node.value)  # type: ignore[attr-defined]
    assert literal is not None, f"{name}: __all__ must be a literal list in __init__.py"
    exported = list(module.__all__)
    assert exported == literal
    assert exported == sorted(exported, key=isort_key), f"{name}: __all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}: __all__ has duplicates"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}: __all__ names what does not exist: {missing}"
    if name.count(".") == 1:  # PEP 561: a top-level package's py.typed covers its subpackages
        assert Path(inspect.getfile(module)).with_name("py.typed").is_file()


def test_replay_re_exports_the_journal_errors() -> None:
    journal = importlib.import_module("p8j.journal")
    replay = importlib.import_module("p8j.replay")
    assert replay.P8jError is journal.P8jError
    for n in replay.__all__:
        if n.endswith("Error"):
            assert getattr(replay, n) is getattr(journal, n)
            assert issubclass(getattr(replay, n), journal.P8jError)


def test_every_journal_error_derives_from_p8j_error() -> None:
    journal = importlib.import_module("p8j.journal")
    errors = [getattr(journal, n) for n in journal.__all__ if n.endswith("Error")]
    assert len(errors) >= 8
    for err in errors:
        assert issubclass(err, journal.P8jError)
