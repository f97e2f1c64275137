"""Replay test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from p8j.journal import Home


@pytest.fixture
def rhome(tmp_path: Path) -> Home:
    """A fresh journal home (created)."""
    return Home(tmp_path / "rhome").ensure()
