"""The layering, checked on the source: who may import whom, no cycles, no private crossings.

Rules (DEVELOPERS.md, "Fixed design" and convention 1):
- packages: journal imports neither replay nor cli; replay does not import cli;
- inside journal: the core (errors, events, codec, ids, timefmt, session and
  any other module at its top but manager) imports none of store, cache,
  secrets, manager, nor the package itself (which imports them all); store
  imports none of cache, secrets, manager; cache none of secrets, manager;
- no import cycles between p8j modules (every import counts, also those inside
  functions: a lazy import only hides a cycle);
- no private (``_``) name crosses a module boundary, and no private module of a
  dependency is imported (its API may change in any release);
- no function over `MAX_FUNCTION_LINES` lines, no module over `MAX_MODULE_LINES`;
- replay reads sessions only through the store seam (journal/store/base.py,
  select.py): it imports nothing from ``p8j.journal.store.fs`` (also not the
  file store's classes re-exported by ``p8j.journal.store``), so ls, search,
  verify, info and tail work on any store. The file store's fast paths are
  reached through the `HomeStore` protocol. Exceptions are named in
  `REPLAY_FS_EXCEPTIONS` with why (none today).

What breaks a rule today is listed below, each with who owns it; a fix removes
its entry (a listed exception that no longer occurs fails too, so the lists only
shrink).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
K = TypeVar("K", str, tuple[str, str])
PACKAGES = {"p8j.journal": "journal", "p8j.replay": "replay", "p8j.cli": "cli"}

# Which top-level package may import which: like click's tests/test_imports.py, an allow-list.
ALLOWED_PACKAGES: dict[str, set[str]] = {
    "p8j.journal": {"p8j.journal"},
    "p8j.replay": {"p8j.journal", "p8j.replay"},
    "p8j.cli": {"p8j.journal", "p8j.replay", "p8j.cli"},
}

# Inside journal: the parts of each layer must not import these parts.
FORBIDDEN_IN_JOURNAL: dict[str, set[str]] = {
    "core": {"store", "cache", "secrets", "manager", "package"},
    "store": {"cache", "secrets", "manager", "package"},
    "cache": {"secrets", "manager", "package"},
}

# Modules at journal's top that belong to the manager's layer (it composes core, store,
# cache and secrets): the manager's own helpers, split out to keep it short.
MANAGER_HELPERS = {"garbage", "housekeeping", "recording"}
# The import engine writes through the store with the manager's redaction and blobs: it is
# in the manager's layer; the rest of importers/ (the interface, the parsers) is core.
IMPORT_ENGINE = {"engine", "sources", "follow"}

MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 500

# (importing module, imported module or module:name) -> why it is still there.
# TEMPORARY: each entry is a file another engineer owns; remove it when they fix it.
KNOWN_PRIVATE_CROSSINGS: dict[tuple[str, str], str] = {}
KNOWN_LAYER_BREAKS: dict[tuple[str, str], str] = {}
# "module:function" -> why. TEMPORARY, as above.
KNOWN_LONG_FUNCTIONS: dict[str, str] = {}
KNOWN_LONG_MODULES: dict[str, str] = {}
# (replay module, imported p8j.journal.store.fs module or module:name) -> why it must stay.
# Empty: everything replay needs of the file store is behind the seam (HomeStore).
REPLAY_FS_EXCEPTIONS: dict[tuple[str, str], str] = {}
# Names `p8j.journal.store` re-exports from its file-system backend.
FS_NAMES_IN_STORE = {"FileStore"}


@dataclass(frozen=True)
class Import:
    """One import statement's target: a module, or a name taken from one."""

    importer: str
    module: str  # absolute
    name: str | None  # for ``from module import name``
    line: int
    type_checking: bool


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    parts[0] = next(p for p, folder in PACKAGES.items() if folder == parts[0])
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found = {}
    for folder in PACKAGES.values():
        for path in sorted((ROOT / folder).rglob("*.py")):
            found[_module_name(path)] = path
    return found


SOURCES = _sources()


