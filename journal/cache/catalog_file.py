"""The listing catalog's format: its entries, encoding and decoding (contract: catalog.py's).

Format (msgpack, version `CATALOG_VERSION`): ``[version, row_tag, entries,
json_metadata]``, entries newest first (by id), each an array
``[session_id, status, activity, project_name, problems, size_bytes, epoch,
offset, line, next_seq, state, summary, row]``:
- the leading keys repeat what a listing filters and sorts on (``activity`` is
  the last activity, else the start time, else ""); ``summary`` is the
  `SessionSummary`'s msgpack inside a bin, so decoding a catalog (`EntryView`s)
  skips every summary in O(1) and builds none: a summary is decoded only for
  the sessions a caller asks about (`summary_of`), or when it must be refreshed.
- ``row`` is a derived encoding of the summary made by the caller's `Rows`
  (`replay.listing`: the session's JSON row of `p8j ls --json`), in a bin, kept
  so a listing of unchanged sessions encodes nothing: nil when none was made
  yet, empty when the maker declined (a row that depends on more than the
  summary), and valid only under the ``row_tag`` it was made with. Rows are
  trusted as the summaries are: the catalog is a file of ours in the home.
- ``json_metadata`` maps a session id to its metadata as JSON, for metadata
  msgpack cannot hold (integers beyond 64 bits); its summary holds {} then.

A `CatalogEntry` is an entry in memory with its summary (and row) decoded or
just made; entries of both kinds are written alike. Any catalog of another
version, or that does not decode, is None here: the caller rebuilds it. A
summary that does not decode (or names another session) is a ValueError from
`summary_of`. Encoding leaves out an entry
that cannot be encoded at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

import msgspec

from .gc import gc_paused
from .summary import SessionSummary

__all__ = [
    "CATALOG_VERSION",
    "CatalogEntry",
    "EntryView",
    "Rows",
    "decode_entries",
    "decode_views",
    "encode_entries",
    "entry_of",
    "summary_of",
    "with_summary",
]

# 3: cwd, forked_from, title_source; 4: source times, usage, links; 5: import pauses
# timeless; 6: listing keys first, the summary decoded on demand, a derived row per entry.
CATALOG_VERSION = 6

_Count = Annotated[int, msgspec.Meta(ge=0)]
_Line = Annotated[int, msgspec.Meta(ge=1)]


class Rows(NamedTuple):
    """A caller's derived row per summary, kept in the catalog under `tag`."""

    tag: str  # names the row's format: rows made under another tag are not used
    make: Callable[[SessionSummary], bytes | None]  # None: this summary has no fixed row


class CatalogEntry(msgspec.Struct, gc=False):
    """One session's summary and the store position (and reader state) it covers."""

    session_id: str
    status: str
    activity: str
    project_name: str
    problems: int
    size_bytes: int
    epoch: int  # with `offset`: the store Position the summary covers
    offset: int
    line: int
    next_seq: int
    state: str | None
    summary: SessionSummary
    row: bytes | None


class EntryView(msgspec.Struct, array_like=True, gc=False):
    """An entry as read: keys, position, the summary and row still encoded (in bins)."""

    session_id: str
    status: str
    activity: str
    project_name: str
    problems: _Count
    size_bytes: _Count
    epoch: _Count
    offset: _Count
    line: _Line
    next_seq: _Count
    state: str | None
    summary: msgspec.Raw  # a bin holding the summary's msgpack: decoded on demand
    row: bytes | None  # a copy is cheaper to use than a view into the catalog


class _Catalog(msgspec.Struct, array_like=True, gc=False):
    version: int
    row_tag: str
    entries: list[EntryView]  # newest first: an unchanged journal lists without a sort
    # Nearly always empty: loading then costs nothing per entry.
    json_metadata: dict[str, bytes] = {}


_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(_Catalog)
_SUMMARY_DEC = msgspec.msgpack.Decoder(SessionSummary)
_JSON_ENC = msgspec.json.Encoder()
_JSON_DEC = msgspec.json.Decoder(dict[str, Any])
_BIN_HEADER = {0xC4: 2, 0xC5: 3, 0xC6: 5}  # bin 8/16/32: type byte and length
# What msgpack cannot encode although a log holds it (integers beyond 64 bits, a lone
# surrogate in a log another tool wrote).
_ENCODE_ERRORS = (OverflowError, TypeError, ValueError, RecursionError)
# A damaged catalog: msgspec's errors (ValueErrors, as is a UnicodeDecodeError from a
# damaged string), a nesting too deep.
_DECODE_ERRORS = (ValueError, RecursionError)


