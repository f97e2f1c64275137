"""Session summaries and the derived catalog that makes listing cheap.

Contract:
- `summarize` is a pure fold from events to a `SessionSummary` (id, project,
  status, times, counts, title, token usage, parent link, ...). Times are
  effective times (an imported event's source time, journal/fidelity.py): the
  start is the SessionStarted's, the last activity the last timed event's. The
  title is the latest `SessionTitled`, else the first human-written user
  message (not `injected`, not a compaction summary), else
  a stand-in: the first text of any other role.
- `list_summaries` works on any store (`SessionStore.entries`): per session it
  keeps the summary plus the store `Position` (epoch, offset) / line / seq /
  lifecycle state it covers, newest first. The file store (a `HomeStore`)
  keeps that catalog in ``<home>/cache/catalog.msgpack`` (epoch = the log's
  inode, offset = bytes); a `ListingStore` (the NATS store) keeps it itself
  (see below); any other store keeps none and reads every log. A summary's
  ``size_bytes`` is the log's bytes: the file's size on the file store, else
  the size before plus the records read since (each + 1 for its newline, as a
  file holds them), never the store's offset (NATS: a sequence number).
  Listing lists the store's entries once, then:
  - a session whose cached summary is ``completed`` and whose entry has the
    cached epoch (the file store: the directory entry's inode, no stat) is
    reused as is. Nothing may follow ``SessionEnded`` (the writer refuses), and
    p8j rewrites a log only as a new incarnation (the file store: a new file
    renamed over it) and then refreshes the catalog (``p8j redact``). A
    completed log changed in place by another tool is noticed only once the
    catalog is deleted (``use_cache=False`` bypasses it).
  - any other log costs one head (the file store: one stat): unchanged, it is
    reused; grown, it is read only from the cached position; of another epoch
    or shorter, it is re-read.
- The catalog is rewritten only when it is missing or unreadable, a session
  appeared, disappeared or was re-read whole, or the bytes read past cached
  offsets reach 1/16 of the catalog's size: a growing live session costs
  reading its new bytes, not a rewrite of every summary on every listing.
- The catalog is derived: it is written crash-safely (temp file, fsync, rename,
  fsync dir), any unreadable or stale catalog is ignored and rebuilt, and
  deleting it changes nothing but speed. Logs are read with skipping on, so a
  corrupt log still lists; its summary counts the problems met.
- A cache never breaks a listing: failing to open, read, decode, encode or write
  the catalog only costs reading the logs. It is opened through checked
  directory descriptors (`Home.open_file`, `Home.replace_file`): a symlinked
  ``cache/``, a FIFO, a hard-linked or foreign file in its place is ignored, never
  followed, blocked on or written through. Metadata msgpack cannot hold (integers
  beyond 64 bits) is kept as JSON beside the entries; an entry that still cannot
  be encoded is left out (that session is read again on the next listing).
- A `ListingStore` keeps the catalog's bytes itself, with the change mark
  they cover. A listing:
  - asks the store once what changed since the kept mark: every session's
    record count, the mark now, and the sessions with records after the mark;
  - reuses a session's entry when the session is not among those and the entry
    covers as many records as its log holds (an entry saved stale, or torn from
    another save, is read again instead); any other session costs one head and
    is read from its entry's position (same epoch, not shorter), else whole
    (also when the entry claims the whole log but not as many records);
  - drops the entries of sessions gone, and saves the catalog with the mark now
    when a session came, went or was read whole, or the mark moved by
    ``_KEPT_SAVE_AFTER`` (else a growing live session would cost a save of
    every summary on every listing; it is read from its entry's position).
  A missing, torn or undecodable catalog lists by reading every log (and saves
  one); a store that cannot say what changed lists as without a catalog. The
  result equals ``list_summaries(store, use_cache=False)``.
- `list_summaries` takes a store or a home (read as its file store); on a
  file store it applies the home rule first (`Home.check`): an unsafe home is
  refused with `UnsafePathError`, also by listing; a missing one lists empty.
- `list_catalog` is the listing for `p8j ls`: the same entries, read as
  `EntryView`s (catalog_file.py: the keys a listing filters and sorts on, the
  summary decoded only when asked for) and, with a `Rows`, the caller's derived
  row of each summary kept beside it in ``rows.msgpack`` (made for an entry
  without a row of its epoch and offset; saved once made for 1/16 of the
  entries, written like the catalog). A summary that does not
  decode (catalog_file.py) is read from its log instead, and the catalog is
  dropped: the next listing rebuilds it. Other stores (NATS) list as
  `list_summaries` does, without rows.
- Summaries are not tracked by the cycle collector (``gc=False``): they hold
  only strings, numbers and a metadata dict of JSON values, so they form no
  cycle unless a caller puts one in, and listing 100k sessions leaves the
  collector nothing to scan.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any, cast

import msgspec

from ..errors import P8jError
from ..store.fs.layout import Home, check_file
from .catalog_file import (
    CATALOG_VERSION,
    CatalogEntry,
    EntryView,
    Loaded,
    Rows,
    WholeEntry,
    decode_entries,
    decode_rows,
    decode_views,
    decode_whole,
    encode_entries,
    encode_rows,
    entry_of,
    make_row,
    summary_of,
)
from .gc import gc_paused
from .summary import SessionSummary, step, summarize
from .titles import title_of

if TYPE_CHECKING:
    from ..store.base import HomeStore, Position, SessionStore, StoreCursor
    from ..store.fs.cursor import LogCursor
    from ..store.listing import ListingStore

__all__ = [
    "CATALOG_VERSION",
    "CatalogListing",
    "Rows",
    "SessionSummary",
    "list_catalog",
    "list_store_summaries",
    "list_summaries",
    "summarize",
    "title_of",
]

# Rewrite the catalog once the log bytes read past its offsets reach this share of its size
# (and once rows were made for this share of its entries).
_SAVE_SHARE = 16
# A kept catalog is saved again once the store's mark moved this far (records written).
_KEPT_SAVE_AFTER = 256

Entry = CatalogEntry | EntryView | WholeEntry


def __getattr__(name: str) -> Any:
    # The reader (with the codec, blobs and fold it imports) loads only when a log
    # must be read: an up-to-date listing reads none, and `p8j ls` starts faster.
    if name == "LogCursor":
        return _cursor_type()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _cursor_type() -> type[LogCursor]:
    known: type[LogCursor] | None = globals().get("LogCursor")  # set once below, or by a test
    if known is not None:
        return known
    from ..store.fs.cursor import LogCursor as real

    globals()["LogCursor"] = real
    return real


_NAME = "catalog.msgpack"
# Reading the catalog's file: OS errors; P8jError for an unsafe cache directory or file.
_READ_ERRORS = (P8jError, OSError)


def read_cache(home: Home, name: str = _NAME) -> bytes:
    """A cache file's bytes, read only if it is a regular file of ours (never blocks on a FIFO)."""
    fd = home.open_file("cache", name, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        check_file(home.cache_dir / name, st)
        parts = []
        while piece := os.read(fd, max(st.st_size, 1 << 16)):
            parts.append(piece)
    finally:
        os.close(fd)
    return b"".join(parts)


def _load(home: Home, views: bool = True) -> Loaded:
    """The cached entries (as views, or with summaries); none if missing or unreadable."""
    try:
        data = read_cache(home)
    except _READ_ERRORS:
        return Loaded([], {}, 0)
    if not views:
        whole = decode_whole(data)
        if whole is None:
            return Loaded([], {}, 0)
        return Loaded(cast("list[Entry]", whole), {}, len(data))
    found = decode_views(data)
    if found is None:
        return Loaded([], {}, 0)
    return Loaded(cast("list[Entry]", found[0]), found[1], len(data))


def _save(home: Home, entries: list[Entry], json_metadata: dict[str, bytes]) -> None:
    data = encode_entries(entries, json_metadata)
    if data is None:
        return
    # The catalog is only a cache: failing to write it costs speed, never data.
    with contextlib.suppress(P8jError, OSError):
        home.replace_file("cache", _NAME, data)


def _cursor(
    store: SessionStore, home: Home | None, sid: str, old: Entry | None
) -> LogCursor | StoreCursor:
    """A reader of `sid` from where `old` left off (from the start without it)."""
    # Listing needs no blob payloads (a title is one line): never read them.
    at: dict[str, Any] = {}
    if old is not None:
        at = {"line": old.line, "next_seq": old.next_seq, "state": old.state}
    if home is not None:
        # The file store's reader itself: the caller has just stat'ed the log.
        if old is not None:
            at["offset"] = old.offset
        path = home.sessions_dir / f"{sid}.jsonl"
        return _cursor_type()(path, session_id=sid, skip_corrupt=True, resolve_blobs=False, **at)
    from ..store.base import Position

    if old is not None:
        at["position"] = Position(old.epoch, old.offset)
    return store.open_cursor(sid, skip_corrupt=True, resolve_blobs=False, **at)


def refresh_entry(
    store: SessionStore,
    home: Home | None,
    sid: str,
    head: Position,
    old: Entry | None,
    json_metadata: dict[str, bytes] | None = None,
) -> CatalogEntry:
    """`old` brought up to `head` (read from its position), or `sid` read whole."""
    summary: SessionSummary | None = None
    if old is not None and old.epoch == head.epoch and old.offset <= head.offset:
        with contextlib.suppress(ValueError):  # a summary that does not decode: read whole
            prior = summary_of(old, json_metadata or {})
            summary = msgspec.structs.replace(prior, metadata=dict(prior.metadata))
    if summary is None:
        summary = SessionSummary(session_id=sid)
        old = None
    try:
        cursor = _cursor(store, home, sid, old)
    except P8jError:  # gone or replaced since its head was read
        summary.problems += 1
        # It covers nothing: read again next time.
        return entry_of(summary, head.epoch, 0, 1, 0, None)
    try:
        for ev in cursor.read(final=True):
            step(summary, ev)
    except P8jError:
        summary.problems += 1
    summary.problems += sum(1 for i in cursor.issues if i.kind != "unknown-event")
    if home is not None:
        summary.size_bytes = head.offset  # the file's size: a torn tail's bytes too
        end = cast("LogCursor", cursor).offset
    else:
        # Offsets may not count bytes (NATS: sequence numbers): add the records read.
        summary.size_bytes = (summary.size_bytes if old is not None else 0) + cursor.bytes_read
        end = cast("StoreCursor", cursor).position.offset
    line, seq, state = cursor.line, cursor.next_seq, cursor.state
    return entry_of(summary, head.epoch, end, line, seq, state, head.offset)


class CatalogListing:
    """Every session's catalog entry (newest first, by id); summaries decoded when asked for.

    An entry has ``session_id``, ``status``, ``activity`` (the last activity, else the
    start, else ""), ``project_name``, ``problems`` and ``row``: the `Rows` maker's row
    (empty if it declined; None if none was made) when `has_rows`, else meaningless.
    """

    __slots__ = ("_dropped", "_home", "_json_metadata", "_store", "entries", "has_rows")

    def __init__(
        self,
        store: SessionStore,
        home: Home | None,
        entries: list[CatalogEntry | EntryView],
        json_metadata: dict[str, bytes],
        rows: bool,
    ) -> None:
        self.entries = entries
        self._store = store
        self._home = home
        self._json_metadata = json_metadata
        self.has_rows = rows
        self._dropped = False

    def summary(self, entry: Entry) -> SessionSummary:
        """The entry's summary (read from its log if the catalog's copy does not decode)."""
        try:
            return summary_of(entry, self._json_metadata)
        except ValueError:
            pass
        from ..store.base import Position

        if self._home is not None and not self._dropped:
            self._dropped = True  # damaged: the next listing rebuilds it from the logs
            _save(self._home, [], {})
        head = Position(entry.epoch, entry.head_offset)
        return refresh_entry(self._store, self._home, entry.session_id, head, None).summary


def list_summaries(where: SessionStore | Home, *, use_cache: bool = True) -> list[SessionSummary]:
    """Summaries of every session of a store (or a home's files), newest first (by id).

    Raises UnsafePathError for an unsafe home (`Home.check`); never fails for the catalog.
    """
    store, home = _open(where)
    with gc_paused():
        from ..store.listing import ListingStore

        if use_cache and home is None and isinstance(store, ListingStore):
            return _list_kept(store, store)
        return read_summaries(store, home, use_cache and home is not None)


def list_catalog(where: SessionStore | Home, rows: Rows | None = None) -> CatalogListing:
    """The catalog's entries of every session, fresh, newest first (by id), with `rows`.

    Raises UnsafePathError for an unsafe home (`Home.check`); never fails for the catalog.
    """
    store, home = _open(where)
    with gc_paused():
        if home is None:  # no catalog file: entries made from the store's summaries
            found = list_summaries(store)
            made: list[CatalogEntry | EntryView] = [entry_of(s, 0, 0, 1, 0, None) for s in found]
            return CatalogListing(store, None, made, {}, False)
        loaded = _load(home)
        entries = cast("list[CatalogEntry | EntryView]", _refresh(store, home, loaded))  # views
        listing = CatalogListing(store, home, entries, loaded.json_metadata, rows is not None)
        if rows is not None:
            _attach_rows(home, listing, rows)
        return listing


_ROWS_NAME = "rows.msgpack"


def _attach_rows(home: Home, listing: CatalogListing, rows: Rows) -> None:
    """Set every entry's kept row (made for those without one); save them when worth it."""
    try:
        kept = decode_rows(read_cache(home, _ROWS_NAME), rows.tag)
    except _READ_ERRORS:
        kept = {}
    made = 0
    get = kept.get
    for entry in listing.entries:
        have = get(entry.session_id)
        if have is not None and have.epoch == entry.epoch and have.offset == entry.offset:
            entry.row = have.row
            continue
        try:
            summary = summary_of(entry, listing._json_metadata)
        except ValueError:
            continue  # read from its log when asked for; no row kept
        entry.row = make_row(rows, summary)
        made += 1
    gone = len(kept) > len(listing.entries)
    if made * _SAVE_SHARE >= len(listing.entries) or (made and not kept) or gone:
        with contextlib.suppress(P8jError, OSError):
            data = encode_rows(rows.tag, cast("list[Entry]", listing.entries))
            home.replace_file("cache", _ROWS_NAME, data)


def _open(where: SessionStore | Home) -> tuple[SessionStore, Home | None]:
    """The store of `where`, and its home if it is a file store (checked: `Home.check`)."""
    from ..store.base import is_home_store
    from ..store.select import as_store

    store = as_store(where)
    home = store.home if is_home_store(store) else None
    if home is not None:
        home.check()
    return store, home


def read_summaries(store: SessionStore, home: Home | None, use_cache: bool) -> list[SessionSummary]:
    """The listing from the store's entries (and the home's catalog file if `use_cache`)."""
    loaded = _load(home, views=False) if use_cache and home is not None else Loaded([], {}, 0)
    fresh = _refresh(store, home if use_cache else None, loaded, home)
    return [cast("CatalogEntry | WholeEntry", e).summary for e in fresh]  # decoded


def _refresh(
    store: SessionStore,
    home: Home | None,
    loaded: Loaded,
    reader: Home | None = None,
) -> list[Entry]:
    """`loaded`'s entries brought up to the store's, saved to `home`'s catalog when worth it.

    `reader` is the home whose logs to read when there is no catalog to keep (`home` None).
    """
    logs = home or reader
    if logs is not None:  # the directory read once; a known session is one dict pop
        found = cast("HomeStore", store).entry_map()
    else:
        from ..store.base import EntryMap

        found = EntryMap(store.entries())
    epochs = found.epochs
    meta = loaded.json_metadata
    fresh: list[Entry] = []
    keep = fresh.append
    take = epochs.pop
    # Rewrite the catalog when its set of sessions changed or a log was read whole.
    changed = loaded.size == 0
    grown = 0  # log bytes read past cached offsets
    ordered = True  # as saved: then an unchanged journal needs no sort
    previous = "~"  # sorts after every id
    for old in loaded.entries:
        sid = old.session_id
        if sid >= previous:
            ordered = False
        previous = sid
        epoch = take(sid, None)
        if epoch is None:
            changed = True  # deleted
            continue
        if old.status == "completed" and epoch == old.epoch:
            keep(old)  # ended: it can never grow (see the module docstring)
            continue
        entry = found.entry(sid)
        head = entry.head() if entry is not None else None
        if head is None:
            changed = True
            continue
        size = head.offset
        if old.epoch == head.epoch and old.offset == size and old.head_offset == size:
            keep(old)
            continue
        if old.epoch == head.epoch and old.offset <= size:
            grown += size - old.offset
        else:
            changed = True
        keep(refresh_entry(store, logs, sid, head, old, meta))
    added = False
    for sid in epochs:  # what the catalog does not know yet
        entry = found.entry(sid)
        head = entry.head() if entry is not None else None
        if head is None:
            continue
        keep(refresh_entry(store, logs, sid, head, None, meta))
        added = True
    if added or not ordered:
        fresh.sort(key=_session_id, reverse=True)
        changed = True
    worth = changed or grown * _SAVE_SHARE >= loaded.size
    if home is not None and (fresh or loaded.entries) and worth:
        _save(home, fresh, meta)
    return fresh


def _list_kept(store: SessionStore, keeper: ListingStore) -> list[SessionSummary]:
    """Summaries of every session of `store` (which is `keeper`), newest first."""
    kept = keeper.load_listing()
    entries = decode_entries(kept[1]) if kept is not None else None
    mark, cached = (kept[0], entries) if kept is not None and entries is not None else (0, [])
    try:
        changes = keeper.listing_changes(mark)
    except P8jError:
        return read_summaries(store, None, False)  # the logs say it all, slower
    by_id = {e.session_id: e for e in cached}
    fresh: list[CatalogEntry] = []
    whole = entries is None or len(by_id) != len(cached)  # read whole, or came or went
    for sid, count in changes.counts.items():
        old = by_id.pop(sid, None)
        if old is not None and sid not in changes.touched and old.line - 1 == count:
            fresh.append(old)
            continue
        try:
            head = store.head(sid)
        except P8jError:
            continue  # removed since the counts were taken
        if old is not None and old.offset >= head.offset and old.line - 1 != count:
            old = None  # it claims the whole log but not its records: a bad entry
        if old is None or old.epoch != head.epoch or old.offset > head.offset:
            whole = True
        fresh.append(refresh_entry(store, None, sid, head, old))
    fresh.sort(key=_session_id, reverse=True)
    if whole or by_id or changes.mark - mark >= _KEPT_SAVE_AFTER:  # by_id: sessions gone
        data = encode_entries(cast("list[Entry]", fresh))
        if data is not None:
            keeper.save_listing(changes.mark, data)
    return [e.summary for e in fresh]


def list_store_summaries(store: SessionStore, *, use_cache: bool = True) -> list[SessionSummary]:
    """Summaries of every session in `store`, newest first (= `list_summaries`)."""
    return list_summaries(store, use_cache=use_cache)


def _session_id(entry: Entry) -> str:
    return entry.session_id
