"""gc_paused: one copy, used by both caches; it restores the collector's previous state."""

from __future__ import annotations

import gc

import pytest

from p8j.journal.cache import catalog, snapshots
from p8j.journal.cache.gc import gc_paused


def test_the_collector_is_off_inside_and_back_on_after() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested blocks do not turn it back on early
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_restores_the_collector() -> None:
    with pytest.raises(KeyError), gc_paused():
        raise KeyError("x")
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_both_caches_use_the_one_copy() -> None:
    assert vars(catalog)["gc_paused"] is gc_paused
    assert vars(snapshots)["gc_paused"] is gc_paused
    assert not hasattr(catalog, "_gc_paused") and not hasattr(snapshots, "_gc_paused")
