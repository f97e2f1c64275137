"""`publish_batch`: many records of one session in one JetStream atomic batch (ADR-50).

Contract (a coroutine on the store's loop; the append protocol of writer.py, batched):
- The records go out as one atomic batch (stream setting ``allow_atomic``,
  nats-server >= 2.12): headers ``Nats-Batch-Id`` (fresh per try),
  ``Nats-Batch-Sequence`` (1..n) and, on the last, ``Nats-Batch-Commit: 1``;
  the server stores all of them, in order and contiguous on the subject, or
  none. Only the commit is acknowledged; the others are core publishes.
- Each record carries its ``Nats-Msg-Id`` (dedup on retry: the server refuses
  a batch holding an id it has already stored). The first carries
  ``Nats-Expected-Last-Subject-Sequence``: the server checks it against the
  stream as it was before the batch, so one writer per session holds for the
  whole batch (the server refuses that header on later records of the same
  subject in a batch, and needs it on none of them: nothing can come between).
- Retries (timeouts, lost connections, 503s during a leader election, a batch
  that reached the server incomplete) send the whole batch again, same
  records and ids, under a new batch id, until the retry horizon. A refusal
  for a wrong last sequence or a duplicate Msg-Id then reads the subject after
  the expected sequence: if it holds exactly our records (ids and bytes), an
  earlier try was stored and the batch is acknowledged now; otherwise it is a
  `Conflict` (another writer).
- It returns the stream seq of the last record only once the server
  acknowledged the commit (or the records are found stored); `AtomicOff` if
  the stream does not allow atomic batches (the caller publishes one at a
  time); anything else raises `JournalIOError`. At most `MAX_BATCH` records.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Sequence
from typing import Any

import nats.errors

from ...errors import JournalIOError
from .conn import RETRYABLE, TRY_TIMEOUT_S, Conflict, Conn, Stored

__all__ = ["MAX_BATCH", "MAX_BATCH_BYTES", "AtomicOff", "publish_batch"]

MAX_BATCH = 1000  # the server's limit of messages per atomic batch
MAX_BATCH_BYTES = 4 << 20  # what one batch may carry (the server holds it until the commit)
_WRONG_LAST = 10071
_DUPLICATE_ID = 10201
_DISABLED = 10174
_INCOMPLETE = 10176  # a core publish of the batch was lost on the way: send it again
_FOUND_TRIES = 20  # reads of a replica that may not have applied the batch yet, 25 ms apart


class AtomicOff(Exception):
    """The stream does not allow atomic batches (``allow_atomic`` off, or an older server)."""


class _Refused(Exception):
    def __init__(self, code: int, err_code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.err_code = err_code


async def publish_batch(
    conn: Conn, subject: str, records: Sequence[bytes], msg_ids: Sequence[str], expected: int
) -> int:
    """Append `records` as one atomic batch after stream seq `expected` (module doc)."""
    n = len(records)
    if not 0 < n <= MAX_BATCH or len(msg_ids) != n:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} records, each with its id")
    deadline = time.monotonic() + conn.config.retry_s
    attempt = 0
    while True:
        attempt += 1
        try:
            return await _try(conn, subject, records, msg_ids, expected)
        except _Refused as exc:
            if exc.err_code in (_WRONG_LAST, _DUPLICATE_ID):
                found = await _stored(conn, subject, records, msg_ids, expected)
                if found is not None:
                    return found
                raise Conflict(str(exc) or "wrong last sequence", None) from exc
            if exc.err_code == _DISABLED:
                raise AtomicOff(str(exc)) from exc
            if exc.err_code != _INCOMPLETE and exc.code != 503:
                raise JournalIOError(f"NATS refused the batch to {subject}: {exc}") from exc
            error: BaseException = exc
        except RETRYABLE as exc:
            error = exc
        if time.monotonic() + 0.1 > deadline:
            raise JournalIOError(
                f"NATS did not acknowledge the batch of {n} to {subject} within "
                f"{conn.config.retry_s:g} s ({attempt} tries): {error!r}"
            ) from error
        await asyncio.sleep(min(0.05 * attempt, 0.5))  # back off between retries


async def _try(
    conn: Conn, subject: str, records: Sequence[bytes], msg_ids: Sequence[str], expected: int
) -> int:
    nc = conn.nc
    if nc is None:
        raise nats.errors.ConnectionClosedError
    batch_id = os.urandom(12).hex()
    last = len(records) - 1
    for i, record in enumerate(records):
        headers = {
            "Nats-Batch-Id": batch_id,
            "Nats-Batch-Sequence": str(i + 1),
            "Nats-Msg-Id": msg_ids[i],
        }
        if i == 0:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(expected)
        if i < last:
            await nc.publish(subject, record, headers=headers)
            continue
        headers["Nats-Batch-Commit"] = "1"
        # The server applies the whole batch at the commit: allow for its size.
        msg = await nc.request(
            subject, record, headers=headers, timeout=TRY_TIMEOUT_S + len(records) / 500
        )
        return _acked(msg.data, batch_id, len(records))
    raise AssertionError("unreachable: a batch has a last record")  # pragma: no cover


def _acked(data: bytes, batch_id: str, count: int) -> int:
    try:
        reply: dict[str, Any] = json.loads(data)
    except ValueError as exc:
        raise JournalIOError(f"NATS answered a batch commit with {data[:200]!r}") from exc
    error = reply.get("error")
    if error:
        raise _Refused(
            int(error.get("code", 0)), int(error.get("err_code", 0)), error.get("description", "")
        )
    if reply.get("batch") != batch_id or reply.get("count") != count:
        raise JournalIOError(f"NATS acknowledged a batch of {count} with {reply}")
    return int(reply["seq"])


async def _stored(
    conn: Conn, subject: str, records: Sequence[bytes], msg_ids: Sequence[str], expected: int
) -> int | None:
    """The last seq of our records if they follow `expected` on the subject, else None."""
    n = len(records)
    got: list[Stored] = []
    for _ in range(_FOUND_TRIES):
        got = await conn.batch(subject, expected + 1, n)
        if len(got) == n or (got and not _ours(got, records, msg_ids)):
            break
        await asyncio.sleep(0.025)  # a replica that has not applied the commit yet
    if len(got) == n and _ours(got, records, msg_ids):
        return got[-1].seq
    return None


def _ours(got: Sequence[Stored], records: Sequence[bytes], msg_ids: Sequence[str]) -> bool:
    return all(
        s.headers.get("Nats-Msg-Id") == mid and s.data == rec
        for s, rec, mid in zip(got, records, msg_ids, strict=False)
    )
