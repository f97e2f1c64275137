"""Fast reads of one subject: batched direct gets received by a sink (sink.py), not as `Msg`s.

Contract:
- `fetch(conn, subject, start)` is every message of `subject` with stream
  seq >= `start`, in order, as `Stored` (headers parsed only when asked:
  `RawHeaders`). It asks ``$JS.API.DIRECT.GET.<stream>`` for batches
  (``next_by_subj``, ``batch``; server >= 2.11) until the server reports
  nothing pending after the last message it sent, so no head lookup comes
  first. Each message names the one sent before it in its batch
  (``Nats-Last-Sequence``) and the end-of-batch marker names the last: a
  message lost on the way (a slow consumer) raises `JournalIOError`, it is
  never skipped. Batches grow to `_MAX_BATCH` messages, bounded by
  `_BATCH_BYTES` of the sizes seen so far, so the server never queues much
  more than that for this client.
- On a cluster a direct get may be answered by a replica that has not
  applied the latest records: `fetch` then returns a prefix of the log, as
  `Conn.batch` does (cursor.py's `catch_up` waits for what a watch saw).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, cast

import msgspec

from ...errors import JournalIOError
from .conn import Stored
from .sink import sink

if TYPE_CHECKING:
    from .conn import Conn

__all__ = ["RawHeaders", "fetch"]

_FIRST_BATCH = 1000
_MAX_BATCH = 10_000
_BATCH_BYTES = 8 << 20  # what one batch may queue at the server, by the sizes seen
_TIMEOUT_S = 10.0
_SEQ = b"\r\nNats-Sequence: "
_LAST = b"\r\nNats-Last-Sequence: "
_PENDING = b"\r\nNats-Num-Pending: "
_STATUS_AT = len(b"NATS/1.0")  # b"NATS/1.0 204 EOB\r\n...": a status line has a space here
_SPACE = 32


class RawHeaders(msgspec.Struct, gc=False):
    """A message's header block as received, read as a ``Mapping[str, str]`` on demand.

    Untracked by the cycle collector (gc=False) like `Stored`: a replay holds
    one per record, and membership tests (``"P8j-Created" in headers``) need
    no parsing at all.
    """

    raw: bytes

    def _lines(self) -> Iterator[tuple[str, str]]:
        for line in self.raw.split(b"\r\n")[1:]:
            key, sep, value = line.partition(b":")
            if sep:
                yield key.decode(), value.strip().decode()

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and b"\r\n" + key.encode() + b":" in self.raw

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: str | None = None) -> str | None:
        """The header's value, or `default`."""
        if key in self:
            for k, v in self._lines():
                if k == key:
                    return v
        return default

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._lines())

    def __len__(self) -> int:
        return sum(1 for _ in self._lines())

    def keys(self) -> list[str]:
        """The header names, in order."""
        return list(self)

    def items(self) -> list[tuple[str, str]]:
        """(name, value) pairs, in order."""
        return list(self._lines())

    def values(self) -> list[str]:
        """The header values, in order."""
        return [v for _, v in self._lines()]


Mapping.register(RawHeaders)  # a Struct cannot subclass Mapping (metaclasses differ)

# Stored(seq, data, headers) with RawHeaders as its Mapping (registered above).
_headers = cast("Callable[[bytes], Mapping[str, str]]", RawHeaders)


def _int_after(raw: bytes, key: bytes) -> int:
    """The integer value of header `key` (which includes its CRLF and ": "), or -1."""
    i = raw.find(key)
    if i < 0:
        return -1
    i += len(key)
    return int(raw[i : raw.index(b"\r\n", i)])


async def fetch(conn: Conn, subject: str, start: int) -> list[Stored]:
    """Messages of `subject` with seq >= `start`, in order (see the module doc)."""
    out: list[Stored] = []
    want, size = _FIRST_BATCH, 0
    while True:
        before = len(out)
        pending = await _batch(conn, subject, max(start, 1), want, out)
        got = len(out) - before
        if pending <= 0 or got == 0:
            return out
        size += sum(len(m.data) for m in out[before:])
        start = out[-1].seq + 1
        want = max(1, min(_MAX_BATCH, _BATCH_BYTES * len(out) // max(size, 1)))


async def _batch(conn: Conn, subject: str, start: int, want: int, out: list[Stored]) -> int:
    """One batched direct get appended to `out`; how many the server says are left after it."""
    nc = conn.nc
    assert nc is not None
    stream = conn.config.stream
    loop = asyncio.get_running_loop()
    end: asyncio.Future[bytes] = loop.create_future()
    prev = 0
    append = out.append

    def got(reply: bytes, data: bytes, raw: bytes | None) -> None:
        nonlocal prev
        if raw is None or raw[_STATUS_AT] == _SPACE:  # a status: the end of the batch
            if not end.done():
                end.set_result(raw or b"NATS/1.0 000 no headers\r\n\r\n")
            return
        try:
            i = raw.index(_SEQ) + len(_SEQ)
            seq = int(raw[i : raw.index(b"\r\n", i)])
            i = raw.index(_LAST) + len(_LAST)  # the seq sent before it in this batch
            before = int(raw[i : raw.index(b"\r\n", i)])
        except ValueError as exc:  # not raised into nats-py's reader: to the caller
            if not end.done():
                error = JournalIOError(f"NATS direct get on {stream} answered {raw!r}")
                error.__cause__ = exc
                end.set_exception(error)
            return
        if before != prev and not end.done():
            end.set_exception(_lost(stream, subject, prev, seq))
        prev = seq
        append(Stored(seq, data, _headers(raw)))

    sub = await sink(nc, nc.new_inbox(), got)
    try:
        req = {"seq": start, "next_by_subj": subject, "batch": want}
        await nc.publish(f"$JS.API.DIRECT.GET.{stream}", json.dumps(req).encode(), sub.subject)
        status = await asyncio.wait_for(end, _TIMEOUT_S)
    except asyncio.TimeoutError as exc:
        raise JournalIOError(f"NATS direct get on {stream} timed out") from exc
    finally:
        await sub.unsubscribe()
    code = status[_STATUS_AT + 1 : _STATUS_AT + 4]
    if code == b"404":
        return 0
    if code != b"204":
        line = status.split(b"\r\n", 1)[0].decode(errors="replace")
        raise JournalIOError(f"NATS direct get on {stream}: {line}")
    if _int_after(status, _LAST) != prev:
        raise _lost(stream, subject, prev, _int_after(status, _LAST))
    return _int_after(status, _PENDING)


def _lost(stream: str, subject: str, prev: int, seq: int) -> JournalIOError:
    return JournalIOError(
        f"NATS direct get on {stream}: a message of {subject} was lost on the way "
        f"(seq {seq} after {prev})"
    )
