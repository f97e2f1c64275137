"""Every package has an explicit, sorted `__all__` of names that exist, and ships py.typed."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import msgspec
import pytest

PACKAGES = [
    "p8j.journal",
    "p8j.journal.cache",
    "p8j.journal.secrets",
    "p8j.journal.store",
    "p8j.journal.store.fs",
    "p8j.replay",
    "p8j.cli",
]


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
            value = node.value  # type: ignore[attr-defined]
            literal = ast.literal_eval(value) if isinstance(value, ast.List) else None
    exported = list(module.__all__)
    if name == "p8j.journal":
        # Derived from the one `_EXPORTS` table; type checkers see the TYPE_CHECKING imports.
        assert literal is None
        assert sorted(exported) == sorted(n for ns in module._EXPORTS.values() for n in ns)
        assert sorted(exported) == sorted(_type_checking_names(source))
    else:
        assert literal is not None, f"{name}: __all__ must be a literal list in __init__.py"
        assert exported == literal
    assert exported == sorted(exported, key=isort_key), f"{name}: __all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}: __all__ has duplicates"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}: __all__ names what does not exist: {missing}"
    if name.count(".") == 1:  # PEP 561: a top-level package's py.typed covers its subpackages
        assert Path(inspect.getfile(module)).with_name("py.typed").is_file()


def _type_checking_names(source: str) -> list[str]:
    """Names an ``if TYPE_CHECKING:`` block of `source` imports."""
    names: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                names.extend(a.asname or a.name for a in imp.names)
    return names


EMBEDDER_FACE = {
    "Durability",
    "Home",
    "MemoryStore",
    "Session",
    "SessionManager",
    "SessionStore",
    "SessionSummary",
    "resolve_home",
}
MOVED = {
    "p8j.journal.store.fs": [
        "LockHolder",
        "LogCursor",
        "LogWriter",
        "ReadIssue",
        "lock_holder",
        "read_events",
        "resolve_session_ref",
    ],
    "p8j.journal.codec": ["decode_line", "encode_event"],
    "p8j.journal.session": ["apply", "fold"],
    "p8j.journal.cache": ["list_summaries", "summarize"],
    "p8j.journal.secrets": ["Redactor"],
    "p8j.journal.ids": ["new_session_id", "validate_session_id"],
}


def test_the_journal_face_is_what_embedders_use() -> None:
    journal = importlib.import_module("p8j.journal")
    events = importlib.import_module("p8j.journal.events")
    errors = importlib.import_module("p8j.journal.errors")
    # Every event struct (and the union and schema version), every error class.
    event_names = {
        n
        for n, v in vars(events).items()
        if isinstance(v, type) and issubclass(v, msgspec.Struct) and v.__module__ == events.__name__
    } | {"AnyEvent", "SCHEMA_VERSION"}
    error_names = {
        n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, errors.P8jError)
    }
    assert set(journal.__all__) == EMBEDDER_FACE | event_names | error_names
    for package, names in MOVED.items():
        module = importlib.import_module(package)
        for name in names:
            assert name in module.__all__ and hasattr(module, name), (package, name)
            assert name not in journal.__all__
            with pytest.raises(AttributeError):
                getattr(journal, name)


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
