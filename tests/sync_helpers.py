"""Helpers for the sync tests: sessions with blobs, and a store's raw records and blobs."""

from __future__ import annotations

from p8j.journal import SessionManager
from p8j.journal.store import SessionStore


def record_sessions(store: SessionStore, n: int = 3, events: int = 6) -> list[str]:
    """`n` sessions (paused, ended, one left open and closed uncleanly) with large payloads."""
    mgr = SessionManager(store=store, blob_threshold=4096)
    ids = []
    for i in range(n):
        s = mgr.start_session(f"proj{i}", {"i": i})
        ids.append(s.session_id)
        for j in range(events):
            big = "é" * (10_000 * (j % 2)) + f" message {i}.{j}"
            mgr.record_message({"role": "user" if j % 2 else "assistant", "content": big})
            mgr.record_execution(f"echo {j}", 0, "out " * (2000 * (j % 3)), 0.1)
        if i % 2:
            mgr.end_session()
        else:
            mgr.pause_session()
    return ids


def raw_records(store: SessionStore, sid: str) -> list[bytes]:
    """The session's records exactly as stored (blob references unresolved)."""
    cursor = store.open_cursor(sid, resolve_blobs=False)
    return [line for _, line in cursor.read_with_lines()]


def blob_names(store: SessionStore, sid: str) -> set[str]:
    """The blobs the session's events reference."""
    cursor = store.open_cursor(sid, resolve_blobs=False)
    return {ref.sha256 for ev in cursor.read() for ref in getattr(ev, "blobs", None) or []}


def assert_same_store(source: SessionStore, target: SessionStore) -> None:
    """Every session of `source` is in `target`, record for record, with its blobs."""
    assert target.session_ids() == source.session_ids()
    for sid in source.session_ids():
        assert raw_records(target, sid) == raw_records(source, sid)
        for name in blob_names(source, sid):
            assert target.blobs.get(name) == source.blobs.get(name)
