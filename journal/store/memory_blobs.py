"""`MemoryBlobs`: a `MemoryStore`'s blobs, in a dict (the seam's `Blobs` contract, see base.py).

Contract: `put` keeps a copy under its SHA-256 hex name; `get` checks the name's
form (InvalidEventError), presence (BlobMissingError) and the size an event
gives (JournalIOError). Thread-safe. The data dies with the process.
"""

from __future__ import annotations

import hashlib
import re
import threading

from ..errors import BlobMissingError, InvalidEventError, JournalIOError

__all__ = ["MemoryBlobs"]

_HASH_RE = re.compile(r"[0-9a-f]{64}")


class MemoryBlobs:
    """Blobs in a dict, checked against their SHA-256 names on the way out."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, data: bytes) -> str:
        """Keep `data`; return its SHA-256 hex name."""
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._data[digest] = bytes(data)
        return digest

    def get(self, sha256: str, size: int | None = None) -> bytes:
        """The blob's bytes; BlobMissingError if absent, JournalIOError if the size differs."""
        if not _HASH_RE.fullmatch(sha256):
            raise InvalidEventError(f"not a blob name (64 lower-case hex digits): {sha256!r}")
        with self._lock:
            data = self._data.get(sha256)
        if data is None:
            raise BlobMissingError(f"missing blob {sha256}")
        if size is not None and len(data) != size:
            raise JournalIOError(f"blob {sha256[:12]} is {len(data)} bytes; the event says {size}")
        return data
