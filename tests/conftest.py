"""Generic fixtures shared by every test package (no autouse environment changes here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from p8j.journal import Home, SessionManager


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
