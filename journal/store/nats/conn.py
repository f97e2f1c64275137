"""`Conn`: the asyncio side of the NATS store (one connection, its JetStream assets, raw reads).

Contract (coroutines, run on the store's `Loop`):
- `connect` opens the client connection (reconnecting forever in the
  background, so a leader election or a restarted server is ridden out);
  `ensure` finds the stream and buckets, creating the missing ones with the
  recommended settings (config.py), idempotently; `close` drains.
- `publish` is one guarded append (see the append protocol in writer.py):
  headers ``Nats-Msg-Id`` and ``Nats-Expected-Last-Subject-Sequence``, retried
  with the same headers on timeouts, lost connections and 503s until the retry
  horizon; it returns the stream sequence only once the server acknowledged
  the record (or, on a retry, once the record is found stored under its
  Msg-Id). A conflict raises `Conflict`, anything else `JournalIOError`.
- `batch` reads a subject from a sequence on with batched direct gets
  (``$JS.API.DIRECT.GET``, ``next_by_subj``, ``batch``); `last` and `first` are
  single direct gets (None when the subject has no message).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from types import MappingProxyType

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from ...errors import JournalIOError
from . import sink
from .config import NatsConfig

__all__ = ["RETRYABLE", "TRY_TIMEOUT_S", "Conflict", "Conn", "Stored"]

TRY_TIMEOUT_S = 2.0
_CONNECT_TIMEOUT_S = 5.0
_BATCH = 1000
_CONSUME_OVER = 2000  # stream seqs to read past which a consumer is cheaper
_WRONG_LAST = (10071, 10164)
# $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>, or the form with
# domain and account hash (and a trailing token), as nats-py's Msg.Metadata parses them.
_V1_TOKENS = 9
_V2_TOKENS = 12
RETRYABLE = (
    asyncio.TimeoutError,
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.js.errors.NoStreamResponseError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
)


class Conflict(Exception):
    """The subject's last sequence is not the one expected: someone else appended."""

    def __init__(self, message: str, last_seq: int | None) -> None:
        super().__init__(message)
        self.last_seq = last_seq


# Read-only: shared by every message that has no headers.
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class Stored(msgspec.Struct, gc=False):
    """One stored message: its stream sequence, payload and headers (read-only)."""

    # Untracked by the cycle collector (gc=False: no field can form a cycle): a replay
    # holds tens of thousands at once, and as tracked objects they made the collector's
    # full passes over the growing heap cost a third of the replay's time.
    seq: int
    data: bytes
    headers: Mapping[str, str] = _NO_HEADERS


def _status(msg: Msg) -> str | None:
    return msg.headers.get("Status") if msg.headers else None


