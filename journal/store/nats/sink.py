"""Sink subscriptions: a subscription's messages handed to a plain function, not as `Msg`s.

Contract:
- `connect` opens a nats-py client that can hand a subscription's messages
  to a *sink*, a plain function of ``(reply, payload, raw header bytes or
  None)``, straight from the protocol parser: no regular expression, `Msg`,
  header dict, queue or task per message (`sink` subscribes one). Frames are
  handled in the order they arrive, sink or not. A sink must not raise.
- If the installed nats-py no longer parses and routes messages the way
  `SinkParser` and `SinkClient` expect, `connect` returns its plain client
  and `sink` adapts `Msg` objects instead: slower, same results (the header
  block is rebuilt from the parsed headers).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.protocol.parser import AWAITING_CONTROL_LINE, Parser

__all__ = ["Sink", "SinkClient", "SinkParser", "connect", "sink"]

# (reply subject, payload, the raw header block or None)
Sink = Callable[[bytes, bytes, "bytes | None"], None]


class SinkParser(Parser):
    """nats-py's parser, handing whole frames for sink subscriptions straight to their sinks.

    Runs of MSG/HMSG frames whose subscription has a sink are cut from the
    buffer here, with no regular expression, per-message coroutine or `Msg`
    (a partial one waits in the buffer for the rest); at the first other
    frame nats-py's own `parse` takes the rest of the buffer, so frames are
    still handled in the order they came.
    """

    async def parse(self, data: bytes = b"") -> None:
        """Feed `data`: sink frames here, anything else as nats-py would."""
        buf = self.buf
        buf.extend(data)
        sinks: dict[int, Sink] = self.nc.sinks
        pos, n, theirs = 0, len(buf), self.state != AWAITING_CONTROL_LINE
        view = b""  # an immutable copy of buf, made once a whole frame is there
        while not theirs and pos < n:
            if buf.startswith(b"HMSG ", pos):
                at, hdr = pos + 5, True
            elif buf.startswith(b"MSG ", pos):
                at, hdr = pos + 4, False
            else:
                theirs = True
                break
            eol = buf.find(b"\r\n", at)
            if eol < 0:
                break  # the rest of the line is still to come: wait for it
            # subject sid [reply] [header size] total size
            args = buf[at:eol].split()
            fn = sinks.get(int(args[1]))
            if fn is None:
                theirs = True
                break
            total = int(args[-1])
            start = eol + 2
            if start + total + 2 > n:
                break  # the payload is still to come: wait for it (not nats-py's slow path)
            if not view:  # one copy per read: its slices are the frames' bytes, one copy each
                view = bytes(buf)
            size = int(args[-2]) if hdr else 0
            reply = bytes(args[2]) if len(args) == (5 if hdr else 4) else b""
            raw = view[start : start + size] if hdr else None
            pos = start + total + 2
            fn(reply, view[start + size : start + total], raw)
        if pos:
            del buf[:pos]
        if theirs:
            await super().parse()


class SinkClient(Client):
    """nats-py's client whose sink subscriptions skip its per-message machinery."""

    def __init__(self) -> None:
        super().__init__()
        self.sinks: dict[int, Sink] = {}
        self._ps = SinkParser(self)

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        # nats-py's own parser calls this for the frames SinkParser leaves to it.
        fn = self.sinks.get(sid)
        if fn is None:
            await super()._process_msg(sid, subject, reply, data, headers)  # type: ignore[arg-type]
        else:
            fn(reply, data, headers)


def _routes_messages() -> bool:
    """True if nats-py's client and parser still work as SinkClient and SinkParser expect."""
    want = ["self", "sid", "subject", "reply", "data", "headers"]
    probe = Parser()
    return list(inspect.signature(Client._process_msg).parameters) == want and all(
        hasattr(probe, name) for name in ("buf", "state", "nc")
    )


_SINKS_WORK = _routes_messages()


async def connect(**options: Any) -> Client:
    """`nats.connect` with a `SinkClient` (or nats-py's own client; see the module doc)."""
    nc = SinkClient() if _SINKS_WORK else Client()
    await nc.connect(**options)
    return nc


async def sink(nc: Client, subject: str, fn: Sink) -> Subscription:
    """Subscribe `fn` to `subject` (a fresh inbox, typically); unsubscribe it when done."""
    if isinstance(nc, SinkClient) and _SINKS_WORK:
        sub = await nc.subscribe(subject)  # no callback: the sink takes every message
        sid: int = sub._id  # nats-py's subscription id, as its parser reports it
        nc.sinks[sid] = fn
        real = sub.unsubscribe

        async def unsubscribe(limit: int = 0) -> None:
            nc.sinks.pop(sid, None)
            await real(limit)

        sub.unsubscribe = unsubscribe  # type: ignore[method-assign]
        return sub

    async def adapt(msg: Msg) -> None:
        fn(msg.reply.encode(), msg.data, _header_block(msg))

    return await nc.subscribe(subject, cb=adapt)


def _header_block(msg: Msg) -> bytes | None:
    """The raw header block nats-py parsed `msg`'s headers from (the fallback path)."""
    if not msg.headers:
        return None
    head = dict(msg.headers)
    status = head.pop("Status", None)
    desc = head.pop("Description", "")
    first = f"NATS/1.0 {status} {desc}".rstrip() if status else "NATS/1.0"
    return "\r\n".join([first, *(f"{k}: {v}" for k, v in head.items()), "", ""]).encode()
