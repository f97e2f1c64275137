"""Writer leases in a KV bucket: who writes a session now, expiring soon after its holder dies.

Contract: the lease of session S is the KV key S in ``<stream>_LEASES``, whose
value is the holder (`LockHolder` JSON: pid, host) and whose message carries a
per-message TTL (``Nats-TTL``, the store's ``lease`` seconds).
- `acquire` creates the key only if it has no live value (expected last
  subject sequence 0, or the sequence of its delete marker): a live lease
  raises `SessionLockedError` naming its holder.
- `Lease.beat` (every third of the TTL, from the loop) rewrites the value
  guarded by its own revision; a failed beat marks the lease `lost` (the
  appends' expected-sequence header remains the last line of defence).
- `release` writes a delete marker guarded by its revision (a lease someone
  else took after ours expired is left alone).
- `holder` is None when the key is absent, deleted or expired.
A holder that dies without releasing loses its lease when the TTL runs out, so
a crashed session can be resumed after at most ``lease`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

import msgspec
import nats.errors
import nats.js.errors

from ...errors import JournalIOError, SessionLockedError
from ..fs.lock import LockHolder
from .conn import Conn, Stored

__all__ = ["Lease", "acquire", "holder"]

_DELETED = ("DEL", "PURGE")
_WRONG_LAST = (10071, 10164)


def _subject(conn: Conn, session_id: str) -> str:
    return f"$KV.{conn.config.leases_bucket}.{session_id}"


def _live(stored: Stored | None) -> bool:
    return stored is not None and stored.headers.get("KV-Operation") not in _DELETED


def _decode(stored: Stored) -> LockHolder:
    try:
        return msgspec.json.decode(stored.data, type=LockHolder)
    except msgspec.DecodeError:
        return LockHolder()


async def _last(conn: Conn, session_id: str) -> Stored | None:
    req = f"$JS.API.DIRECT.GET.KV_{conn.config.leases_bucket}.{_subject(conn, session_id)}"
    return await conn._direct(req, b"")


async def holder(conn: Conn, session_id: str) -> LockHolder | None:
    """The live lease's holder, or None."""
    last = await _last(conn, session_id)
    return _decode(last) if last is not None and _live(last) else None


class Lease:
    """A held lease: its revision, renewed by `beat`, given back by `release`."""

    def __init__(self, conn: Conn, session_id: str, revision: int) -> None:
        self.conn = conn
        self.session_id = session_id
        self.revision = revision
        self.lost = False
        self._value = msgspec.json.encode(LockHolder(pid=os.getpid(), host=socket.gethostname()))
        self._task: asyncio.Task[None] | None = None

    def _ttl(self) -> str:
        return f"{max(1, round(self.conn.config.lease_s))}s"

    async def _put(self, value: bytes, expected: int, op: str | None = None) -> int:
        headers = {
            "Nats-Expected-Last-Subject-Sequence": str(expected),
            "Nats-TTL": self._ttl(),
        }
        if op is not None:
            headers["KV-Operation"] = op
        ack = await self.conn.js.publish(
            _subject(self.conn, self.session_id), value, timeout=5.0, headers=headers
        )
        return int(ack.seq)

    def start(self) -> None:
        """Begin heartbeats (call on the loop)."""
        self._task = asyncio.get_running_loop().create_task(self._beats())

    async def _beats(self) -> None:
        period = self.conn.config.lease_s / 3
        while not self.lost:
            await asyncio.sleep(period)  # a heartbeat period, not a synchronisation
            try:
                self.revision = await self._put(self._value, self.revision)
            except nats.js.errors.APIError as exc:
                if exc.err_code in _WRONG_LAST:
                    self.lost = True  # someone else's now; appends will be refused by seq
                # else a leader election (503) or the like: the next beat tries again
            except (nats.errors.Error, asyncio.TimeoutError):
                continue  # a blip: the next beat tries again within the TTL

    async def release(self) -> None:
        """Stop beating and delete the lease if it is still ours."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.lost:
            return
        with contextlib.suppress(nats.errors.Error, asyncio.TimeoutError):
            await self._put(b"", self.revision, "DEL")  # else it expires after the TTL
        self.lost = True


async def acquire(conn: Conn, session_id: str, path: str) -> Lease:
    """Take the session's lease; SessionLockedError naming the holder if it is live."""
    for _ in range(3):
        last = await _last(conn, session_id)
        if _live(last):
            assert last is not None
            who = _decode(last)
            raise SessionLockedError(
                f"session {session_id} is open for writing by pid {who.pid} on {who.host}",
                pid=who.pid,
                host=who.host,
                path=path,
            )
        lease = Lease(conn, session_id, 0)
        try:
            lease.revision = await lease._put(lease._value, last.seq if last is not None else 0)
        except nats.js.errors.APIError as exc:
            if exc.err_code in _WRONG_LAST:
                continue  # taken (or expired) between the read and the create: look again
            raise JournalIOError(f"cannot take the lease of {session_id}: {exc}") from exc
        lease.start()
        return lease
    raise SessionLockedError(f"session {session_id} is being taken by another writer", path=path)