class Conn:
    """One client connection and the store's JetStream assets."""

    def __init__(self, config: NatsConfig) -> None:
        self.config = config
        self.nc: Client | None = None
        self._js: JetStreamContext | None = None
        self.max_payload = 1 << 20
        self.ensured = False
        # Does the stream take atomic batches (`allow_atomic`, server >= 2.12)? Read by
        # `ensure`; a batch the server refuses as disabled turns it off (batch.py).
        self.atomic = False

    @property
    def js(self) -> JetStreamContext:
        """The JetStream context (after `connect`)."""
        assert self._js is not None
        return self._js

    async def connect(self) -> None:
        """Connect (reconnecting forever afterwards); JournalIOError if no server answers."""
        try:
            # Reconnecting forever once connected; the first connect is bounded (the
            # client would otherwise retry it forever too). A client with sinks (reads).
            self.nc = await asyncio.wait_for(
                sink.connect(
                    servers=list(self.config.servers),
                    connect_timeout=2,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.25,
                    allow_reconnect=True,
                    error_cb=_ignore,
                    disconnected_cb=_ignore_nothing,
                ),
                _CONNECT_TIMEOUT_S,
            )
        except (OSError, asyncio.TimeoutError, nats.errors.Error) as exc:
            raise JournalIOError(
                f"cannot connect to NATS at {', '.join(self.config.servers)}: "
                f"{str(exc) or f'no answer in {_CONNECT_TIMEOUT_S:g} s'}"
            ) from exc
        self._js = self.nc.jetstream(timeout=TRY_TIMEOUT_S)
        self.max_payload = self.nc.max_payload

    async def close(self) -> None:
        """Drain and close the connection."""
        if self.nc is not None and not self.nc.is_closed:
            try:
                await asyncio.wait_for(self.nc.drain(), 5.0)
            except (asyncio.TimeoutError, nats.errors.Error):
                await self.nc.close()

    def stream_config(self) -> api.StreamConfig:
        """The recommended stream (see config.py)."""
        c = self.config
        return api.StreamConfig(
            name=c.stream,
            description="p8j session journals: one subject per session",
            subjects=[c.subjects],
            storage=api.StorageType.FILE,
            num_replicas=c.replicas,
            retention=api.RetentionPolicy.LIMITS,
            discard=api.DiscardPolicy.NEW,
            max_msgs=-1,
            max_bytes=-1,
            max_age=0,
            max_msgs_per_subject=-1,
            duplicate_window=c.duplicate_window_s,
            allow_direct=True,
            deny_delete=True,
            deny_purge=False,
            allow_atomic=True if self.atomic_supported() else None,
        )

    def atomic_supported(self) -> bool:
        """True if the server takes atomic batches (nats-server 2.12 and later)."""
        if self.nc is None:
            return False
        try:
            version = self.nc.connected_server_version
            return (version.major, version.minor) >= (2, 12)
        except (ValueError, TypeError):  # no or an unparsable version: assume an old server
            return False

    async def ensure(self, *, create: bool = True) -> bool:
        """Find (or create) the stream and buckets; False if any is absent and not `create`."""
        if self.ensured:
            return True
        c = self.config
        try:
            info = await self.js.stream_info(c.stream)
        except nats.js.errors.NotFoundError:
            if not create:
                return False
            info = await self.js.add_stream(self.stream_config())
        except nats.errors.Error as exc:
            raise JournalIOError(f"NATS stream {c.stream}: {exc!r}") from exc
        self.atomic = bool(info.config.allow_atomic)
        for bucket in (c.sessions_bucket, c.leases_bucket):
            if not await self._ensure_bucket(bucket, create, kv=True):
                return False
        if not await self._ensure_bucket(c.blobs_bucket, create, kv=False):
            return False
        self.ensured = True
        return True

    async def _ensure_bucket(self, bucket: str, create: bool, *, kv: bool) -> bool:
        try:
            if kv:
                await self.js.key_value(bucket)
            else:
                await self.js.object_store(bucket)
            return True
        except (nats.js.errors.NotFoundError, nats.js.errors.BucketNotFoundError):
            if not create:
                return False
        if kv:
            await self.js.create_key_value(
                bucket=bucket,
                history=1,
                storage=api.StorageType.FILE,
                replicas=self.config.replicas,
                direct=True,
            )
        else:
            await self.js.create_object_store(
                bucket=bucket, storage=api.StorageType.FILE, replicas=self.config.replicas
            )
        return True

    # -- appending -------------------------------------------------------------------------

    async def publish(
        self,
        subject: str,
        data: bytes,
        msg_id: str,
        expected: int | None,
        extra: dict[str, str] | None = None,
    ) -> int:
        """Append `data` guarded by `expected`; its stream seq once acknowledged (module doc)."""
        headers = {"Nats-Msg-Id": msg_id}
        if expected is not None:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(expected)
        if extra:
            headers.update(extra)
        deadline = time.monotonic() + self.config.retry_s
        attempt = 0
        while True:
            attempt += 1
            try:
                # No ``stream=``: its Expected-Stream header is one more server-side check
                # per append, and the subject can only be the stream's (config.py). Without
                # it (or a TTL) nats-py does not touch `headers`, so every try sends them.
                ack = await self.js.publish(subject, data, timeout=TRY_TIMEOUT_S, headers=headers)
            except nats.js.errors.APIError as exc:
                if exc.err_code in _WRONG_LAST:
                    # A retry whose first try was stored after all: it is ours if the
                    # subject's last message carries our Msg-Id and bytes.
                    last = await self.last(subject)
                    if last is not None and _is_ours(last, msg_id, data):
                        return last.seq
                    raise Conflict(
                        exc.description or "wrong last sequence", last.seq if last else None
                    ) from exc
                if exc.code != 503 and not isinstance(exc, nats.js.errors.ServiceUnavailableError):
                    raise JournalIOError(f"NATS refused the append to {subject}: {exc}") from exc
                error: BaseException = exc
            except RETRYABLE as exc:
                error = exc
            else:
                if ack.duplicate:
                    stored = await self.get(ack.seq)
                    if stored is None or not _is_ours(stored, msg_id, data):
                        raise Conflict(
                            f"Msg-Id {msg_id} was already used by another record", ack.seq
                        )
                return int(ack.seq)
            if time.monotonic() + 0.1 > deadline:
                raise JournalIOError(
                    f"NATS did not acknowledge the append to {subject} within "
                    f"{self.config.retry_s:g} s ({attempt} tries): {error!r}"
                ) from error
            await asyncio.sleep(min(0.05 * attempt, 0.5))  # back off between retries

    # -- reading ----------------------------------------------------------------------------

    async def batch(self, subject: str, start: int, limit: int | None = None) -> list[Stored]:
        """Messages of `subject` with seq >= `start`, in order (all of them, or `limit`)."""
        out: list[Stored] = []
        while True:
            want = _BATCH if limit is None else min(_BATCH, limit - len(out))
            req = {"seq": max(start, 1), "next_by_subj": subject, "batch": want}
            got = await self.direct_batch(self.config.stream, req)
            out.extend(got)
            if len(got) < want or (limit is not None and len(out) >= limit):
                return out
            start = got[-1].seq + 1

    async def read(self, subject: str, start: int) -> list[Stored]:
        """Messages of `subject` with seq >= `start`: direct gets, or a consumer for many.

        Direct gets cost no server state, but their per-message cost is several
        times an ordered consumer's; past `_CONSUME_OVER` stream sequences a
        short-lived ordered consumer delivers the rest (to the last seq seen now).
        """
        last = await self.last(subject)
        if last is None or last.seq < start:
            return []
        if last.seq - start < _CONSUME_OVER:
            return await self.batch(subject, start)
        return await self.consume(subject, start, last.seq)

    async def consume(self, subject: str, start: int, last: int) -> list[Stored]:
        """Messages of `subject` from seq `start` through `last`, by an ordered consumer."""
        out: list[Stored] = []
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def got(msg: Msg) -> None:
            seq = _stream_seq(msg)
            if seq <= last:
                out.append(Stored(seq, msg.data, msg.headers or _NO_HEADERS))
            if seq >= last and not done.done():
                done.set_result(None)

        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            inactive_threshold=30.0,
        )
        sub = await self.js.subscribe(
            subject, stream=self.config.stream, ordered_consumer=True, config=config, cb=got
        )
        try:
            while not done.done():
                before = len(out)
                try:
                    await asyncio.wait_for(asyncio.shield(done), TRY_TIMEOUT_S * 5)
                except asyncio.TimeoutError as exc:
                    if len(out) == before:  # no progress at all: give up
                        raise JournalIOError(f"NATS stopped delivering {subject}") from exc
        finally:
            await sub.unsubscribe()
        return out

    async def direct_batch(self, stream: str, req: dict[str, object]) -> list[Stored]:
        """One batched direct get on `stream` (up to its end-of-batch marker)."""
        nc = self.nc
        assert nc is not None
        out: list[Stored] = []
        end: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

        # A callback, not next_msg(): next_msg's per-message timeout costs more than
        # the message itself on a long batch.
        async def got(msg: Msg) -> None:
            status = _status(msg)
            if status is None:
                out.append(_stored(msg))
            elif not end.done():
                end.set_result(None if status in ("204", "404") else status)

        sub = await nc.subscribe(nc.new_inbox(), cb=got)
        try:
            await nc.publish(
                f"$JS.API.DIRECT.GET.{stream}", json.dumps(req).encode(), reply=sub.subject
            )
            status = await asyncio.wait_for(end, TRY_TIMEOUT_S * 5)
        except asyncio.TimeoutError as exc:
            raise JournalIOError(f"NATS direct get on {stream} timed out") from exc
        finally:
            await sub.unsubscribe()
        if status is not None:
            raise JournalIOError(f"NATS direct get on {stream}: status {status}")
        return out

    async def last(self, subject: str) -> Stored | None:
        """The subject's last message, or None."""
        return await self._direct(f"$JS.API.DIRECT.GET.{self.config.stream}.{subject}", b"")

    async def first(self, subject: str) -> Stored | None:
        """The subject's first message, or None."""
        got = await self.batch(subject, 1, 1)
        return got[0] if got else None

    async def get(self, seq: int) -> Stored | None:
        """The stream's message at `seq`, or None."""
        req = json.dumps({"seq": seq}).encode()
        return await self._direct(f"$JS.API.DIRECT.GET.{self.config.stream}", req)

    async def _direct(self, subject: str, payload: bytes) -> Stored | None:
        assert self.nc is not None
        deadline = time.monotonic() + self.config.retry_s
        attempt = 0
        while True:
            attempt += 1
            try:
                msg = await self.nc.request(subject, payload, timeout=TRY_TIMEOUT_S)
                break
            except nats.errors.NoRespondersError as exc:
                # A stream just created, or whose leader just changed, has no direct-get
                # responders for a moment: wait for them (within the retry horizon), unless
                # there is no such stream at all.
                if time.monotonic() + 0.1 > deadline or not await self._stream_exists():
                    raise JournalIOError(f"no NATS stream {self.config.stream} answers") from exc
            except nats.errors.TimeoutError as exc:
                raise JournalIOError(f"NATS direct get on {subject} timed out") from exc
            await asyncio.sleep(min(0.05 * attempt, 0.5))  # back off between retries
        status = _status(msg)
        if status == "404":
            return None
        if status is not None:
            raise JournalIOError(f"NATS direct get on {subject}: status {status}")
        return _stored(msg)

    async def _stream_exists(self) -> bool:
        """True unless the server says the stream does not exist (any other error: True)."""
        try:
            await self.js.stream_info(self.config.stream)
        except nats.js.errors.NotFoundError:
            return False
        except (nats.errors.Error, asyncio.TimeoutError):
            return True  # unknown: let the retry horizon decide
        return True

    async def subjects(self) -> dict[str, int]:
        """Every session subject in the stream, with its message count."""
        try:
            info = await self.js.stream_info(
                self.config.stream, subjects_filter=self.config.subjects
            )
        except nats.js.errors.NotFoundError:
            return {}
        return dict(info.state.subjects or {})

    async def purge(self, subject: str, keep_from: int | None = None) -> None:
        """Purge `subject` (below seq `keep_from` only, if given)."""
        await self.js.purge_stream(self.config.stream, seq=keep_from, subject=subject)


