"""The listing catalog's format: its entries, encoding and decoding (contract: catalog.py's).

Format (msgpack, version `CATALOG_VERSION`): ``[version, entries,
json_metadata]``, entries newest first (by id), each an array
``[session_id, status, activity, project_name, problems, size_bytes, epoch,
offset, head_offset, line, next_seq, state, summary]``:
- ``size_bytes`` is the log's size in bytes: its records, each + 1 for its
  newline, as the file store holds them (there: the file's size at
  ``head_offset``). ``epoch``/``offset`` is the store `Position` the summary
  covers (where its reader stopped) and ``head_offset`` the store's head offset
  when it was read; offsets are the store's (a NATS stream's are sequence
  numbers), never compared with ``size_bytes``.
- the leading keys repeat what a listing filters and sorts on (``activity`` is
  the last activity, else the start time, else ""), so an `EntryView` decoding
  of a catalog builds no `SessionSummary`: it keeps each summary's msgpack
  (``summary``, a map) as it is, decoded only for the sessions a caller asks
  about (`summary_of`) or must refresh. `WholeEntry` decodes the same bytes
  with every summary built in one pass (what `list_summaries` returns).
- ``json_metadata`` maps a session id to its metadata as JSON, for metadata
  msgpack cannot hold (integers beyond 64 bits); its summary holds {} then.

Rows (``rows.msgpack`` beside it, `decode_rows`/`encode_rows`): ``[version,
tag, {session_id: [epoch, offset, row]}]``, a derived encoding of each summary
made by a caller's `Rows` (`replay.listing`: the session's JSON row of
`p8j ls --json`) under ``tag``, valid for the entry of that epoch and offset
only; empty when the maker declined (a row that depends on more than the
summary). Kept apart so a listing that needs no row reads none. Rows are
trusted as the summaries are: files of ours in the home.

A `CatalogEntry` is an entry in memory with its summary decoded or just made;
entries of every kind are written alike (an entry's ``row``, set in memory, is
never written to the catalog). Any catalog of another
version, or that does not decode, is None here: the caller rebuilds it. A
summary that does not decode (or names another session) is a ValueError from
`summary_of`. Encoding leaves out an entry
that cannot be encoded at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

import msgspec

from .gc import gc_paused
from .summary import SessionSummary

__all__ = [
    "CATALOG_VERSION",
    "CatalogEntry",
    "EntryView",
    "KeptRow",
    "Loaded",
    "Rows",
    "WholeEntry",
    "decode_entries",
    "decode_rows",
    "decode_views",
    "decode_whole",
    "encode_entries",
    "encode_rows",
    "entry_of",
    "make_row",
    "summary_of",
    "with_summary",
]

# 3: cwd, forked_from, title_source; 4: source times, usage, links; 5: import pauses
# timeless; 6: listing keys first, the summary decoded on demand (rows in rows.msgpack);
# 7: head_offset apart from size_bytes (a NATS log's size was its stream sequence).
CATALOG_VERSION = 7

_Count = Annotated[int, msgspec.Meta(ge=0)]
_Line = Annotated[int, msgspec.Meta(ge=1)]


class Rows(NamedTuple):
    """A caller's derived row per summary, kept in the catalog under `tag`."""

    tag: str  # names the row's format: rows made under another tag are not used
    make: Callable[[SessionSummary], bytes | None]  # None: this summary has no fixed row


class _Entry(msgspec.Struct, array_like=True, gc=False, omit_defaults=True):
    """What every entry starts with: the listing keys, then the position and reader state."""

    session_id: str
    status: str
    activity: str
    project_name: str
    problems: _Count
    size_bytes: _Count
    epoch: _Count  # with `offset`: the store Position the summary covers
    offset: _Count
    head_offset: _Count  # the store's head offset when read (`size_bytes` counts bytes)
    line: _Line
    next_seq: _Count
    state: str | None


class CatalogEntry(_Entry, array_like=True, gc=False, omit_defaults=True):
    """One session's summary and the store position (and reader state) it covers."""

    summary: SessionSummary
    row: bytes | None = None  # in memory only (never set when written: omitted)


class EntryView(_Entry, array_like=True, gc=False, omit_defaults=True):
    """An entry as read: keys, position, the summary and row still encoded (in bins)."""

    summary: msgspec.Raw  # the summary's msgpack: decoded on demand
    row: bytes | None = None  # the kept row, set in memory (`CatalogListing`)


class _Catalog(msgspec.Struct, array_like=True, gc=False):
    version: int
    entries: list[EntryView]  # newest first: an unchanged journal lists without a sort
    # Nearly always empty: loading then costs nothing per entry.
    json_metadata: dict[str, bytes] = {}


