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
  (see below); any other store keeps none and reads every log.
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
- Summaries are not tracked by the cycle collector (``gc=False``): they hold
  only strings, numbers and a metadata dict of JSON values, so they form no
  cycle unless a caller puts one in, and listing 100k sessions leaves the
  collector nothing to scan.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Annotated, Any, cast

import msgspec

from ..errors import P8jError
from ..store.fs.layout import Home, check_file
from .gc import gc_paused
from .summary import SessionSummary, step, summarize
from .titles import title_of

if TYPE_CHECKING:
    from ..store.base import HomeStore, Position, SessionStore, StoreCursor
    from ..store.fs.cursor import LogCursor
    from ..store.listing import ListingStore

__all__ = [
    "CATALOG_VERSION",
    "SessionSummary",
    "list_store_summaries",
    "list_summaries",
    "summarize",
    "title_of",
]

CATALOG_VERSION = (
    5  # 3: cwd, forked_from, title_source; 4: source times, usage, links; 5: import pauses timeless
)
# Rewrite the catalog once the log bytes read past its offsets reach this share of its size.
_SAVE_SHARE = 16
# A kept catalog is saved again once the store's mark moved this far (records written).
_KEPT_SAVE_AFTER = 256


_Count = Annotated[int, msgspec.Meta(ge=0)]


class CatalogEntry(msgspec.Struct, array_like=True, gc=False):
    """One session's summary and the store position (and reader state) it covers."""

    summary: SessionSummary
    epoch: _Count  # with `offset`: the store Position the summary covers
    offset: _Count
    line: Annotated[int, msgspec.Meta(ge=1)]
    next_seq: _Count
    state: str | None


class _Catalog(msgspec.Struct, array_like=True, gc=False):
    version: int
    entries: list[CatalogEntry]  # newest first: an unchanged journal lists without a sort
    # Session id -> its metadata as JSON, for metadata msgpack cannot encode (its entry
    # holds {} instead). Nearly always empty: loading then costs nothing per entry.
    json_metadata: dict[str, bytes] = {}


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


_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(_Catalog)
_JSON_ENC = msgspec.json.Encoder()
_JSON_DEC = msgspec.json.Decoder(dict[str, Any])
_NAME = "catalog.msgpack"
# What msgpack cannot encode although a log holds it (integers beyond 64 bits, a lone
# surrogate in a log another tool wrote).
_ENCODE_ERRORS = (OverflowError, TypeError, ValueError, RecursionError)
# Reading a damaged catalog: OS errors, msgspec's errors (ValueErrors, as is a
# UnicodeDecodeError from a damaged string), a nesting too deep; P8jError for an
# unsafe cache directory or file.
_LOAD_ERRORS = (P8jError, OSError, ValueError, RecursionError)


