"""p8j.journal.cache: derived, rebuildable caches (listing catalog, snapshots).

Never needed for correctness: any failure to read, decode, encode or write a
cache falls back to the logs. `catalog` (summaries and the listing catalog:
`list_summaries`, `list_store_summaries`, `summarize`) and `snapshots` (folded
Sessions for fast resume: `fold_log`) key their freshness on store Positions;
they are kept in the file store's home only (other stores are read whole).

Names load on first use (PEP 562), so importing the package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .catalog import SessionSummary, list_store_summaries, list_summaries, summarize
    from .snapshots import fold_log

_LAZY: dict[str, str] = {
    "SessionSummary": "catalog",
    "fold_log": "snapshots",
    "list_store_summaries": "catalog",
    "list_summaries": "catalog",
    "summarize": "catalog",
}

__all__ = ["SessionSummary", "fold_log", "list_store_summaries", "list_summaries", "summarize"]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
