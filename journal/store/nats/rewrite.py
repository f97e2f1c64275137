"""Crash-safe rewrites of a NATS session log, and which log readers take a subject to hold.

Contract (the protocol; `NatsStore.rewrite` runs it under the session's lease):
- A rewrite of the log standing at ``Position(e, o)`` publishes the new
  records after the subject's last message, chained by expected sequences.
  Each carries ``P8j-Rewrite: <e>.<o>.<token>`` (the old head, and a token of
  this attempt so Msg-Ids never collide with an interrupted earlier one's);
  the first also ``P8j-Created``; the last also ``P8j-Created`` and
  ``P8j-Commit: <seq of the first new record>`` (0: itself). Storing that
  last record commits the rewrite. Then the summary is updated and the
  subject purged below the first new record (deny_delete forbids anything
  finer; a purge by subject below a seq stays allowed).
- The log of a subject (`view`) is decided by its last message alone, plus
  its first for an ordinary log, so readers need no extra round trip:
  * a committed rewrite's last record (``P8j-Commit``, start s): s..last;
  * an uncommitted rewrite's record (``P8j-Rewrite``, no commit, old head
    (e, o)): e..o, the old log, its records after o ignored;
  * anything else: first..last.
  A reader sees the old log until the commit is stored and the new one from
  then on, whatever the purge has done yet: never a mix. Appends never land
  on leftovers: the expected-sequence header refuses any writer that has not
  read the subject since, and `open_writer` recovers before it reads.
- A rewrite that died leaves `Leftover` ``unpurged`` (committed, old records
  still below) or ``uncommitted`` (a partial new tail). `recover` (under the
  lease) completes the first (purge below s) and rolls back the second:
  the partial records cannot be deleted alone, so it republishes the old
  log's records as a rewrite of itself (same records, a new epoch) and purges
  below them. `open_writer` (resume) and ``p8j store check --repair`` recover;
  `rewrite` needs no recovery first (its commit and purge supersede any
  leftover); `remove` purges everything. `scan` finds leftovers store-wide
  from every subject's last message (headers only) plus a first lookup for
  those that end in a rewrite's record.
- Not JetStream atomic batches: a batch holds at most 1000 messages (the
  server's ``batch.max_msgs``), needs ``allow_atomic`` on the stream, and
  would not cover the purge, so the protocol above is needed anyway.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, NoReturn

import msgspec

from ...errors import InvalidEventError, JournalIOError, StalePositionError
from ..base import Position
from .conn import Conflict, Conn, Stored
from .kept import noted
from .listing import Summary, last_per_subject

if TYPE_CHECKING:
    from .store import NatsStore


__all__ = [
    "COMMIT",
    "CREATED",
    "REWRITE",
    "Leftover",
    "leftover",
    "recover",
    "replace",
    "rewrite_log",
    "scan",
    "view",
    "visible",
    "visible_in",
]

REWRITE = "P8j-Rewrite"
COMMIT = "P8j-Commit"
CREATED = "P8j-Created"

State = Literal["uncommitted", "unpurged"]


class Leftover(msgspec.Struct):
    """A session whose rewrite died (see the module doc) and what readers take its log to be."""

    session_id: str
    state: State  # uncommitted: a partial new tail; unpurged: committed, old records below
    head: Position  # the log readers see (uncommitted: the old one; unpurged: the new one)
    first: int  # the subject's first stream seq
    last: int  # the subject's last stream seq


def _bounds(last: Stored) -> Position | None:
    """The log's head as `last` alone decides it; None for an ordinary record."""
    tag = last.headers.get(REWRITE)
    if tag is None:
        return None
    try:
        commit = last.headers.get(COMMIT)
        if commit is not None:
            return Position(int(commit) or last.seq, last.seq)
        epoch, offset, _ = tag.split(".", 2)
        return Position(int(epoch), int(offset))
    except ValueError as exc:
        raise JournalIOError(
            f"bad rewrite headers at stream seq {last.seq}: {dict(last.headers)}"
        ) from exc


def view(first: Stored | None, last: Stored | None) -> Position | None:
    """The head of the log a subject holds, from its first and last messages (None: no log)."""
    if first is None or last is None:
        return None
    bounds = _bounds(last)
    return bounds if bounds is not None else Position(first.seq, last.seq)


def leftover(sid: str, first: Stored | None, last: Stored | None) -> Leftover | None:
    """What an interrupted rewrite left on the subject, or None when it is clean."""
    if first is None or last is None:
        return None
    bounds = _bounds(last)
    if bounds is None:
        return None
    if COMMIT not in last.headers:
        return Leftover(sid, "uncommitted", bounds, first.seq, last.seq)
    if first.seq < bounds.epoch:
        return Leftover(sid, "unpurged", bounds, first.seq, last.seq)
    return None