def entry_of(
    summary: SessionSummary,
    epoch: int,
    offset: int,
    line: int,
    next_seq: int,
    state: str | None,
    row: bytes | None = None,
) -> CatalogEntry:
    """The entry of `summary` covering that position (`row`: its derived row, if made)."""
    return CatalogEntry(
        summary.session_id,
        summary.status,
        summary.last_activity or summary.start_time or "",
        summary.project_name,
        summary.problems,
        summary.size_bytes,
        epoch,
        offset,
        line,
        next_seq,
        state,
        summary,
        row,
    )


def _payload(raw: msgspec.Raw) -> memoryview | None:
    """The bytes inside a bin (no copy), or None if `raw` is no bin."""
    view = memoryview(raw)
    skip = _BIN_HEADER.get(view[0]) if view else None
    return None if skip is None else view[skip:]


def summary_of(entry: CatalogEntry | EntryView, json_metadata: dict[str, bytes]) -> SessionSummary:
    """The entry's summary (decoded from a view: a ValueError if it does not decode)."""
    if isinstance(entry, CatalogEntry):
        return entry.summary
    inner = _payload(entry.summary)
    if inner is None:
        raise ValueError("a catalog entry's summary is not a bin")
    try:
        summary = _SUMMARY_DEC.decode(inner)
    except RecursionError as exc:
        raise ValueError("a catalog entry's summary is nested too deep") from exc
    if summary.session_id != entry.session_id:
        raise ValueError("a catalog entry's summary names another session")
    if json_metadata:
        raw = json_metadata.get(entry.session_id)
        if raw is not None:
            summary.metadata = _JSON_DEC.decode(raw)
    return summary


def decode_views(data: bytes) -> tuple[list[EntryView], str, dict[str, bytes]] | None:
    """A catalog's entries (newest first), row tag and JSON metadata, or None if it is
    unreadable or of another version."""
    try:
        with gc_paused():
            cat = _DEC.decode(data)
    except _DECODE_ERRORS:
        return None
    if cat.version != CATALOG_VERSION:  # an older layout usually fails to decode anyway
        return None
    return cat.entries, cat.row_tag, cat.json_metadata


def decode_entries(data: bytes) -> list[CatalogEntry] | None:
    """A catalog's entries with their summaries decoded, or None as for `decode_views`."""
    found = decode_views(data)
    if found is None:
        return None
    views, _, json_metadata = found
    try:
        with gc_paused():
            return [_decoded(view, json_metadata) for view in views]
    except ValueError:
        return None


def _decoded(view: EntryView, json_metadata: dict[str, bytes]) -> CatalogEntry:
    return with_summary(view, summary_of(view, json_metadata), view.row)


def with_summary(view: EntryView, summary: SessionSummary, row: bytes | None) -> CatalogEntry:
    """`view` in memory with its decoded `summary` and `row`."""
    v = view
    return CatalogEntry(
        *(v.session_id, v.status, v.activity, v.project_name, v.problems, v.size_bytes),
        *(v.epoch, v.offset, v.line, v.next_seq, v.state),
        summary,
        row,
    )


def _packed(entry: CatalogEntry, summary: SessionSummary) -> EntryView:
    """`entry` as written, with `summary` (raises what msgpack raises if it cannot)."""
    e = entry
    return EntryView(
        *(e.session_id, e.status, e.activity, e.project_name, e.problems, e.size_bytes),
        *(e.epoch, e.offset, e.line, e.next_seq, e.state),
        msgspec.Raw(_ENC.encode(_ENC.encode(summary))),
        entry.row,
    )


def encode_entries(
    entries: list[CatalogEntry] | list[CatalogEntry | EntryView],
    row_tag: str = "",
    json_metadata: dict[str, bytes] | None = None,
) -> bytes | None:
    """The catalog's bytes, or None if it cannot be encoded even without its odd entries.

    `json_metadata` is that of the views among `entries` (as decoded with them).
    """
    extra: dict[str, bytes] = {}
    kept: list[EntryView] = []
    for entry in entries:
        sid = entry.session_id
        if isinstance(entry, EntryView):
            kept.append(entry)
            if json_metadata and sid in json_metadata:
                extra[sid] = json_metadata[sid]
            continue
        summary = entry.summary
        try:
            kept.append(_packed(entry, summary))
            continue
        except _ENCODE_ERRORS:
            pass
        # Rare: the session holds what msgpack cannot (metadata, usually).
        try:
            raw = _JSON_ENC.encode(summary.metadata)
            kept.append(_packed(entry, msgspec.structs.replace(summary, metadata={})))
        except (*_ENCODE_ERRORS, msgspec.EncodeError):
            continue  # not cached: read again on the next listing
        extra[sid] = raw
    try:
        return _ENC.encode(_Catalog(CATALOG_VERSION, row_tag, kept, extra))
    except _ENCODE_ERRORS:
        return None
