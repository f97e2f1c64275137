"""Which importer serves ``p8j import <agent>``: the built-in table, then entry points.

Contract:
- `BUILTIN` maps an agent's name to ``module:attribute`` of its `Importer`
  object; those modules are imported only when their importer is asked for.
- Another agent's importer is one module plus one entry point in the
  ``p8j.importers`` group (``name = "pkg.module:IMPORTER"``), found through
  importlib.metadata; a built-in name wins over an entry point of that name.
- `native_records` rebuilds an imported session's source records with the
  importer its ``SessionStarted.source`` names.
- `get_importer` raises `ImporterError` (a `P8jError`) naming the importer and
  what went wrong: an unknown name (listing the known ones), a module that
  fails to import, a missing attribute, an object that is not an `Importer`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ..errors import P8jError
from ..events import AnyEvent, SessionStarted, UnknownEvent
from .base import Importer

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "ImporterError",
    "get_importer",
    "importer_names",
    "native_records",
]

ENTRY_POINT_GROUP = "p8j.importers"

BUILTIN: dict[str, str] = {
    "claude": "p8j.journal.importers.claude:IMPORTER",
    "codex": "p8j.journal.importers.codex:IMPORTER",
    "legacy": "p8j.journal.importers.legacy:IMPORTER",
}


class ImporterError(P8jError):
    """An importer that is unknown, cannot be loaded, or is not an `Importer`."""


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def importer_names() -> list[str]:
    """Every importer's name: the built-in ones and those registered as entry points, sorted."""
    return sorted(set(BUILTIN) | set(_entry_points()))


def _load(name: str, target: str) -> object:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # an importer's own bug: ImportError, SyntaxError, anything
        raise ImporterError(f"importer {name!r}: cannot import {module_name}: {exc}") from exc
    try:
        return getattr(module, attr) if attr else module
    except AttributeError as exc:
        raise ImporterError(f"importer {name!r}: {module_name} has no {attr}") from exc


def get_importer(name: str) -> Importer:
    """The importer registered as `name` (built-in, else entry point); ImporterError if none."""
    if name in BUILTIN:
        obj = _load(name, BUILTIN[name])
    else:
        found = _entry_points().get(name)
        if found is None:
            known = ", ".join(importer_names())
            raise ImporterError(f"no importer named {name!r} (known: {known})")
        obj = _load(name, found.value)
    if not isinstance(obj, Importer):
        raise ImporterError(
            f"importer {name!r}: {type(obj).__name__} is not an Importer "
            "(needs agent, default_paths, discover, read, resume_state, start_event, native)"
        )
    return obj


def native_records(events: Sequence[AnyEvent | UnknownEvent]) -> Iterator[Any]:
    """An imported session's source records, rebuilt by its importer (``export -f native``).

    ImporterError if the session was not imported (its start names no source).
    """
    start = events[0] if events else None
    if not isinstance(start, SessionStarted) or start.source is None:
        sid = start.session_id if start is not None else "?"
        raise ImporterError(
            f"session {sid} was not imported from another agent: it has no native format"
        )
    return get_importer(start.source.agent).native(events)
