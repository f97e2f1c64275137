"""p8j.journal.store.nats: the store seam over NATS JetStream (the optional extra ``p8j[nats]``).

`NatsStore` (store.py) is what ``open_store("nats://host:4222")`` returns; its
parts: config (the URL and the stream/bucket layout), conn (the asyncio
client, appends with retries, direct gets), loop (the sync facade), lease,
writer, cursor, watch, blobs, and check (what ``p8j store check`` reports).
Importing this package imports nats-py.
"""

from __future__ import annotations

from .config import NatsConfig
from .store import NatsStore

__all__ = ["NatsConfig", "NatsStore"]