def _resolve(importer: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(module: str) -> list[Import]:
    path = SOURCES[module]
    tree = ast.parse(path.read_text("utf-8"))
    guarded = _type_checking_lines(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append(Import(module, alias.name, None, node.lineno, node.lineno in guarded))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node)
            if target == "__future__":
                continue
            for alias in node.names:
                out.append(Import(module, target, alias.name, node.lineno, node.lineno in guarded))
    return out


IMPORTS = {m: _imports(m) for m in SOURCES}


def _targets(imp: Import) -> str:
    """The p8j module an import loads: ``from pkg import mod`` names the submodule."""
    if imp.name is not None and f"{imp.module}.{imp.name}" in SOURCES:
        return f"{imp.module}.{imp.name}"
    return imp.module


def _package(module: str) -> str | None:
    return next((p for p in PACKAGES if module == p or module.startswith(p + ".")), None)


def _journal_part(module: str) -> str:
    if module == "p8j.journal":
        return "package"
    rest = module.removeprefix("p8j.journal.").split(".")
    if rest[0] in ("store", "cache", "secrets", "manager"):
        return rest[0]
    if rest[0] in MANAGER_HELPERS:
        return "manager"
    if rest[0] == "importers" and len(rest) > 1 and rest[1] in IMPORT_ENGINE:
        return "manager"
    return "core"


def _layer_breaks() -> dict[tuple[str, str], str]:
    found = {}
    for module, imports in IMPORTS.items():
        own = _package(module)
        assert own is not None
        for imp in imports:
            target = _targets(imp)
            other = _package(target)
            if other is None:
                continue
            if other not in ALLOWED_PACKAGES[own]:
                found[(module, target)] = f"line {imp.line}: {own} may not import {other}"
            elif own == other == "p8j.journal" and module != "p8j.journal":
                part, theirs = _journal_part(module), _journal_part(target)
                if theirs in FORBIDDEN_IN_JOURNAL.get(part, set()):
                    found[(module, target)] = f"line {imp.line}: {part} may not import {theirs}"
    return found


def _replay_fs_imports() -> dict[tuple[str, str], str]:
    """Imports of the file-system backend by replay (type-only ones too: they couple)."""
    found = {}
    for module, imports in IMPORTS.items():
        if _package(module) != "p8j.replay":
            continue
        for imp in imports:
            target = _targets(imp)
            if target == "p8j.journal.store.fs" or target.startswith("p8j.journal.store.fs."):
                key = (module, target if imp.name is None else f"{imp.module}:{imp.name}")
                found[key] = f"line {imp.line}: replay reads the store through the seam"
            elif target == "p8j.journal.store" and imp.name in FS_NAMES_IN_STORE:
                key = (module, f"{imp.module}:{imp.name}")
                found[key] = f"line {imp.line}: the file store's class, through the package"
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_attributes(module: str) -> dict[tuple[str, str], str]:
    """``alias._name`` where `alias` is bound by an import to another module."""
    tree = ast.parse(SOURCES[module].read_text("utf-8"))
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.partition(".")[0]] = a.name
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, SOURCES[module], node)
            for a in node.names:
                if f"{target}.{a.name}" in SOURCES:
                    aliases[a.asname or a.name] = f"{target}.{a.name}"
    found = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _private(node.attr)
        ):
            key = (module, f"{aliases[node.value.id]}:{node.attr}")
            found[key] = f"line {node.lineno}: a private attribute of another module"
    return found


def _private_crossings() -> dict[tuple[str, str], str]:
    found = {}
    for module in SOURCES:
        found.update(_private_attributes(module))
    for module, imports in IMPORTS.items():
        for imp in imports:
            target = _targets(imp)
            if _package(target) is None and any(_private(p) for p in imp.module.split(".")):
                found[(module, imp.module)] = f"line {imp.line}: a dependency's private module"
            elif imp.name is not None and _private(imp.name) and target != module:
                key = (module, f"{imp.module}:{imp.name}")
                found[key] = f"line {imp.line}: a private name from another module"
    return found


def _cycles() -> list[list[str]]:
    graph = {
        m: sorted({_targets(i) for i in imps if not i.type_checking} & SOURCES.keys() - {m})
        for m, imps in IMPORTS.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)
    return cycles


def _long_functions() -> dict[str, int]:
    found = {}
    for module, path in SOURCES.items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found[f"{module}:{node.name}"] = length
    return found


def _check(found: Mapping[K, str], known: Mapping[K, str]) -> None:
    """Fail on a violation not listed as known, and on a listed one that is gone."""
    new = {k: v for k, v in found.items() if k not in known}
    assert not new, f"new violations: {new}"
    gone = sorted(set(known) - set(found))
    assert not gone, f"listed as known but fixed: remove them from the list: {gone}"


def test_the_sources_are_found() -> None:
    assert {"p8j.journal", "p8j.journal.ids", "p8j.journal.store.fs.cursor"} <= SOURCES.keys()
    assert {"p8j.replay.load", "p8j.cli.picker", "p8j.cli.main"} <= SOURCES.keys()
    assert _journal_part("p8j.journal.store.fs.cursor") == "store"
    assert _journal_part("p8j.journal.timefmt") == "core"


def test_layers() -> None:
    _check(_layer_breaks(), KNOWN_LAYER_BREAKS)


def test_no_private_name_or_private_dependency_module_crosses_a_boundary() -> None:
    _check(_private_crossings(), KNOWN_PRIVATE_CROSSINGS)


def test_replay_reads_only_through_the_store_seam() -> None:
    _check(_replay_fs_imports(), REPLAY_FS_EXCEPTIONS)


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_no_function_is_too_long() -> None:
    found = {k: f"{n} lines" for k, n in _long_functions().items()}
    _check(found, KNOWN_LONG_FUNCTIONS)