def _read(home: Home) -> bytes:
    """The catalog's bytes, read only if it is a regular file of ours (never blocks on a FIFO)."""
    fd = home.open_file("cache", _NAME, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        check_file(home.cache_dir / _NAME, st)
        parts = []
        while piece := os.read(fd, max(st.st_size, 1 << 16)):
            parts.append(piece)
    finally:
        os.close(fd)
    return b"".join(parts)


def _load(home: Home) -> tuple[list[CatalogEntry], int]:
    """The cached entries (newest first) and the catalog's size in bytes."""
    try:
        data = _read(home)
    except _LOAD_ERRORS:
        return [], 0
    entries = decode_entries(data)
    return ([], 0) if entries is None else (entries, len(data))


def decode_entries(data: bytes) -> list[CatalogEntry] | None:
    """A catalog's entries (newest first), or None if it is unreadable or of another version."""
    try:
        with gc_paused():
            cat = _DEC.decode(data)
        if cat.version != CATALOG_VERSION:  # an older layout usually fails to decode anyway
            return None
        if cat.json_metadata:
            by_id = {e.summary.session_id: e.summary for e in cat.entries}
            for sid, raw in cat.json_metadata.items():
                by_id[sid].metadata = _JSON_DEC.decode(raw)
    except (*_LOAD_ERRORS, KeyError):  # KeyError: metadata for a session it does not list
        return None
    return cat.entries


def encode_entries(entries: list[CatalogEntry]) -> bytes | None:
    """The catalog's bytes, or None if not even a catalog without odd entries encodes."""
    try:
        return _ENC.encode(_Catalog(CATALOG_VERSION, entries))
    except _ENCODE_ERRORS:
        pass
    # Rare: some session holds what msgpack cannot. Find it, entry by entry.
    kept: list[CatalogEntry] = []
    extra: dict[str, bytes] = {}
    for entry in entries:
        try:
            _ENC.encode(entry)
        except _ENCODE_ERRORS:
            summary = entry.summary
            bare = msgspec.structs.replace(
                entry, summary=msgspec.structs.replace(summary, metadata={})
            )
            try:
                raw = _JSON_ENC.encode(summary.metadata)
                _ENC.encode(bare)
            except (*_ENCODE_ERRORS, msgspec.EncodeError):
                continue  # not cached: read again on the next listing
            extra[summary.session_id] = raw
            entry = bare
        kept.append(entry)
    try:
        return _ENC.encode(_Catalog(CATALOG_VERSION, kept, extra))
    except _ENCODE_ERRORS:
        return None


def _save(home: Home, entries: list[CatalogEntry]) -> None:
    data = encode_entries(entries)
    if data is None:
        return
    # The catalog is only a cache: failing to write it costs speed, never data.
    with contextlib.suppress(P8jError, OSError):
        home.replace_file("cache", _NAME, data)


def _cursor(
    store: SessionStore, home: Home | None, sid: str, old: CatalogEntry | None
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
    store: SessionStore, home: Home | None, sid: str, head: Position, old: CatalogEntry | None
) -> CatalogEntry:
    """`old` brought up to `head` (read from its position), or `sid` read whole."""
    if old is not None and old.epoch == head.epoch and old.offset <= head.offset:
        summary = msgspec.structs.replace(old.summary, metadata=dict(old.summary.metadata))
    else:
        summary = SessionSummary(session_id=sid)
        old = None
    try:
        cursor = _cursor(store, home, sid, old)
    except P8jError:  # gone or replaced since its head was read
        summary.problems += 1
        # It covers nothing: read again next time.
        return CatalogEntry(summary, head.epoch, 0, 1, 0, None)
    try:
        for ev in cursor.read(final=True):
            step(summary, ev)
    except P8jError:
        summary.problems += 1
    summary.problems += sum(1 for i in cursor.issues if i.kind != "unknown-event")
    summary.size_bytes = head.offset
    if home is not None:
        end = cast("LogCursor", cursor).offset
    else:
        end = cast("StoreCursor", cursor).position.offset
    return CatalogEntry(summary, head.epoch, end, cursor.line, cursor.next_seq, cursor.state)


def list_summaries(where: SessionStore | Home, *, use_cache: bool = True) -> list[SessionSummary]:
    """Summaries of every session of a store (or a home's files), newest first (by id).

    Raises UnsafePathError for an unsafe home (`Home.check`); never fails for the catalog.
    """
    from ..store.base import is_home_store
    from ..store.listing import ListingStore
    from ..store.select import as_store

    store = as_store(where)
    home = store.home if is_home_store(store) else None
    if home is not None:
        home.check()
    with gc_paused():
        if use_cache and home is None and isinstance(store, ListingStore):
            return _list_kept(store, store)  # a store that keeps the catalog itself
        return read_summaries(store, home, use_cache and home is not None)


def read_summaries(store: SessionStore, home: Home | None, use_cache: bool) -> list[SessionSummary]:
    """The listing from the store's entries (and the home's catalog file if `use_cache`)."""
    cached, cached_bytes = _load(home) if use_cache and home is not None else ([], 0)
    if home is not None:  # the directory read once; a known session is one dict pop
        found = cast("HomeStore", store).entry_map()
    else:
        from ..store.base import EntryMap

        found = EntryMap(store.entries())
    epochs = found.epochs
    fresh: list[CatalogEntry] = []
    keep = fresh.append
    take = epochs.pop
    # Rewrite the catalog when its set of sessions changed or a log was read whole.
    changed = cached_bytes == 0
    grown = 0  # log bytes read past cached offsets
    ordered = True  # as saved: then an unchanged journal needs no sort
    previous = "~"  # sorts after every id
    for old in cached:
        summary = old.summary
        sid = summary.session_id
        if sid >= previous:
            ordered = False
        previous = sid
        epoch = take(sid, None)
        if epoch is None:
            changed = True  # deleted
            continue
        if summary.status == "completed" and epoch == old.epoch:
            keep(old)  # ended: it can never grow (see the module docstring)
            continue
        entry = found.entry(sid)
        head = entry.head() if entry is not None else None
        if head is None:
            changed = True
            continue
        size = head.offset
        if old.epoch == head.epoch and old.offset == size and summary.size_bytes == size:
            keep(old)
            continue
        if old.epoch == head.epoch and old.offset <= size:
            grown += size - old.offset
        else:
            changed = True
        keep(refresh_entry(store, home, sid, head, old))
    added = False
    for sid in epochs:  # what the catalog does not know yet
        entry = found.entry(sid)
        head = entry.head() if entry is not None else None
        if head is None:
            continue
        keep(refresh_entry(store, home, sid, head, None))
        added = True
    if added or not ordered:
        fresh.sort(key=_session_id, reverse=True)
        changed = True
    worth = changed or grown * _SAVE_SHARE >= cached_bytes
    if home is not None and use_cache and (fresh or cached) and worth:
        _save(home, fresh)
    return [e.summary for e in fresh]


def _list_kept(store: SessionStore, keeper: ListingStore) -> list[SessionSummary]:
    """Summaries of every session of `store` (which is `keeper`), newest first."""
    kept = keeper.load_listing()
    entries = decode_entries(kept[1]) if kept is not None else None
    mark, cached = (kept[0], entries) if kept is not None and entries is not None else (0, [])
    try:
        changes = keeper.listing_changes(mark)
    except P8jError:
        return read_summaries(store, None, False)  # the logs say it all, slower
    by_id = {e.summary.session_id: e for e in cached}
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
        data = encode_entries(fresh)
        if data is not None:
            keeper.save_listing(changes.mark, data)
    return [e.summary for e in fresh]


def list_store_summaries(store: SessionStore, *, use_cache: bool = True) -> list[SessionSummary]:
    """Summaries of every session in `store`, newest first (= `list_summaries`)."""
    return list_summaries(store, use_cache=use_cache)


def _session_id(entry: CatalogEntry) -> str:
    return entry.summary.session_id
