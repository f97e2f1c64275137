"""p8j.journal.store: where events are kept, behind one seam.

`base` defines the seam (the `SessionStore`, `StoreWriter`, `StoreCursor`,
`Blobs` and `StoreWatch` protocols, `Position`, and `HomeStore`: what the
file store offers readers' fast paths beyond the seam; `listing`: `ListingStore`,
what a store that keeps the listing catalog itself offers); backends live beside each
other: `fs` (the journal files, the default), `memory`, and `nats` (NATS
JetStream, the optional extra ``p8j[nats]``; import `p8j.journal.store.nats`
for its names, which imports nats-py). `open_store` picks
one (an explicit argument, else ``$P8J_STORE``, else the file store at the
home); `contract` is the behaviour every backend must pass. A store knows
nothing of caches, secrets or the SessionManager.

Names load on first use (PEP 562), so importing the package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .base import (
        Blobs,
        Change,
        ChangeKind,
        HomeStore,
        Position,
        SessionStore,
        StoreCursor,
        StoreEntry,
        StoreWatch,
        StoreWriter,
    )
    from .fs.store import FileStore
    from .listing import ListingChanges, ListingStore
    from .memory import MemoryStore
    from .records import RecordCursor
    from .select import as_store, open_store

_LAZY: dict[str, str] = {
    "Blobs": "base",
    "Change": "base",
    "ChangeKind": "base",
    "FileStore": "fs.store",
    "HomeStore": "base",
    "ListingChanges": "listing",
    "ListingStore": "listing",
    "MemoryStore": "memory",
    "Position": "base",
    "RecordCursor": "records",
    "SessionStore": "base",
    "StoreCursor": "base",
    "StoreEntry": "base",
    "StoreWatch": "base",
    "StoreWriter": "base",
    "as_store": "select",
    "open_store": "select",
}

__all__ = [
    "Blobs",
    "Change",
    "ChangeKind",
    "FileStore",
    "HomeStore",
    "ListingChanges",
    "ListingStore",
    "MemoryStore",
    "Position",
    "RecordCursor",
    "SessionStore",
    "StoreCursor",
    "StoreEntry",
    "StoreWatch",
    "StoreWriter",
    "as_store",
    "open_store",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
