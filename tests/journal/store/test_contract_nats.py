"""The shipped store contract, run against the NATS JetStream store (a real single node)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from nats_helpers import drop, fresh_url
from natsd import NatsServer

from p8j.journal.store import SessionStore
from p8j.journal.store.contract import StoreContract
from p8j.journal.store.nats import NatsStore


class TestNatsStoreContract(StoreContract):
    """Each test on a stream of its own (the server is shared by the run)."""

    url = ""

    @pytest.fixture(autouse=True)
    def _fresh(self, natsd: NatsServer) -> Iterator[None]:
        self.url = fresh_url(natsd)
        self.store = self.create_store()
        yield
        self.close_store(self.store)

    def setup_method(self, method: object = None) -> None:
        """The store is made by `_fresh` (it needs the server fixture)."""

    def teardown_method(self, method: object = None) -> None:
        """`_fresh` cleans up."""

    def create_store(self) -> SessionStore:
        return NatsStore(self.url)

    def close_store(self, store: SessionStore) -> None:
        assert isinstance(store, NatsStore)
        store.close()
        drop(self.url)


class TestNatsStoreContractByConsumer(TestNatsStoreContract):
    """The same suite with every read through an ordered consumer (long reads take that path)."""

    @pytest.fixture(autouse=True)
    def _consume_always(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("p8j.journal.store.nats.conn._CONSUME_OVER", 0)
