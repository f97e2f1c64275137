"""`Kept`: the records a store's watch received, handed to its readers instead of read again.

Contract (thread-safe: the watch delivers on the store's loop, readers take
from their own threads):
- `start(last)`: keeping begins; the watch's consumer delivers every message
  with stream seq > `last`, in order, numbered 1, 2, ... (its delivery seq).
- `deliver(session_id, stored, dseq)`: one delivery. A delivery seq that does
  not follow the previous one (a message lost on the way, or an ordered
  consumer reset by nats-py) forgets everything kept: completeness is known
  again only from this message on.
- `take(session_id, offset)`: the session's records after stream seq
  `offset` if they are known complete, else None (the caller reads the
  server): known complete when the session's records after `offset` were all
  delivered since keeping began (``offset`` at or past the session's
  ``after``), at least one follows `offset`, and they reach the last seq
  `wrote` noted for the session (an append this process's writer had
  acknowledged, which the watch may not have delivered yet). What is taken
  is dropped from the keep (the session's ``after`` moves to `offset`).
- `forget(session_id)` (removed), `clear()` (the watch closed).
- One `Kept` per store at most, held for it here (`keep`, `kept_of`, `unkeep`:
  the store's first watch keeps); the store's write and removal paths call
  `noted` and `forget`, which do nothing while no watch keeps.
- Bounded: past `_KEEP_BYTES` for a session its oldest records go, past
  `_KEEP_ALL_BYTES` in all everything goes; either way ``after`` moves past
  what went, so a read from before it goes to the server.
"""

from __future__ import annotations

import bisect
import threading
import weakref

from .conn import Stored

__all__ = ["Kept", "forget", "keep", "kept_of", "noted", "unkeep"]

_KEEP_BYTES = 8 << 20
_KEEP_ALL_BYTES = 64 << 20


class _Log:
    """What is kept of one session: all its records with stream seq > ``after``."""

    __slots__ = ("after", "records", "seqs", "size")

    def __init__(self, after: int) -> None:
        self.after = after
        self.records: list[Stored] = []
        self.seqs: list[int] = []
        self.size = 0

    def drop_through(self, index: int) -> int:
        """Drop records[:index], moving ``after`` past them; the bytes freed."""
        if index <= 0:
            return 0
        freed = sum(len(r.data) for r in self.records[:index])
        self.after = max(self.after, self.seqs[index - 1])
        del self.records[:index], self.seqs[:index]
        self.size -= freed
        return freed


class Kept:
    """Records a watch delivered, per session (see the module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[str, _Log] = {}
        self._wrote: dict[str, int] = {}
        self._after = -1  # every message with a greater stream seq was delivered (-1: none yet)
        self._dseq = 0
        self._size = 0

    def start(self, last: int) -> None:
        """Keeping begins with the messages after stream seq `last`."""
        with self._lock:
            self._logs.clear()
            self._after, self._dseq, self._size = last, 0, 0

    def deliver(self, session_id: str, stored: Stored, dseq: int) -> None:
        """One message from the watch's consumer (delivery seq `dseq`)."""
        with self._lock:
            if dseq != self._dseq + 1 or self._after < 0:
                # A gap or a reset: what came before may be incomplete.
                self._logs.clear()
                self._size = 0
                self._after = stored.seq - 1
            self._dseq = dseq
            log = self._logs.get(session_id)
            if log is None:
                log = self._logs[session_id] = _Log(self._after)
            elif log.seqs and stored.seq <= log.seqs[-1]:
                return  # delivered again: kept already
            log.records.append(stored)
            log.seqs.append(stored.seq)
            n = len(stored.data)
            log.size += n
            self._size += n
            if log.size > _KEEP_BYTES:
                self._size -= log.drop_through(max(1, len(log.records) // 2))
            if self._size > _KEEP_ALL_BYTES:
                self._logs.clear()
                self._size = 0
                self._after = stored.seq

    def wrote(self, session_id: str, seq: int) -> None:
        """Note an append this process's writer had acknowledged at stream seq `seq`."""
        with self._lock:
            if seq > self._wrote.get(session_id, 0):
                self._wrote[session_id] = seq

    def take(self, session_id: str, offset: int) -> list[Stored] | None:
        """The session's records after `offset` if known complete, else None (module doc)."""
        with self._lock:
            log = self._logs.get(session_id)
            if log is None or offset < log.after:
                return None
            i = bisect.bisect_right(log.seqs, offset)
            if i == len(log.seqs) or log.seqs[-1] < self._wrote.get(session_id, 0):
                return None
            out = log.records[i:]
            self._size -= log.drop_through(i)
            log.after = max(log.after, offset)
            return out

    def forget(self, session_id: str) -> None:
        """Drop what is kept of a session (removed)."""
        with self._lock:
            log = self._logs.pop(session_id, None)
            if log is not None:
                self._size -= log.size
            self._wrote.pop(session_id, None)

    def clear(self) -> None:
        """Drop everything (the watch closed)."""
        with self._lock:
            self._logs.clear()
            self._after, self._dseq, self._size = -1, 0, 0


# Store -> the Kept of its keeping watch (weak: a collected store drops it).
_BY_STORE: weakref.WeakKeyDictionary[object, Kept] = weakref.WeakKeyDictionary()
_REGISTER = threading.Lock()


def keep(store: object) -> Kept | None:
    """A new `Kept` for `store`'s watch, or None if another watch keeps already."""
    with _REGISTER:
        if store in _BY_STORE:
            return None
        kept = _BY_STORE[store] = Kept()
        return kept


def unkeep(store: object, kept: Kept) -> None:
    """`kept`'s watch closed: clear it and let the store's next watch keep."""
    kept.clear()
    with _REGISTER:
        if _BY_STORE.get(store) is kept:
            del _BY_STORE[store]


def kept_of(store: object) -> Kept | None:
    """The `Kept` of `store`'s keeping watch, if any."""
    return _BY_STORE.get(store)


def noted(store: object, session_id: str, seq: int) -> int:
    """`Kept.wrote` on `store`'s keep (if any) after an acknowledged append; `seq`."""
    kept = _BY_STORE.get(store)
    if kept is not None:
        kept.wrote(session_id, seq)
    return seq


def forget(store: object, session_id: str) -> None:
    """`Kept.forget` on `store`'s keep, if any (the session was removed)."""
    kept = _BY_STORE.get(store)
    if kept is not None:
        kept.forget(session_id)