def _stored(msg: Msg) -> Stored:
    headers = msg.headers or {}
    try:
        return Stored(int(headers["Nats-Sequence"]), msg.data, headers)
    except (KeyError, ValueError) as exc:
        raise JournalIOError(f"NATS answered a direct get without a sequence: {headers}") from exc


def _stream_seq(msg: Msg) -> int:
    """The stream sequence of a consumer's delivery, from its reply subject.

    What ``msg.metadata.sequence.stream`` gives, without the timestamp datetime
    and dataclasses it builds per message (a third of a replay's receive time).
    """
    tokens = (msg.reply or "").split(".")
    if len(tokens) == _V1_TOKENS and tokens[0] == "$JS" and tokens[1] == "ACK":
        return int(tokens[5])
    if len(tokens) >= _V2_TOKENS - 1 and tokens[0] == "$JS" and tokens[1] == "ACK":
        return int(tokens[Msg.Ack.StreamSeq])
    return msg.metadata.sequence.stream  # not a JetStream delivery: nats-py's error


def _is_ours(stored: Stored, msg_id: str, data: bytes) -> bool:
    return stored.headers.get("Nats-Msg-Id") == msg_id and stored.data == data


async def _ignore(exc: Exception) -> None:
    """Connection errors are reported by the calls that meet them, not printed."""


async def _ignore_nothing() -> None:
    """Disconnections are ridden out by reconnecting."""
