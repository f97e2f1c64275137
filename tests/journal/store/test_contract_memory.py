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
