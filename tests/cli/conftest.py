"""CLI test fixtures: every test gets its own P8J_HOME under tmp_path (autouse)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from p8j.cli.demo import record_demo_sessions
from p8j.journal import Home


@pytest.fixture(autouse=True)
def p8j_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    """Point P8J_HOME at a fresh directory and neutralise colour settings."""
    path = tmp_path / "p8j-home"
    monkeypatch.setenv("P8J_HOME", str(path))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "120")
    yield Home(path)


@pytest.fixture
def runner() -> CliRunner:
    """A click test runner."""
    return CliRunner()


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("demo") / "home"
    ids = record_demo_sessions(Home(path))
    return path, ids


@pytest.fixture
def demo_ids(p8j_home: Home, _demo_template: tuple[Path, list[str]]) -> list[str]:
    """The demo sessions copied into this test's home: [webshop, api-server, docs-site]."""
    src, ids = _demo_template
    shutil.copytree(src, p8j_home.path)
    return ids