def visible_in(store: NatsStore, sid: str, epoch: int, got: list[Stored]) -> list[Stored]:
    """Which of `got` (a subject's records through its end) are the log of `epoch`.

    StalePositionError if the log is another incarnation now (rewritten,
    removed and created again), JournalIOError if there is none.
    """
    first = None
    if not got or REWRITE not in got[-1].headers:  # an ordinary last record: the first decides
        found = store.call(_first(store, sid))
        first = found.seq if found is not None else None
        if first is None:
            raise JournalIOError("no such session log", path=store.place(sid))
        if not got:  # nothing new: the same log, unless another incarnation starts below
            # (a first seq that differs may still be this log's: a commit not purged yet)
            return [] if first == epoch or store.first_seq(sid) == epoch else _stale(store, sid)
    out = visible(got, epoch, first)
    return out if out is not None else _stale(store, sid)


def _stale(store: NatsStore, sid: str) -> NoReturn:
    raise StalePositionError("the log was replaced (rewritten) since", path=store.place(sid))


async def _first(store: NatsStore, sid: str) -> Stored | None:
    return await (await store.aconn()).first(store.config.subject(sid))


def rewrite_log(
    store: NatsStore, sid: str, records: Iterable[bytes], expected: Position | None
) -> Position:
    """`NatsStore.rewrite` once it holds the lease: check, then `replace`."""
    path = store.place(sid)
    first, last = store.call(store._ends(sid, store._seen.get(sid, 0)))
    old = view(first, last)
    if old is None or last is None:
        raise JournalIOError("no such session log", path=path)
    if expected is not None and old != expected:
        raise StalePositionError("the log moved since the rewrite was planned", path=path)
    new_records = []
    for r in records:
        if b"\n" in r:
            raise InvalidEventError("a record may not contain a newline", path=path)
        new_records.append(bytes(r))

    async def run() -> Position:
        return await replace(await store.aconn(), sid, old, last.seq, new_records)

    try:
        head = store.call(run())
    except Conflict as exc:
        raise StalePositionError("the log changed during the rewrite", path=path) from exc
    noted(store, sid, head.offset)  # a read through a watch's kept records includes them
    return head


def visible(got: list[Stored], epoch: int, first_seq: int | None) -> list[Stored] | None:
    """The records of `got` (all of a subject after some seq) in the log of `epoch`.

    `first_seq` is the subject's first seq, needed only when `got` ends in an
    ordinary record (else it may be anything). None: the log is another
    incarnation now (rewritten, removed and created again).
    """
    bounds = _bounds(got[-1])
    start = first_seq if bounds is None else bounds.epoch
    if start != epoch:
        return None
    if bounds is None:
        return got
    return [m for m in got if m.seq <= bounds.offset]


async def _put_summary(conn: Conn, sid: str, head: Position) -> None:
    value = msgspec.json.encode(Summary(head.epoch, head.offset))
    await conn.js.publish(f"$KV.{conn.config.sessions_bucket}.{sid}", value)


async def replace(conn: Conn, sid: str, old: Position, last: int, records: list[bytes]) -> Position:
    """Run the protocol: publish `records` after stream seq `last`, commit, purge (module doc).

    `old` is the log's head as readers see it now; raises `conn.Conflict` if
    anyone else published to the subject meanwhile.
    """
    subject = conn.config.subject(sid)
    if not records:  # nothing to commit: one purge is atomic by itself
        await conn.purge(subject)
        return Position(0, last)
    tag = f"{old.epoch}.{old.offset}.{secrets.token_hex(6)}"
    first = 0
    for i, record in enumerate(records):
        headers = {REWRITE: tag}
        if i == 0:
            headers[CREATED] = "1"
        if i == len(records) - 1:
            headers[CREATED] = "1"  # watches report the replacement as it happens
            headers[COMMIT] = str(first)
        last = await conn.publish(subject, record, f"{sid}:rw{tag}:{i}", last, headers)
        first = first or last
    head = Position(first, last)
    await _put_summary(conn, sid, head)  # before the purge: listings agree with readers sooner
    await conn.purge(subject, keep_from=first)
    return head


async def recover(store: NatsStore, sid: str) -> Position | None:
    """Complete or roll back an interrupted rewrite (under the lease); the clean head, or None."""
    conn = await store.aconn()
    subject = conn.config.subject(sid)
    first, last = await asyncio.gather(conn.first(subject), conn.last(subject))
    left = leftover(sid, first, last)
    if left is None:
        return view(first, last)
    if left.state == "unpurged":
        await _put_summary(conn, sid, left.head)
        await conn.purge(subject, keep_from=left.head.epoch)
        return left.head
    # Uncommitted: the old log's records, published again as a rewrite of itself.
    old = [m.data for m in await conn.read(subject, left.head.epoch) if m.seq <= left.head.offset]
    return await replace(conn, sid, left.head, left.last, old)


async def scan(conn: Conn) -> list[Leftover]:
    """Every session of the store with an interrupted rewrite (module doc)."""
    if not await conn.subjects():
        return []
    lasts = await last_per_subject(conn)
    out: list[Leftover] = []
    for subject, last in sorted(lasts.items()):
        if REWRITE not in last.headers:
            continue
        sid = conn.config.session_of(subject)
        left = leftover(sid, await conn.first(subject), last)
        if left is not None:
            out.append(left)
    return out
