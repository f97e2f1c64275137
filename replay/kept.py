"""The default listing (every session, most recently active first), kept between listings.

Contract:
- `default_listing` is what `list_sessions`/`sessions_json` give with no filter
  and ``sort="activity"``: the same rows in the same order, as JSON (`DefaultListing.json`,
  the same bytes as `sessions_json`), as `SessionListing`s (`rows`) or as ids.
- A file store's home keeps it (``cache/listing.msgpack``,
  journal/cache/listing_file.py): completed sessions' rows ready in order, and
  the catalog entry of every other session. While the sessions directory and
  the catalog are unchanged, a listing reads that one file, stats each session
  that is not completed (read from its entry's position if it grew) and merges
  them in by the order key (the last activity, else the start; ties newest id
  first); the row of one is built (its summary decoded, the write lock of an
  active one probed: `listing_of`) only if it is shown (``limit``). No scandir,
  no catalog, no per-session decoding of the completed sessions, which are
  nearly all of a journal.
- Otherwise (none kept, stale, damaged, unsafe), a settled journal (`dir_mark`)
  is listed from the catalog and kept for next time; one changed less than
  `SETTLED_NS` ago, or any other store, gives None: the caller lists the slow
  way (`list_sessions`, `sessions_json`), as the result is the same.
- The table's rows of completed sessions are decoded from their kept JSON rows:
  equal to `listing_of`'s wherever JSON holds the value (every field a table
  shows; metadata JSON cannot hold, as NaN, would be null in ``--json`` too).
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

import msgspec

from p8j.journal.cache.listing_file import Kept, kept_listing

from .listing import ROWS, SessionListing, listing_of

if TYPE_CHECKING:
    from p8j.journal.cache.catalog_file import CatalogEntry, EntryView
    from p8j.journal.store.base import SessionStore

__all__ = ["DefaultListing", "default_listing"]

_ROW_ENC = msgspec.json.Encoder()
_ROW_DEC: list[msgspec.json.Decoder[SessionListing]] = []  # built by the table's first row


class DefaultListing:
    """Every session's row, most recently active first: kept rows with fresh ones merged in."""

    __slots__ = ("_built", "_found", "_kept", "_open", "_store")

    def __init__(
        self, store: SessionStore, found: Kept, placed: list[tuple[int, CatalogEntry | EntryView]]
    ) -> None:
        self._store = store
        self._found = found
        self._kept = found.listing
        self._open = placed  # (kept rows before it, entry), in listing order
        self._built: dict[str, SessionListing] = {}

    def _row(self, entry: CatalogEntry | EntryView) -> SessionListing:
        """An open session's row, built (its lock probed) when first shown."""
        row = self._built.get(entry.session_id)
        if row is None:
            row = listing_of(self._store, self._found.summary(entry))
            self._built[entry.session_id] = row
        return row

    @property
    def id_chars(self) -> int:
        """The shortest id prefix (at least 1) that tells every session listed apart."""
        return self._kept.id_chars

    def __len__(self) -> int:
        return len(self._kept.ids) + len(self._open)

    def _pieces(self, limit: int | None) -> list[tuple[int, int] | SessionListing]:
        """The first `limit` rows as runs of kept rows (start, end) and fresh rows, in order."""
        left = len(self) if limit is None else limit
        out: list[tuple[int, int] | SessionListing] = []
        at = 0
        for before, entry in self._open:
            if left <= 0:
                return out
            if before > at:
                end = min(before, at + left)
                out.append((at, end))
                left -= end - at
                at = end
                if left <= 0:
                    return out
            out.append(self._row(entry))
            left -= 1
        end = min(len(self._kept.ids), at + left)
        if end > at:
            out.append((at, end))
        return out

    def _span(self, start: int, end: int) -> memoryview:
        """Kept rows `start` to `end` as they are kept: joined by ``,``."""
        ends = self._kept.ends
        return self._kept.rows[0 if start == 0 else ends[start - 1] + 1 : ends[end - 1]]

    def json(self, limit: int | None = None, *, lines: bool = False) -> bytes:
        """The first `limit` rows as JSON, the bytes `sessions_json` gives (`lines`: JSON lines)."""
        return b"".join(self.json_parts(limit, lines=lines))

    def json_parts(
        self, limit: int | None = None, *, lines: bool = False
    ) -> list[bytes | memoryview]:
        """`json`'s bytes in parts, to be written in order (the kept rows are not copied)."""
        rows: list[bytes | memoryview] = []
        for piece in self._pieces(limit):
            if isinstance(piece, SessionListing):
                rows.append(_ROW_ENC.encode(piece))
            elif lines:
                rows.extend(self._span(i, i + 1) for i in range(*piece))
            else:
                rows.append(self._span(*piece))
        # Not b",".join(rows): that would copy every kept row (MBs) once more.
        sep = b"\n" if lines else b","
        out: list[bytes | memoryview] = [] if lines else [b"["]
        for row in rows:
            out += (row, sep)
        if lines:
            return out
        if rows:
            out.pop()
        out.append(b"]")
        return out

    def rows(self, limit: int | None = None) -> list[SessionListing]:
        """The first `limit` rows, as `list_sessions` gives them."""
        out: list[SessionListing] = []
        for piece in self._pieces(limit):
            if isinstance(piece, SessionListing):
                out.append(piece)
            else:
                if not _ROW_DEC:
                    _ROW_DEC.append(msgspec.json.Decoder(SessionListing))
                decode = _ROW_DEC[0].decode
                out.extend(decode(self._span(i, i + 1)) for i in range(*piece))
        return out

    def session_ids(self, limit: int | None = None) -> list[str]:
        """The first `limit` rows' session ids, in order."""
        out: list[str] = []
        for piece in self._pieces(limit):
            if isinstance(piece, SessionListing):
                out.append(piece.session_id)
            else:
                out.extend(self._kept.ids[piece[0] : piece[1]])
        return out


def default_listing(store: SessionStore) -> DefaultListing | None:
    """The default listing of a file store (module docstring), or None: list the slow way.

    Raises UnsafePathError for an unsafe home, as any listing does.
    """
    found = kept_listing(store, ROWS)
    if found is None:
        return None
    kept = found.listing
    # Every other session in the listing's order (key, then id); rows built when shown.
    fresh = sorted(((e.activity, e.session_id, e) for e in found.open), key=_order, reverse=True)
    placed: list[tuple[int, CatalogEntry | EntryView]] = []
    if fresh and kept.ids:
        # The kept rows in ascending order, to count those before each one with C's bisect.
        rising = list(zip(reversed(kept.keys), reversed(kept.ids), strict=True))
        total = len(rising)
        for key, sid, entry in fresh:
            placed.append((total - bisect.bisect_right(rising, (key, sid)), entry))
    else:
        placed = [(0, entry) for _, _, entry in fresh]
    return DefaultListing(store, found, placed)


def _order(item: tuple[str, str, object]) -> tuple[str, str]:
    return item[0], item[1]
