"""The kept listing: a whole listing's fixed rows, in order, valid while the sessions directory is.

Contract (``<home>/cache/listing.msgpack``, derived like the catalog: catalog.py):
- `kept_listing` gives a caller's listing of every session of a file store
  (`replay.kept`: the rows of ``p8j ls``, most recently active first: by the
  catalog entry's ``activity``, ties newest id first), split in two:
  ``rows``, the fixed rows (a `Rows` maker's) of completed sessions (each ends
  with its log: the catalog trusts a completed log by its inode), back to back
  in listing order, joined by ``,``, with each row's end offset, session id and
  order key; and ``open``, the catalog entry (`EntryView`, summary still
  encoded) of every other session, given back as of now (`Kept.open`: one
  lstat each; a log that grew is read on from the entry's position,
  `refresh_entry`, and the listing is kept again once what was read on reaches
  1/16 of its size), its summary decoded when the caller asks (`Kept.summary`:
  the rows it shows, each with a write lock to probe).
  ``id_chars`` is `distinct_prefix` of every session listed.
- It is valid for the sessions directory it was made from: its device, inode
  and ``st_mtime_ns``, which every create, unlink and rename in it changes, and
  for the catalog file it was made beside (its inode, 0 for none: a catalog
  deleted, the escape hatch for a completed log changed in place, or rewritten
  makes it stale). An open log replaced, cut or gone makes it stale too.
- Racily clean (as git's index): a directory's mtime is a timestamp of the file
  system's clock, which may tick coarsely, so a session created right after the
  directory was read could leave its mtime unchanged. A listing is kept only if
  the directory was last changed at least `SETTLED_NS` before it was read
  (`dir_mark`, taken before the catalog's scandir); a journal changed more
  recently gives None (list the slow way) until it has settled.
- ``tag`` names the caller's row format (with its version); a file of another
  tag or `LISTING_VERSION`, one that does not decode or is torn, unsafe (a
  symlinked cache, a FIFO, a foreign file: `Home.open_file`) or stale is
  ignored: a settled journal is listed from the catalog (`list_catalog`) and
  kept anew. Written crash-safely (`Home.replace_file`); failing to write it
  costs speed only. Other stores keep none (None).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
import time
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import msgspec

from ..errors import P8jError
from ..store.fs.layout import Home
from .catalog import list_catalog, read_cache, refresh_entry
from .catalog_file import EntryView, Rows, summary_of, with_summary
from .gc import gc_paused

if TYPE_CHECKING:
    from ..store.base import SessionStore
    from .catalog import CatalogListing
    from .catalog_file import CatalogEntry
    from .summary import SessionSummary

__all__ = [
    "LISTING_NAME",
    "LISTING_VERSION",
    "SETTLED_NS",
    "DirMark",
    "Kept",
    "KeptListing",
    "catalog_ino",
    "dir_mark",
    "distinct_prefix",
    "kept_listing",
    "load_listing",
    "save_listing",
]

LISTING_NAME = "listing.msgpack"
LISTING_VERSION = 1
# How long before it was read the sessions directory must have last changed for a listing
# of it to be kept: above any local file system's timestamp tick (a jiffy, <= 10 ms) and
# the clock noise between the kernel's coarse clock and time.time_ns(), with room to spare.
SETTLED_NS = 1_000_000_000
# Keep the listing again once the open logs read past its entries reach this share of its size.
_SAVE_SHARE = 16


class DirMark(NamedTuple):
    """The sessions directory as stat'ed (device, inode, mtime), and whether it had settled."""

    dev: int
    ino: int
    mtime_ns: int
    settled: bool


class KeptListing(msgspec.Struct, array_like=True, gc=False):
    """A kept listing as read or to write (module docstring)."""

    version: int
    tag: str
    dir_dev: int
    dir_ino: int
    dir_mtime_ns: int
    catalog_ino: int
    ids: list[str]  # the fixed rows' sessions, in listing order
    keys: list[str]  # their order keys (an entry's ``activity``), in the same order
    ends: list[int]  # where each row ends in `rows`
    rows: memoryview  # the fixed rows, joined by b",": a view of the bytes read, not a copy
    open: list[EntryView]  # every other session's catalog entry, newest first
    id_chars: int  # `distinct_prefix` of every session listed (the kept and the open)


