"""Hardening test fixtures: no ambient P8J_REDACT or P8J_HOME leaks into a test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P8J_REDACT", raising=False)
    monkeypatch.delenv("P8J_HOME", raising=False)