def test_no_module_is_too_long() -> None:
    found = {}
    for module, path in SOURCES.items():
        n = len(path.read_text("utf-8").splitlines())
        if n > MAX_MODULE_LINES:
            found[module] = f"{n} lines"
    _check(found, KNOWN_LONG_MODULES)


LOADED = """
import importlib, pkgutil, sys
import p8j.journal as journal
for name in journal.__all__:  # the package's lazy exports, every one resolved
    getattr(journal, name)
for info in pkgutil.walk_packages(journal.__path__, "p8j.journal."):
    importlib.import_module(info.name)
print(*sorted(m for m in sys.modules if m.startswith("p8j.")))
"""


def test_importing_the_journal_loads_neither_replay_nor_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOADED], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = done.stdout.split()
    assert {"p8j.journal.manager", "p8j.journal.secrets.scan"} <= set(loaded)  # it saw them load
    assert [m for m in loaded if m.startswith(("p8j.replay", "p8j.cli"))] == []


# -- the checks themselves catch what they should ----------------------------------------


@pytest.mark.parametrize(
    ("module", "source", "rule"),
    [
        ("p8j.journal.timefmt", "from p8j.replay.load import load_session", "layers"),
        ("p8j.journal.codec", "from .store.fs.cursor import LogCursor", "layers"),
        ("p8j.journal.store.fs.writer", "from ...cache import catalog", "layers"),
        ("p8j.journal.cache.catalog", "from ..secrets.scan import scan_session", "layers"),
        ("p8j.journal.ids", "from . import manager", "layers"),
        ("p8j.replay.load", "import p8j.cli.main", "layers"),
        ("p8j.replay.load", "from .export import _fence", "private"),
        ("p8j.replay.load", "from . import export\nexport._fence('x')", "private"),
        ("p8j.cli.ls", "import p8j.replay as r\nr._LAZY", "private"),
        ("p8j.cli.demo", "from watchfiles._rust_notify import RustNotify", "private"),
        ("p8j.replay.verify", "from p8j.journal.store.fs import LogCursor", "fs"),
        ("p8j.replay.listing", "from p8j.journal.store.fs.archived import archived_ids", "fs"),
        ("p8j.replay.search", "from ..journal.store import fs", "fs"),
        ("p8j.replay.load", "from p8j.journal.store import FileStore", "fs"),
        ("p8j.replay.info", "if TYPE_CHECKING:\n    from p8j.journal.store.fs import Home", "fs"),
    ],
)
def test_the_rules_catch_a_planted_violation(
    module: str, source: str, rule: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    planted = tmp_path / SOURCES[module].name
    planted.write_text(SOURCES[module].read_text("utf-8") + "\n" + source + "\n", "utf-8")
    monkeypatch.setitem(SOURCES, module, planted)
    monkeypatch.setitem(IMPORTS, module, _imports(module))
    rules = {
        "layers": (_layer_breaks, KNOWN_LAYER_BREAKS),
        "private": (_private_crossings, KNOWN_PRIVATE_CROSSINGS),
        "fs": (_replay_fs_imports, REPLAY_FS_EXCEPTIONS),
    }
    finder, known = rules[rule]
    found = finder()
    assert any(k[0] == module and k not in known for k in found), found


def test_a_long_function_and_module_are_caught(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    planted = tmp_path / "ids.py"
    text = SOURCES["p8j.journal.ids"].read_text("utf-8")
    padding = "# padding\n" * MAX_MODULE_LINES
    planted.write_text(text + "\n\ndef _planted():\n" + body + padding, "utf-8")
    monkeypatch.setitem(SOURCES, "p8j.journal.ids", planted)
    assert _long_functions().get("p8j.journal.ids:_planted") == MAX_FUNCTION_LINES + 1
    with pytest.raises(AssertionError, match="new violations"):
        test_no_module_is_too_long()
    with pytest.raises(AssertionError, match="new violations"):
        test_no_function_is_too_long()


def test_a_cycle_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = Import("p8j.journal.ids", "p8j.journal.codec", "encode_event", 1, False)
    back = Import("p8j.journal.codec", "p8j.journal.ids", "new_session_id", 1, False)
    monkeypatch.setitem(IMPORTS, "p8j.journal.ids", [*IMPORTS["p8j.journal.ids"], fake])
    monkeypatch.setitem(IMPORTS, "p8j.journal.codec", [*IMPORTS["p8j.journal.codec"], back])
    assert any({"p8j.journal.ids", "p8j.journal.codec"} <= set(c) for c in _cycles())
    guarded = Import("p8j.journal.codec", "p8j.journal.ids", "x", 1, True)
    monkeypatch.setitem(IMPORTS, "p8j.journal.codec", [*IMPORTS["p8j.journal.codec"], guarded])
    monkeypatch.setitem(IMPORTS, "p8j.journal.ids", IMPORTS["p8j.journal.ids"][:-1])
    assert _cycles() == []  # a TYPE_CHECKING import is not loaded at run time
