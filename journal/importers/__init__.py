"""p8j.journal.importers: bring other agents' logs in as p8j sessions.

The interface is in base.py (`Importer`, `SourceFile`, `Mapped`, `ReadPoint`,
`rebuild_record`); each agent's importer is one module beside it.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_LAZY: dict[str, str] = {
    "Importer": "base",
    "Mapped": "base",
    "ReadPoint": "base",
    "SourceFile": "base",
    "event_origin": "base",
    "rebuild_record": "base",
    "split_record": "base",
}

__all__ = [
    "Importer",
    "Mapped",
    "ReadPoint",
    "SourceFile",
    "event_origin",
    "rebuild_record",
    "split_record",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
