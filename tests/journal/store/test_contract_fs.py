"""The shipped store contract, run against the file store in a fresh home per test."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from p8j.journal.store import FileStore, SessionStore
from p8j.journal.store.contract import StoreContract


class TestFileStoreContract(StoreContract):
    def create_store(self) -> SessionStore:
        self.tmp = Path(tempfile.mkdtemp(prefix="p8j-contract-"))
        store = FileStore(self.tmp / "home")
        store.home.ensure()
        return store

    def close_store(self, store: SessionStore) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
