"""`NatsBlobs`: a NATS store's blobs in the JetStream object store ``<stream>_BLOBS``.

Contract (the seam's `Blobs`): an object named by the SHA-256 hex of its bytes.
`put` stores it (chunked by the object store, so any size the server accepts
in total) unless an object of that name exists, and returns once the server
acknowledged every chunk; `get` checks the name's form (InvalidEventError),
presence (BlobMissingError), the digest and the size an event gives
(JournalIOError).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

import nats.errors
import nats.js.errors

from ...errors import BlobMissingError, InvalidEventError, JournalIOError

if TYPE_CHECKING:
    from .store import NatsStore

__all__ = ["NatsBlobs"]

_HASH_RE = re.compile(r"[0-9a-f]{64}")


class NatsBlobs:
    """Content-addressed blobs in the JetStream object store."""

    def __init__(self, store: NatsStore) -> None:
        self._store = store

    def put(self, data: bytes) -> str:
        """Store `data` (once); return its SHA-256 hex name."""
        digest = hashlib.sha256(data).hexdigest()
        self._store.call(self._put(digest, bytes(data)))
        return digest

    async def _put(self, digest: str, data: bytes) -> None:
        conn = await self._store.aconn()
        obs = await conn.js.object_store(conn.config.blobs_bucket)
        try:
            await obs.get_info(digest)
            return
        except nats.js.errors.ObjectNotFoundError:
            pass
        try:
            await obs.put(digest, data)
        except nats.errors.Error as exc:
            raise JournalIOError(f"cannot store blob {digest[:12]} in NATS: {exc!r}") from exc

    def get(self, sha256: str, size: int | None = None) -> bytes:
        """The blob's bytes, checked; BlobMissingError if absent."""
        if not _HASH_RE.fullmatch(sha256):
            raise InvalidEventError(f"not a blob name (64 lower-case hex digits): {sha256!r}")
        data = self._store.call(self._get(sha256))
        if hashlib.sha256(data).hexdigest() != sha256:
            raise JournalIOError(f"blob {sha256[:12]} is damaged (digest differs)")
        if size is not None and len(data) != size:
            raise JournalIOError(f"blob {sha256[:12]} is {len(data)} bytes; the event says {size}")
        return data

    async def _get(self, digest: str) -> bytes:
        conn = await self._store.aconn()
        obs = await conn.js.object_store(conn.config.blobs_bucket)
        try:
            result = await obs.get(digest)
        except nats.js.errors.ObjectNotFoundError as exc:
            raise BlobMissingError(f"missing blob {digest}") from exc
        except nats.errors.Error as exc:
            raise JournalIOError(f"cannot read blob {digest[:12]} from NATS: {exc!r}") from exc
        return bytes(result.data or b"")