class WholeEntry(_Entry, array_like=True, gc=False):
    """An entry as read with its summary decoded and its row left as it is (`list_summaries`)."""

    summary: SessionSummary


class _WholeCatalog(msgspec.Struct, array_like=True, gc=False):
    version: int
    entries: list[WholeEntry]
    json_metadata: dict[str, bytes] = {}


class _CatalogOut(msgspec.Struct, array_like=True, gc=False):
    """A catalog to encode: entries of either kind, written alike."""

    version: int
    entries: list[Any]
    json_metadata: dict[str, bytes]


_ENC = msgspec.msgpack.Encoder()


# Decoders are built on first use: building one evaluates its types' annotations (~2 ms
# for these), which `p8j ls` from a kept listing (listing_file.py) never needs.
@functools.cache
def _catalog_decoder() -> msgspec.msgpack.Decoder[_Catalog]:
    return msgspec.msgpack.Decoder(_Catalog)


@functools.cache
def _whole_decoder() -> msgspec.msgpack.Decoder[_WholeCatalog]:
    return msgspec.msgpack.Decoder(_WholeCatalog)


@functools.cache
def _summary_decoder() -> msgspec.msgpack.Decoder[SessionSummary]:
    return msgspec.msgpack.Decoder(SessionSummary)


def __getattr__(name: str) -> Any:
    # The decoders' former names (tests decode with them).
    if name == "_DEC":
        return _catalog_decoder()
    if name == "_SUMMARY_DEC":
        return _summary_decoder()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_JSON_ENC = msgspec.json.Encoder()
_JSON_DEC = msgspec.json.Decoder(dict[str, Any])
# What msgpack cannot encode although a log holds it (integers beyond 64 bits, a lone
# surrogate in a log another tool wrote).
_ENCODE_ERRORS = (OverflowError, TypeError, ValueError, RecursionError)
# A damaged catalog: msgspec's errors (ValueErrors, as is a UnicodeDecodeError from a
# damaged string), a nesting too deep.
_DECODE_ERRORS = (ValueError, RecursionError)


class Loaded:
    """A catalog as read: entries (newest first), JSON metadata, size in bytes."""

    __slots__ = ("entries", "json_metadata", "size")

    def __init__(
        self,
        entries: list[CatalogEntry | EntryView | WholeEntry],
        json_metadata: dict[str, bytes],
        size: int,
    ) -> None:
        self.entries = entries
        self.json_metadata = json_metadata
        self.size = size


def make_row(rows: Rows | None, summary: SessionSummary) -> bytes | None:
    """The caller's row of `summary` (empty if it declined or failed), None without rows."""
    if rows is None:
        return None
    try:
        return rows.make(summary) or b""
    except (ValueError, TypeError, OverflowError, msgspec.EncodeError):
        return b""  # e.g. text JSON cannot hold: the caller meets it again, unkept


def entry_of(
    summary: SessionSummary,
    epoch: int,
    offset: int,
    line: int,
    next_seq: int,
    state: str | None,
    head_offset: int | None = None,
) -> CatalogEntry:
    """The entry of `summary` covering that position, read at `head_offset` (else `offset`)."""
    return CatalogEntry(
        summary.session_id,
        summary.status,
        summary.last_activity or summary.start_time or "",
        summary.project_name,
        summary.problems,
        summary.size_bytes,
        epoch,
        offset,
        offset if head_offset is None else head_offset,
        line,
        next_seq,
        state,
        summary,
    )


def summary_of(
    entry: CatalogEntry | EntryView | WholeEntry, json_metadata: dict[str, bytes]
) -> SessionSummary:
    """The entry's summary (decoded from a view: a ValueError if it does not decode)."""
    if not isinstance(entry, EntryView):
        return entry.summary
    try:
        summary = _summary_decoder().decode(entry.summary)
    except RecursionError as exc:
        raise ValueError("a catalog entry's summary is nested too deep") from exc
    if summary.session_id != entry.session_id:
        raise ValueError("a catalog entry's summary names another session")
    if json_metadata:
        raw = json_metadata.get(entry.session_id)
        if raw is not None:
            summary.metadata = _JSON_DEC.decode(raw)
    return summary


def decode_views(data: bytes) -> tuple[list[EntryView], dict[str, bytes]] | None:
    """A catalog's entries (newest first) and JSON metadata, or None if it is unreadable or
    of another version."""
    try:
        with gc_paused():
            cat = _catalog_decoder().decode(data)
    except _DECODE_ERRORS:
        return None
    if cat.version != CATALOG_VERSION:  # an older layout usually fails to decode anyway
        return None
    return cat.entries, cat.json_metadata


