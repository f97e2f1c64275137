"""Package surface: the lazy replay exports (the layering is checked in tests/test_layering.py)."""

from __future__ import annotations


def test_lazy_replay_exports_cover_all() -> None:
    import p8j.replay as replay

    eager = {"CorruptLineError", "InvalidSessionIdError", "JournalIOError", "P8jError"}
    eager.add("SessionNotFoundError")
    assert set(replay._LAZY) | eager == set(replay.__all__)
