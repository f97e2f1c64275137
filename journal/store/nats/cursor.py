"""`NatsCursor`: the verifying reader of one session's subject (a `RecordCursor`).

Contract: positions are ``Position(epoch, offset)`` with ``epoch`` the stream
seq of the log's first record and ``offset`` the stream seq of the last record
consumed (``epoch - 1`` before the first): so a cursor read to the end stands
at `SessionStore.head`. Each read fetches the records after ``offset`` with
batched direct gets (no consumer is created), then checks the log is still
the same incarnation (its first seq is still ``epoch``): a rewritten or
removed log raises `StalePositionError` / `JournalIOError`. Verification is
`RecordCursor`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import JournalIOError, StalePositionError
from ..records import RecordCursor

if TYPE_CHECKING:
    from .store import NatsStore

__all__ = ["NatsCursor"]


class NatsCursor(RecordCursor):
    """A resumable, verifying reader of one session's subject."""

    def __init__(
        self, store: NatsStore, session_id: str, epoch: int, offset: int, **kw: Any
    ) -> None:
        self._store = store
        self._base: int = kw.get("index", 0)
        self._ends = [offset]  # _ends[i - _base]: the offset before record i
        super().__init__(store.place(session_id), session_id, epoch, store.blobs, **kw)

    def _offset_of(self, index: int) -> int:
        return self._ends[index - self._base]

    def _fetch(self, index: int) -> list[bytes]:
        assert self.session_id is not None
        del self._ends[index - self._base + 1 :]
        after = self._ends[-1]
        got = self._store.read_after(self.session_id, after)
        first = self._store.first_seq(self.session_id)
        if first is None:
            raise JournalIOError("no such session log", path=self.path)
        if first != self.epoch:
            raise StalePositionError("the log was replaced (rewritten) since", path=self.path)
        self._ends.extend(m.seq for m in got)
        return [m.data for m in got]
