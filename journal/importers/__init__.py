"""p8j.journal.importers: bring other agents' logs in as p8j sessions.

The interface is in base.py (`Importer`, `SourceFile`, `Mapped`, `ReadPoint`,
`rebuild_record`); each agent's importer is one module beside it, found by
name in registry.py (or as a ``p8j.importers`` entry point). engine.py runs
them (`import_path`, `ImportReport`); follow.py keeps doing it (``--follow``).
"""

from __future__ import annotations

from ..lazy import lazy_exports

_LAZY: dict[str, str] = {
    "ImportReport": "report",
    "Importer": "base",
    "Mapped": "base",
    "ReadPoint": "base",
    "SourceFile": "base",
    "event_origin": "base",
    "get_importer": "registry",
    "import_path": "engine",
    "rebuild_record": "base",
    "split_record": "base",
}

__all__ = [
    "ImportReport",
    "Importer",
    "Mapped",
    "ReadPoint",
    "SourceFile",
    "event_origin",
    "get_importer",
    "import_path",
    "rebuild_record",
    "split_record",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
