"""`ListingStore`: the optional capability of a store that keeps the listing catalog itself.

Contract (used by journal/cache/catalog.py; the file store keeps its catalog in
``<home>/cache`` instead and does not implement this):
- `load_listing` returns the catalog's bytes last saved (opaque to the store)
  and the change mark they cover, or None if there are none or they cannot be
  read whole (derived data: never an error).
- `listing_changes(since)` reads the truth: every session's record count, the
  store's change mark now, and which sessions gained records after mark
  `since` (a new log, an append, a rewrite). A removed session is simply
  absent from `counts`. Marks only grow, 0 is before everything, and two
  marks differ by at least the records written between them.
- `save_listing(mark, data)` keeps `data` as covering `mark` (best effort: a
  failure costs the next listing reading more, never correctness).
The catalog stays derived: the store's logs remain the truth, and a listing
from a kept catalog equals one that reads every log.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec

__all__ = ["ListingChanges", "ListingStore"]


class ListingChanges(msgspec.Struct, frozen=True):
    """What a store says changed since a mark (see the module doc)."""

    mark: int
    counts: dict[str, int]  # every session id -> the records in its log now
    touched: frozenset[str]  # sessions that gained records after the mark asked about


@runtime_checkable
class ListingStore(Protocol):
    """A store that keeps the listing catalog itself (see the module doc)."""

    def load_listing(self) -> tuple[int, bytes] | None:
        """The kept catalog's mark and bytes, or None."""
        ...

    def listing_changes(self, since: int) -> ListingChanges:
        """Every session's record count, the mark now, and who changed after `since`."""
        ...

    def save_listing(self, mark: int, data: bytes) -> None:
        """Keep `data` as the catalog covering `mark` (best effort)."""
        ...
