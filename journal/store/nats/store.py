"""`NatsStore`: the store seam over NATS JetStream (``nats://host:port``, extra ``p8j[nats]``).

Contract: the seam's semantics (base.py) with the layout of config.py.
- A session's log is the messages of its subject, one record each, in stream
  order. ``Position(epoch, offset)``: ``epoch`` = the stream seq of the log's
  first record, ``offset`` = the stream seq of its last (cursor.py).
- Writers follow the append protocol in writer.py and hold a lease (lease.py):
  `holder` is the lease's holder; a crashed holder's lease expires after
  ``lease`` seconds. The expected-sequence header refuses a second writer
  even where leases disagree.
- Listings read the stream's subjects (the truth); each entry's epoch comes
  from the summaries bucket, which writers update on create, close and
  rewrite, and which is rebuilt from the stream for a session it lacks. The
  store is a `ListingStore`: the catalog keeps its bytes in the same bucket
  and asks the stream what changed since (listing.py).
- `rewrite` (under the lease) follows rewrite.py's protocol: the new records
  go after the old ones, the last one commits them, then the subject is
  purged below the first. Readers take the log from the subject's last
  message (`view`): the old log until the commit, the new one after, never
  a mix, also when a crash (kill -9, a lost connection, a server restart)
  interrupts any step. The leftovers of such a crash go at the next
  `rewrite`, `remove`, resume (`open_writer` completes or rolls back the
  rewrite first) or ``p8j store check --repair``, which also reports them.
  The stream denies single-message deletes (deny_delete) but allows purges
  by subject, which are what `rewrite` and `remove` use.
- A watch keeps the records it sees for reads (kept.py) and notes their
  seqs (`saw`): `head` and reads wait for a replica behind it (`catch_up`).
- Nothing is created or contacted until first use; the stream and buckets are
  then created if missing, with the recommended settings (``p8j store init``
  does the same explicitly). `close` releases the connection and its thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import msgspec
import nats.errors

from ...codec import encode_event
from ...errors import (
    JournalIOError,
    P8jError,
    RecordTooLargeError,
    SessionNotFoundError,
    StalePositionError,
)
from ...events import Event
from ...ids import is_session_id, validate_prefix, validate_session_id
from ..base import Position
from ..fs.lock import LockHolder
from ..fs.writer import DEFAULT_MAX_RECORD_BYTES, DURABILITY_MODES, Durability
from ..listing import ListingChanges
from . import listing
from . import rewrite as rw
from .blobs import NatsBlobs
from .config import NatsConfig
from .conn import Conflict, Conn, Stored
from .cursor import NatsCursor, catch_up, last_seen
from .kept import forget, noted
from .lease import Lease, acquire, holder
from .listing import Summary
from .loop import Loop
from .watch import NatsWatch
from .writer import HEADER_ROOM, NatsWriter

__all__ = ["NatsStore"]

T = TypeVar("T")
CREATED = {"P8j-Created": "1"}


class NatsStore:
    """Sessions in a JetStream stream, blobs in its object store (see the module doc)."""

    def __init__(self, config: NatsConfig | str) -> None:
        self.config = config if isinstance(config, NatsConfig) else NatsConfig.parse(config)
        self._loop = Loop()
        self._conn = Conn(self.config)
        self._ready: asyncio.Lock | None = None
        self._connected = False
        self._blobs = NatsBlobs(self)
        self._closed = False
        self._seen: dict[str, int] = {}  # session id -> last stream seq a watch saw
        # A store nobody closes (a SessionManager given a URL owns one and has no
        # close for it) still closes its connection and thread when collected.
        self._finalizer = weakref.finalize(self, _finish, self._loop, self._conn)

    def __repr__(self) -> str:
        return f"NatsStore({self.url!r})"

    @property
    def url(self) -> str:
        """The ``nats://`` URL this store opens from."""
        return self.config.url

    @property
    def blobs(self) -> NatsBlobs:
        """The store's blobs (the object store)."""
        return self._blobs

    def place(self, session_id: str) -> str:
        """What errors name as a session's log."""
        return f"nats:{self.config.stream}/{self.config.subject(session_id)}"

    # -- the loop ----------------------------------------------------------------------------

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the store's loop; client errors become JournalIOError."""
        try:
            return self._loop.run(coro)
        except P8jError:
            raise
        except (nats.errors.Error, asyncio.TimeoutError, OSError) as exc:
            raise JournalIOError(f"NATS ({self.config.stream}): {exc!r}") from exc

    async def aconn(self, *, create: bool = True) -> Conn:
        """The connection with the stream and buckets in place (on the loop)."""
        if self._connected and self._conn.ensured:
            return self._conn  # the common case: no lock on every call
        if self._ready is None:
            self._ready = asyncio.Lock()
        async with self._ready:
            if not self._connected:
                await self._conn.connect()
                self._connected = True
            await self._conn.ensure(create=create)
        return self._conn

    @property
    def max_payload(self) -> int:
        """The server's max message size."""
        self.call(self.aconn())
        return self._conn.max_payload

    def close(self) -> None:
        """Close the connection and stop the loop's thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._finalizer()

    def __enter__(self) -> NatsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw operations (writer, cursor) -----------------------------------------------------

    async def _first(self, session_id: str) -> Stored | None:
        return await (await self.aconn()).first(self.config.subject(session_id))

    async def _last(self, session_id: str) -> Stored | None:
        return await (await self.aconn()).last(self.config.subject(session_id))

    async def _ends(self, session_id: str, seen: int = 0) -> tuple[Stored | None, Stored | None]:
        conn = await self.aconn()
        ends = self._first(session_id), last_seen(conn, self.config.subject(session_id), seen)
        return await asyncio.gather(*ends)

    def first_seq(self, session_id: str) -> int | None:
        """The stream seq of the log's first record (rewrite.py's `view`), None if no log."""
        head = rw.view(*self.call(self._ends(session_id)))
        return head.epoch if head is not None else None

    def visible(self, session_id: str, epoch: int, got: list[Stored]) -> list[Stored]:
        """Which of `got` (records through the end) are the log of `epoch` (rewrite.py)."""
        return rw.visible_in(self, session_id, epoch, got)

    def saw(self, session_id: str, seq: int) -> None:
        """Note that a watch saw stream seq `seq` on the session's subject (-1: removed)."""
        if seq > self._seen.get(session_id, 0):
            self._seen[session_id] = seq
        elif seq < 0:  # removed: nothing to wait for
            self._seen.pop(session_id, None)

    def read_after(self, session_id: str, offset: int) -> list[Stored]:
        """The log's records after stream seq `offset` (at least through what a watch saw)."""
        seen = self._seen.get(session_id, 0)

        async def run() -> list[Stored]:
            conn = await self.aconn()
            return await catch_up(conn, self.config.subject(session_id), offset, seen)

        return self.call(run())

    def publish(self, subject: str, record: bytes, msg_id: str, expected: int | None) -> int:
        """One guarded append (conn.py); its stream seq once acknowledged."""

        async def run() -> int:
            return await (await self.aconn()).publish(subject, record, msg_id, expected)

        return noted(self, self.config.session_of(subject), self.call(run()))

    def put_summary(self, session_id: str, head: Position) -> None:
        """Record the session's summary (epoch and head) for listings."""
        value = msgspec.json.encode(Summary(head.epoch, head.offset))

        async def run() -> None:
            conn = await self.aconn()
            await conn.js.publish(f"$KV.{self.config.sessions_bucket}.{session_id}", value)

        self.call(run())

    def purge(self, session_id: str) -> None:
        """Purge the session's log and delete its summary (watches see ``removed``)."""
        self._seen.pop(session_id, None)
        forget(self, session_id)

        async def run() -> None:
            conn = await self.aconn()
            await conn.purge(self.config.subject(session_id))
            await conn.js.publish(
                f"$KV.{self.config.sessions_bucket}.{session_id}",
                b"",
                headers={"KV-Operation": "DEL"},
            )

        self.call(run())

    def release(self, lease: Lease) -> None:
        """Give a lease back (it expires by itself if this fails)."""
        if not self._closed:
            self.call(lease.release())

    # -- listing -----------------------------------------------------------------------------

    def entries(self) -> Iterator[_NatsEntry]:
        """Every session, with its epoch (from the summaries, else the stream)."""
        ids = self.session_ids()

        async def run() -> dict[str, Summary]:
            return await listing.summaries(await self.aconn(), ids)

        summaries = self.call(run()) if ids else {}
        for sid in ids:
            s = summaries.get(sid)
            epoch = s.epoch if s is not None else self.first_seq(sid)
            if epoch is not None:
                yield _NatsEntry(self, sid, epoch)

    def load_listing(self) -> tuple[int, bytes] | None:
        """The kept listing catalog's mark and bytes (listing.py), or None."""
        try:
            return self.call(listing.load(self))
        except JournalIOError:
            return None  # derived data: the listing reads the logs instead

    def listing_changes(self, since: int) -> ListingChanges:
        """Record counts, the mark now (the stream's last seq), who changed after `since`."""
        return self.call(listing.changes(self, since))

    def save_listing(self, mark: int, data: bytes) -> None:
        """Keep the listing catalog `data` as covering `mark` (best effort)."""
        with contextlib.suppress(JournalIOError):
            self.call(listing.save(self, mark, data))

    def session_ids(self) -> list[str]:
        """Ids of every session (the stream's subjects), sorted."""

        async def run() -> dict[str, int]:
            return await (await self.aconn()).subjects()

        subjects = self.call(run())
        return sorted(self.config.session_of(s) for s, n in subjects.items() if n)

    def resolve(self, ref: str) -> str:
        """A full id, a unique prefix, or ``latest`` -> the session id."""
        if ref != "latest":
            validate_prefix(ref)
            if is_session_id(ref) and self.exists(ref):
                return ref
        ids = self.session_ids()
        if ref == "latest":
            if not ids:
                raise SessionNotFoundError(f"no sessions in {self.url}")
            return ids[-1]
        matches = [i for i in ids if i.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise SessionNotFoundError(f"no session matches {ref!r} in {self.url}")
        raise SessionNotFoundError(
            f"session id {ref!r} is ambiguous: it matches {', '.join(matches[:10])}",
            candidates=matches,
        )

    def exists(self, session_id: str) -> bool:
        """True if the session's subject holds a message."""
        validate_session_id(session_id)
        return self.call(self._last(session_id)) is not None

    def head(self, session_id: str) -> Position:
        """Position(first seq, last seq) of the log; JournalIOError if there is none."""
        validate_session_id(session_id)

        head = rw.view(*self.call(self._ends(session_id, self._seen.get(session_id, 0))))
        if head is None:
            raise JournalIOError("no such session log", path=self.place(session_id))
        return head

    def holder(self, session_id: str) -> LockHolder | None:
        """The live lease's holder, or None (paused, ended, or crashed and expired)."""
        validate_session_id(session_id)

        async def run() -> LockHolder | None:
            return await holder(await self.aconn(), session_id)

        return self.call(run())

    # -- writing and reading -----------------------------------------------------------------

    def _acquire(self, session_id: str) -> Lease:
        async def run() -> Lease:
            return await acquire(await self.aconn(), session_id, self.place(session_id))

        return self.call(run())

    def open_writer(
        self,
        session_id: str,
        *,
        first: Event | None = None,
        durability: Durability = "default",
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        batch_interval_ms: float = 50.0,
        batch_max_events: int = 1024,
    ) -> NatsWriter:
        """Take the lease and open (or, with `first`, create) the session's log."""
        if durability not in DURABILITY_MODES:
            raise ValueError(f"durability must be one of {DURABILITY_MODES}, not {durability!r}")
        validate_session_id(session_id)
        path = self.place(session_id)
        line = encode_event(first) if first is not None else b""  # refused before the lease
        cap = min(max_record_bytes, self.max_payload - HEADER_ROOM)
        if len(line) > cap:
            raise RecordTooLargeError(
                f"{type(first).__name__} record is {len(line)} bytes; the cap is {cap}", path=path
            )
        lease = self._acquire(session_id)
        try:
            return self._open(session_id, lease, first, line, durability, max_record_bytes)
        except BaseException:
            self.release(lease)
            raise

    def _open(
        self,
        sid: str,
        lease: Lease,
        first: Event | None,
        line: bytes,
        durability: Durability,
        cap: int,
    ) -> NatsWriter:
        path = self.place(sid)
        if first is None:
            clean = self.call(rw.recover(self, sid))  # an interrupted rewrite's leftovers go first
            if clean is None:
                raise JournalIOError("no such session log", path=path)
            return NatsWriter(self, sid, lease, clean.epoch, clean.offset, durability, cap)
        if self.call(self._last(sid)) is not None:
            raise JournalIOError("session log already exists", path=path)
        subject = self.config.subject(sid)

        async def create() -> int:
            conn = await self.aconn()
            return await conn.publish(subject, line[:-1], f"{sid}:{first.seq}", 0, CREATED)

        try:
            seq = self.call(create())
        except Conflict as exc:
            raise JournalIOError("session log already exists", path=path) from exc
        writer = NatsWriter(self, sid, lease, seq, seq, durability, cap)
        writer.last_record = line
        self.put_summary(sid, writer.position)
        return writer

    def open_cursor(
        self,
        session_id: str,
        *,
        position: Position | None = None,
        line: int = 1,
        next_seq: int = 0,
        state: str | None = None,
        skip_corrupt: bool = False,
        resolve_blobs: bool = True,
    ) -> NatsCursor:
        """A verifying reader from `position` (the start when None)."""
        validate_session_id(session_id)
        epoch = self.first_seq(session_id)
        if epoch is None:
            raise JournalIOError("no such session log", path=self.place(session_id))
        offset = epoch - 1
        if position is not None:
            if position.epoch != epoch:
                raise StalePositionError(
                    "the position is of an earlier incarnation of the log",
                    path=self.place(session_id),
                )
            offset = position.offset
        return NatsCursor(
            self,
            session_id,
            epoch,
            offset,
            line=line,
            next_seq=next_seq,
            state=state,
            skip_corrupt=skip_corrupt,
            resolve_blobs=resolve_blobs,
        )

    # -- rewriting and removing --------------------------------------------------------------

    def rewrite(
        self, session_id: str, records: Iterable[bytes], *, expected: Position | None = None
    ) -> Position:
        """Replace the log by `records` under the lease (rewrite.py); a new epoch."""
        validate_session_id(session_id)
        lease = self._acquire(session_id)
        try:
            return rw.rewrite_log(self, session_id, records, expected)
        finally:
            self.release(lease)

    def recover(self, session_id: str) -> Position | None:
        """Complete or roll back an interrupted rewrite under the lease (rewrite.py); the head."""
        validate_session_id(session_id)
        lease = self._acquire(session_id)
        try:
            head = self.call(rw.recover(self, session_id))
        finally:
            self.release(lease)
        if head is not None:
            noted(self, session_id, head.offset)
        return head

    def remove(self, session_id: str) -> None:
        """Purge a session's log; SessionLockedError while a writer holds it."""
        validate_session_id(session_id)
        lease = self._acquire(session_id)
        try:
            if self.call(self._last(session_id)) is None:
                raise JournalIOError("no such session log", path=self.place(session_id))
            self.purge(session_id)
        finally:
            self.release(lease)

    # -- watching ----------------------------------------------------------------------------

    def watch(
        self, session_ids: Sequence[str] | None = None, *, stop: threading.Event | None = None
    ) -> NatsWatch:
        """A watch registered (its consumer created) before this returns."""
        return NatsWatch(self, session_ids, stop)


def _finish(loop: Loop, conn: Conn) -> None:
    loop.close(conn.close() if conn.nc is not None else None)


class _NatsEntry:
    __slots__ = ("_store", "epoch", "session_id")

    def __init__(self, store: NatsStore, session_id: str, epoch: int) -> None:
        self._store = store
        self.session_id = session_id
        self.epoch = epoch

    def head(self) -> Position | None:
        try:
            return self._store.head(self.session_id)
        except JournalIOError:
            return None