class Kept:
    """A valid kept listing, each open session's entry as of now, and their summaries."""

    __slots__ = ("_home", "_store", "listing", "open")

    def __init__(
        self,
        store: SessionStore,
        home: Home,
        listing: KeptListing,
        entries: list[CatalogEntry | EntryView],
    ) -> None:
        self.listing = listing
        self.open = entries  # newest first (by id)
        self._store = store
        self._home = home

    def summary(self, entry: CatalogEntry | EntryView) -> SessionSummary:
        """An open entry's summary (decoded only now; read from its log if it does not decode)."""
        try:
            return summary_of(entry, {})
        except ValueError:
            pass
        from ..store.base import Position

        with contextlib.suppress(P8jError, OSError):  # damaged: the next listing keeps a new one
            self._home.replace_file("cache", LISTING_NAME, b"")
        head = Position(entry.epoch, entry.head_offset)
        return refresh_entry(self._store, self._home, entry.session_id, head, None).summary


_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(KeptListing)


def dir_mark(home: Home) -> DirMark | None:
    """The sessions directory's mark now (taken before reading it), or None if it has none."""
    now = time.time_ns()  # before the stat: anything changed after it is newer than `now`
    try:
        st = os.lstat(home.sessions_dir)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    settled = now - st.st_mtime_ns >= SETTLED_NS
    return DirMark(st.st_dev, st.st_ino, st.st_mtime_ns, settled)


def catalog_ino(home: Home) -> int:
    """The inode of the catalog file now; 0 if there is none (or no safe cache to hold one)."""
    try:
        fd = home.open_dir("cache")  # checked, never through a symlink
    except (P8jError, OSError):
        return 0
    try:
        return os.stat("catalog.msgpack", dir_fd=fd, follow_symlinks=False).st_ino
    except OSError:
        return 0
    finally:
        os.close(fd)


def load_listing(home: Home, tag: str) -> tuple[KeptListing, DirMark, int] | None:
    """The kept listing made under `tag` if still valid (module docstring), its mark and size."""
    try:
        data = read_cache(home, LISTING_NAME)
    except (P8jError, OSError):
        return None
    try:
        with gc_paused():
            kept = _DEC.decode(data)
    except (ValueError, RecursionError):
        return None
    if kept.version != LISTING_VERSION or kept.tag != tag or len(kept.ends) != len(kept.ids):
        return None
    if len(kept.keys) != len(kept.ids) or (kept.ends and kept.ends[-1] != len(kept.rows)):
        return None
    mark = dir_mark(home)
    if mark is None or (mark.dev, mark.ino, mark.mtime_ns) != (
        kept.dir_dev,
        kept.dir_ino,
        kept.dir_mtime_ns,
    ):
        return None
    if catalog_ino(home) != kept.catalog_ino:
        return None
    return kept, mark, len(data)


def save_listing(home: Home, kept: KeptListing) -> None:
    """Write the kept listing (crash-safely); a failure costs the next listing's speed only."""
    try:
        data = _ENC.encode(kept)
    except (OverflowError, TypeError, ValueError, RecursionError):
        return
    with contextlib.suppress(P8jError, OSError):
        home.replace_file("cache", LISTING_NAME, data)


def kept_listing(store: SessionStore, rows: Rows) -> Kept | None:
    """The file store's kept listing of `rows`, valid now (module docstring); None: list slowly.

    Raises UnsafePathError for an unsafe home, as any listing does.
    """
    from ..store.base import is_home_store

    if not is_home_store(store):
        return None
    home = store.home
    home.check()
    found = load_listing(home, rows.tag)
    if found is not None:
        fresh = _open_now(store, home, found[0], found[1:])
        if fresh is not None:
            return fresh
    mark = dir_mark(home)  # before the catalog reads the directory
    if mark is None or not mark.settled:
        return None
    kept = _keep(list_catalog(store, rows), rows.tag, mark, catalog_ino(home))
    if kept is None:
        return None
    save_listing(home, kept)
    return _open_now(store, home, kept, None)


