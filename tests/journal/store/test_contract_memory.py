"""The shipped store contract, run against the in-memory store (also through unittest)."""

from __future__ import annotations

import unittest

from p8j.journal.store import MemoryStore, SessionStore
from p8j.journal.store.contract import StoreContract


class TestMemoryStoreContract(StoreContract):
    def create_store(self) -> SessionStore:
        return MemoryStore()


class MemoryStoreUnittest(StoreContract, unittest.TestCase):
    """The same suite as a unittest.TestCase (how a backend without pytest reuses it)."""

    def create_store(self) -> SessionStore:
        return MemoryStore()


def test_both_backends_satisfy_the_protocols_at_run_time(tmp_path: object) -> None:
    from pathlib import Path

    from p8j.journal.ids import new_session_id
    from p8j.journal.store import Blobs, FileStore, StoreCursor, StoreWatch, StoreWriter
    from p8j.journal.store.contract import start

    for store in (MemoryStore(), FileStore(Path(str(tmp_path)) / "home")):
        assert isinstance(store, SessionStore) and isinstance(store.blobs, Blobs)
        sid = new_session_id()
        writer = store.open_writer(sid, first=start(sid))
        assert isinstance(writer, StoreWriter)
        writer.close()
        cursor = store.open_cursor(sid)
        assert isinstance(cursor, StoreCursor)
        assert str(cursor.path) in (f"memory:{sid}", str(store.url[7:]) + f"/sessions/{sid}.jsonl")
        watch = store.watch()
        assert isinstance(watch, StoreWatch)
        watch.close()
