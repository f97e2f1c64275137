"""The NATS store's kept listing (`ListingStore`, journal/store/listing.py) and its summaries.

Contract:
- The catalog's bytes (opaque here) live in the summaries bucket
  ``<stream>_SESSIONS``, beside the writers' per-session summaries: chunks
  under ``p8j-listing.<i>`` (a value must fit in one message) and, written
  last, the index ``p8j-listing`` (the mark they cover and each chunk's
  revision). A reader that finds a chunk of another revision (a save raced
  it) sees no catalog. Session ids are UUIDs, so no key collides; nothing is
  deleted (a smaller catalog leaves unused chunks behind), so watches never
  see a ``removed`` for these keys.
- The mark is the stream's last sequence. `changes(since)` takes one stream
  info (every subject's message count, and the mark) and the subjects of
  the messages after `since`: batched direct gets for a few, else a
  headers-only ordered consumer of every subject's last message (its cost
  grows with sessions, not with records). Purges (`remove`, the end of a
  `rewrite`) take no sequence: a removed session leaves the counts; a
  rewrite's new records come after the mark. A mark beyond the stream's
  last sequence is another stream's (deleted, created again): every session
  counts as changed.
- `summaries` reads the writers' per-session summaries (epoch, head) in
  pages the server accepts; a missing or bad one just costs a stream lookup.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import api

from ...errors import JournalIOError
from ..listing import ListingChanges
from .conn import Stored

if TYPE_CHECKING:
    from .conn import Conn
    from .store import NatsStore

__all__ = ["Summary", "changes", "last_per_subject", "load", "save", "summaries"]

_KEY = "p8j-listing"
_CHUNK = 512 * 1024  # well under the server's 1 MiB max message size
_DIRECT_UNDER = 1000  # new messages up to this many: read them; beyond, every subject's last
_NO_PROGRESS_S = 10.0
_PAGE = 1000  # keys per batched direct get (the server refuses more than 1024 results)


class Summary(msgspec.Struct):
    """A writer's summary of one session: its log's first and last stream seqs."""

    epoch: int
    head: int


class _Index(msgspec.Struct, array_like=True):
    mark: int
    revisions: list[int]


_SUMMARY = msgspec.json.Decoder(Summary)
_INDEX = msgspec.msgpack.Decoder(_Index)
_ENC = msgspec.msgpack.Encoder()


async def load(store: NatsStore) -> tuple[int, bytes] | None:
    """The kept catalog's mark and bytes, or None (none, torn, unreadable)."""
    conn = await store.aconn()
    kv = await conn.js.key_value(conn.config.sessions_bucket)
    try:
        index = _INDEX.decode((await kv.get(_KEY)).value or b"")
        got = await asyncio.gather(*(kv.get(f"{_KEY}.{i}") for i in range(len(index.revisions))))
    except (nats.js.errors.KeyNotFoundError, msgspec.DecodeError):
        return None
    if [e.revision for e in got] != index.revisions:
        return None  # a save raced this read: its chunks are of another catalog
    return index.mark, b"".join(e.value or b"" for e in got)


async def save(store: NatsStore, mark: int, data: bytes) -> None:
    """Keep `data` as the catalog covering `mark`: chunks first, then the index."""
    conn = await store.aconn()
    kv = await conn.js.key_value(conn.config.sessions_bucket)
    chunks = [data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)] or [b""]
    revisions = await asyncio.gather(*(kv.put(f"{_KEY}.{i}", c) for i, c in enumerate(chunks)))
    await kv.put(_KEY, _ENC.encode(_Index(mark, list(revisions))))


async def changes(store: NatsStore, since: int) -> ListingChanges:
    """Every session's record count, the mark now, and the sessions with messages after `since`."""
    conn = await store.aconn()
    cfg = conn.config
    try:
        info = await conn.js.stream_info(cfg.stream, subjects_filter=cfg.subjects)
    except nats.js.errors.NotFoundError:
        return ListingChanges(0, {}, frozenset())
    mark = info.state.last_seq
    subjects = {s: n for s, n in (info.state.subjects or {}).items() if n}
    touched: set[str] = set()
    if mark < since:  # a mark of another stream (deleted and created again): all changed
        touched = set(subjects)
    elif subjects and mark > since:
        if mark - since <= _DIRECT_UNDER:
            for m in await conn.batch(cfg.subjects, since + 1, mark - since):
                touched.add(m.headers.get("Nats-Subject", ""))
        else:
            lasts = await last_per_subject(conn)
            touched = {s for s, last in lasts.items() if last.seq > since}
    counts = {cfg.session_of(s): n for s, n in subjects.items()}
    return ListingChanges(mark, counts, frozenset(cfg.session_of(s) for s in touched if s))


async def last_per_subject(conn: Conn) -> dict[str, Stored]:
    """Every session subject's last message, headers only (an ordered consumer)."""
    out: dict[str, Stored] = {}
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def got(msg: Msg) -> None:
        meta = msg.metadata
        out[msg.subject] = Stored(meta.sequence.stream, b"", dict(msg.headers or {}))
        if meta.num_pending == 0 and not done.done():
            done.set_result(None)

    sub = await conn.js.subscribe(
        conn.config.subjects,
        stream=conn.config.stream,
        ordered_consumer=True,
        headers_only=True,
        deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT,
        cb=got,
    )
    try:
        while not done.done():
            before = len(out)
            try:
                await asyncio.wait_for(asyncio.shield(done), _NO_PROGRESS_S)
            except asyncio.TimeoutError as exc:
                if len(out) == before:
                    raise JournalIOError("NATS stopped delivering the subjects' heads") from exc
    finally:
        await sub.unsubscribe()
    return out


async def summaries(conn: Conn, session_ids: list[str]) -> dict[str, Summary]:
    """The writers' summaries of `session_ids` that are there and readable."""
    bucket = conn.config.sessions_bucket
    out: dict[str, Summary] = {}
    for i in range(0, len(session_ids), _PAGE):
        keys = [f"$KV.{bucket}.{sid}" for sid in session_ids[i : i + _PAGE]]
        try:
            found = await conn.direct_batch(f"KV_{bucket}", {"multi_last": keys})
        except (JournalIOError, nats.errors.Error):
            continue  # derived data: without it, epochs come from the stream
        for m in found:
            if m.headers.get("KV-Operation") in ("DEL", "PURGE"):
                continue
            try:
                out[m.headers["Nats-Subject"].rsplit(".", 1)[-1]] = _SUMMARY.decode(m.data)
            except (KeyError, msgspec.DecodeError):
                continue  # derived data: a bad summary is rebuilt from the stream
    return out