def _keep(catalog: CatalogListing, tag: str, mark: DirMark, catalog_at: int) -> KeptListing | None:
    """The catalog's listing to keep (None if a summary does not decode)."""
    ids: list[str] = []
    keys: list[str] = []
    ends: list[int] = []
    rows: list[bytes] = []
    others: list[Any] = []
    at = -1
    # The listing's order: the last activity, newest first; ties newest id first (stable).
    for entry in sorted(catalog.entries, key=_activity, reverse=True):
        row = entry.row
        if row is None:
            return None  # its summary does not decode: listed from its log, not kept
        if entry.status == "completed" and row:
            ids.append(entry.session_id)
            keys.append(entry.activity)
            rows.append(row)
            at += len(row) + 1
            ends.append(at)
            continue
        try:
            summary = catalog.summary(entry)
        except ValueError:
            return None
        whole = with_summary(entry, summary) if isinstance(entry, EntryView) else entry
        others.append(msgspec.structs.replace(whole, row=None))
    others.sort(key=_session_id, reverse=True)
    every = [*ids, *(e.session_id for e in others)]
    return KeptListing(
        *(LISTING_VERSION, tag, mark.dev, mark.ino, mark.mtime_ns, catalog_at),
        *(ids, keys, ends, memoryview(b",".join(rows)), others, distinct_prefix(every)),
    )


def distinct_prefix(ids: list[str], minimum: int = 1) -> int:
    """The shortest prefix length (at least `minimum`) that tells every id in `ids` apart."""
    ordered = sorted(ids)  # linear for ids already in order (newest first is reversed order)
    length = minimum
    # In sorted order the longest prefix an id shares with any other it shares with a neighbour.
    for a, b in itertools.pairwise(ordered):
        if a[:length] == b[:length] and a != b:
            while a[length : length + 1] == b[length : length + 1]:
                length += 1
            length += 1
    return length


def _activity(entry: Any) -> str:
    return cast("str", entry.activity)


def _session_id(entry: Any) -> str:
    return cast("str", entry.session_id)


def _open_now(
    store: SessionStore, home: Home, kept: KeptListing, loaded: tuple[DirMark, int] | None
) -> Kept | None:
    """`kept` with every open session's entry now (a grown log read on); None if one is gone."""
    from ..store.base import Position

    out: list[CatalogEntry | EntryView] = []
    read = 0
    if not kept.open:
        return Kept(store, home, kept, out)
    try:
        fd = home.open_dir("sessions")  # one lstat per log relative to it: no path to walk
    except (P8jError, OSError):
        return None
    try:
        for view in kept.open:
            entry: CatalogEntry | EntryView = view
            sid = entry.session_id
            try:
                st = os.lstat(f"{sid}.jsonl", dir_fd=fd)
            except OSError:
                return None  # gone: the catalog sorts it out
            size = st.st_size
            if not stat.S_ISREG(st.st_mode) or st.st_ino != entry.epoch or size < entry.offset:
                return None  # replaced or cut: likewise
            if size != entry.head_offset:
                read += size - entry.offset
                entry = refresh_entry(store, home, sid, Position(st.st_ino, size), entry)
            out.append(entry)
    finally:
        os.close(fd)
    if loaded is not None and read and read * _SAVE_SHARE >= loaded[1]:
        # Open logs grew: keep their entries as read now (the directory is as its mark saw it).
        bare = [msgspec.structs.replace(e, row=None) for e in out]
        save_listing(home, msgspec.structs.replace(kept, open=bare))
    return Kept(store, home, kept, out)