def decode_entries(data: bytes) -> list[CatalogEntry] | None:
    """A catalog's entries with their summaries decoded, or None as for `decode_views`."""
    found = decode_whole(data)
    if found is None:
        return None
    return [with_summary(e, e.summary) for e in found]


def decode_whole(data: bytes) -> list[WholeEntry] | None:
    """A catalog's entries, summaries decoded in one pass; None as for `decode_views`."""
    try:
        with gc_paused():
            cat = _whole_decoder().decode(data)
        if cat.version != CATALOG_VERSION:
            return None
        if cat.json_metadata:
            by_id = {e.session_id: e.summary for e in cat.entries}
            for sid, raw in cat.json_metadata.items():
                by_id[sid].metadata = _JSON_DEC.decode(raw)
    except (*_DECODE_ERRORS, KeyError):  # KeyError: metadata for a session it does not list
        return None
    if any(e.summary.session_id != e.session_id for e in cat.entries):
        return None
    return cat.entries


def with_summary(view: EntryView | WholeEntry, summary: SessionSummary) -> CatalogEntry:
    """`view` in memory with its decoded `summary`."""
    v = view
    return CatalogEntry(
        *(v.session_id, v.status, v.activity, v.project_name, v.problems, v.size_bytes),
        *(v.epoch, v.offset, v.head_offset, v.line, v.next_seq, v.state),
        summary,
    )


def encode_entries(
    entries: list[CatalogEntry] | list[CatalogEntry | EntryView | WholeEntry],
    json_metadata: dict[str, bytes] | None = None,
) -> bytes | None:
    """The catalog's bytes, or None if it cannot be encoded even without its odd entries.

    `json_metadata` is that of the views among `entries` (as decoded with them).
    """
    extra: dict[str, bytes] = {}
    if json_metadata:
        extra = {
            e.session_id: json_metadata[e.session_id]
            for e in entries
            if e.session_id in json_metadata
        }
    try:
        return _ENC.encode(_CatalogOut(CATALOG_VERSION, list(entries), extra))
    except _ENCODE_ERRORS:
        pass
    # Rare: some session holds what msgpack cannot (metadata, usually). Find it.
    kept: list[CatalogEntry | EntryView | WholeEntry] = []
    for entry in entries:
        try:
            _ENC.encode(entry)
        except _ENCODE_ERRORS:
            assert not isinstance(entry, EntryView)  # a view's summary is bytes already
            summary = entry.summary
            bare = msgspec.structs.replace(
                entry, summary=msgspec.structs.replace(summary, metadata={})
            )
            try:
                raw = _JSON_ENC.encode(summary.metadata)
                _ENC.encode(bare)
            except (*_ENCODE_ERRORS, msgspec.EncodeError):
                continue  # not cached: read again on the next listing
            extra[entry.session_id] = raw
            entry = bare
        kept.append(entry)
    try:
        return _ENC.encode(_CatalogOut(CATALOG_VERSION, kept, extra))
    except _ENCODE_ERRORS:
        return None


class KeptRow(msgspec.Struct, array_like=True, gc=False):
    """A kept row and the entry position (epoch, offset) it was made for."""

    epoch: int
    offset: int
    row: bytes


class _RowsFile(msgspec.Struct, array_like=True, gc=False):
    version: int
    tag: str
    rows: dict[str, KeptRow]


@functools.cache
def _rows_decoder() -> msgspec.msgpack.Decoder[_RowsFile]:
    return msgspec.msgpack.Decoder(_RowsFile)


def decode_rows(data: bytes, tag: str) -> dict[str, KeptRow]:
    """The kept rows made under `tag` by session id ({} if another tag, version or unreadable)."""
    try:
        with gc_paused():
            found = _rows_decoder().decode(data)
    except _DECODE_ERRORS:
        return {}
    if found.version != CATALOG_VERSION or found.tag != tag:
        return {}
    return found.rows


def encode_rows(tag: str, entries: list[CatalogEntry | EntryView | WholeEntry]) -> bytes:
    """The rows file of `entries` (those with a row set) made under `tag`."""
    rows = {
        e.session_id: KeptRow(e.epoch, e.offset, e.row)
        for e in entries
        if not isinstance(e, WholeEntry) and e.row is not None
    }
    return _ENC.encode(_RowsFile(CATALOG_VERSION, tag, rows))
