"""Helpers for tests of the NATS store: a fresh stream per test, and dropping it afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os

from natsd import NatsServer

__all__ = ["drop", "fresh_url"]

_names = itertools.count(1)


def fresh_url(server: NatsServer, **opts: object) -> str:
    """A store URL naming a stream (and buckets, subjects) no other test uses."""
    name = f"T{os.getpid()}_{next(_names)}"
    query = "&".join(f"{k}={v}" for k, v in {"stream": name, **opts}.items())
    return f"{server.url}?{query}"


def drop(url: str) -> None:
    """Delete a test's stream and buckets (whatever exists of them)."""
    import nats
    import nats.errors

    from p8j.journal.store.nats.config import NatsConfig

    cfg = NatsConfig.parse(url)
    streams = (
        cfg.stream,
        f"KV_{cfg.sessions_bucket}",
        f"KV_{cfg.leases_bucket}",
        f"OBJ_{cfg.blobs_bucket}",
    )

    async def run() -> None:
        nc = await nats.connect(list(cfg.servers))
        try:
            js = nc.jetstream()
            for name in streams:
                with contextlib.suppress(nats.errors.Error):  # never created
                    await js.delete_stream(name)
        finally:
            await nc.close()

    asyncio.run(run())
