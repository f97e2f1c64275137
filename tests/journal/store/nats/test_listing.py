"""Listing a NATS store from the catalog it keeps (journal/cache/kept.py, nats/listing.py).

Every listing is compared with one that reads every log (``use_cache=False``):
without a kept catalog, with one, after appends, new and removed sessions, a
rewrite of the same length, and with a stale, missing or corrupt entry, a
torn or garbage catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from journal_helpers import wait_until

from p8j.journal.cache import catalog, catalog_file
from p8j.journal.cache.catalog import list_summaries
from p8j.journal.codec import encode_event
from p8j.journal.events import SessionEnded
from p8j.journal.ids import new_session_id
from p8j.journal.store.contract import message, start
from p8j.journal.store.listing import ListingStore
from p8j.journal.store.nats import NatsStore
from p8j.journal.store.nats import listing as nats_listing
from p8j.journal.store.nats.watch import NatsWatch


@pytest.fixture
def store(nats_url: str) -> Iterator[NatsStore]:
    """A NATS store on a stream of its own."""
    with NatsStore(nats_url) as s:
        yield s


def _session(store: NatsStore, messages: int, *, end: bool = True) -> str:
    sid = new_session_id()
    w = store.open_writer(sid, first=start(sid, "p"))
    for i in range(1, messages + 1):
        w.append(message(sid, i, f"message {i} of {sid}"))
    if end:
        w.append(SessionEnded(1, sid, messages + 1, "2026-01-01T00:00:00.000000Z"))
    w.close()
    return sid


def _same(store: NatsStore) -> list[catalog.SessionSummary]:
    kept = list_summaries(store)
    assert kept == list_summaries(store, use_cache=False)
    return kept


def _no_log_reads(store: NatsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kw: Any) -> Any:
        raise AssertionError("read a log although nothing changed")

    monkeypatch.setattr(store, "open_cursor", refuse)
    monkeypatch.setattr(store, "head", refuse)


def _entries(store: NatsStore) -> tuple[int, list[Any]]:
    kept = store.load_listing()
    assert kept is not None
    entries = catalog_file.decode_entries(kept[1])
    assert entries is not None
    return kept[0], entries


def test_the_nats_store_keeps_its_listing(store: NatsStore) -> None:
    assert isinstance(store, ListingStore)
    assert store.load_listing() is None
    _session(store, 2)
    _same(store)
    assert store.load_listing() is not None


def test_an_unchanged_store_lists_without_reading_a_log(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = {_session(store, n) for n in range(3)}
    first = _same(store)
    assert {s.session_id for s in first} == ids
    with monkeypatch.context() as m:
        _no_log_reads(store, m)
        assert list_summaries(store) == first


def test_appends_new_and_removed_sessions_and_a_rewrite_list_as_a_full_read(
    store: NatsStore,
) -> None:
    done = _session(store, 2)
    live = new_session_id()
    w = store.open_writer(live, first=start(live))
    _same(store)
    w.append(message(live, 1, "later"))  # an append to a listed session
    w.append(message(live, 2, "later still"))
    born = _session(store, 1)
    listed = _same(store)
    assert {s.session_id for s in listed} == {done, live, born}
    assert next(s for s in listed if s.session_id == live).message_count == 2
    w.close()
    # A rewrite of the same length (as a redaction is): only the mark tells it changed.
    records = [encode_event(start(done, "p"))[:-1]]
    records += [encode_event(message(done, i, f"rewritten {i}"))[:-1] for i in (1, 2)]
    records.append(encode_event(SessionEnded(1, done, 3, "2026-01-01T00:00:00.000000Z"))[:-1])
    store.rewrite(done, records)
    listed = _same(store)
    assert next(s for s in listed if s.session_id == done).title == "rewritten 1"
    store.remove(born)
    assert {s.session_id for s in _same(store)} == {done, live}


def _log_bytes(store: NatsStore, sid: str) -> int:
    """The session's records as a file holds them: each + 1 for its newline."""
    return sum(len(line) for _, line in store.open_cursor(sid).read_with_lines())


def test_sizes_are_the_records_bytes_kept_across_appends_and_a_rewrite(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not the stream sequence the store's positions count (catalog 7 keeps them apart).
    def sizes() -> dict[str, int]:
        return {s.session_id: s.size_bytes for s in _same(store)}

    done = _session(store, 3)
    live = new_session_id()
    w = store.open_writer(live, first=start(live))
    w.append(message(live, 1, "first"))
    assert sizes() == {done: _log_bytes(store, done), live: _log_bytes(store, live)}
    assert _log_bytes(store, live) > 200  # far more than its records' stream sequences
    # Appends: the kept entry is read on from its position, its size added to.
    w.append(message(live, 2, "x" * 5000))
    w.append(message(live, 3, "é" * 300))
    w.close()
    grown = _log_bytes(store, live)
    read_from: list[Any] = []
    real = store.open_cursor

    def spy(sid: str, **kw: Any) -> Any:
        read_from.append(kw.get("position"))
        return real(sid, **kw)

    monkeypatch.setattr(store, "open_cursor", spy)
    listed = {s.session_id: s.size_bytes for s in list_summaries(store)}
    assert read_from and all(p is not None for p in read_from)  # incremental, not whole
    assert listed[live] == grown > 5000
    monkeypatch.undo()
    assert sizes()[live] == _log_bytes(store, live)
    # A rewrite of another length: a new epoch, read whole, sized anew.
    records = [encode_event(start(done, "p"))[:-1]]
    records.append(encode_event(message(done, 1, "short"))[:-1])
    store.rewrite(done, records)
    after = sizes()
    assert after[done] == _log_bytes(store, done) == sum(len(r) + 1 for r in records)
    assert after[live] == _log_bytes(store, live)


def test_many_changes_since_the_mark_are_found_from_every_subjects_head(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _session(store, 1)
    _same(store)
    monkeypatch.setattr(nats_listing, "_DIRECT_UNDER", 0)  # the consumer path, not direct gets
    more = _session(store, 3, end=False)
    listed = _same(store)
    assert more in {s.session_id for s in listed}
    assert _entries(store)[0] == store.head(more).offset  # the mark moved on


def _save_entries(store: NatsStore, mark: int, entries: list[Any]) -> None:
    data = catalog_file.encode_entries(entries)
    assert data is not None
    store.save_listing(mark, data)


def test_a_stale_entry_is_read_again(store: NatsStore) -> None:
    sid = new_session_id()
    w = store.open_writer(sid, first=start(sid))
    w.append(message(sid, 1, "one"))
    _same(store)
    _, stale = _entries(store)
    w.append(message(sid, 2, "two"))
    w.close()
    _same(store)
    mark, _ = _entries(store)
    _save_entries(store, mark, stale)  # covers fewer records than the log, at today's mark
    listed = _same(store)
    assert listed[0].message_count == 2


def test_a_missing_entry_is_read_again(store: NatsStore) -> None:
    a, b = _session(store, 1), _session(store, 2)
    _same(store)
    mark, entries = _entries(store)
    _save_entries(store, mark, [e for e in entries if e.summary.session_id != a])
    assert {s.session_id for s in _same(store)} == {a, b}


def test_a_corrupt_entry_or_catalog_is_read_again(store: NatsStore) -> None:
    a = _session(store, 2)
    _same(store)
    mark, entries = _entries(store)
    bad = msgspec.structs.replace(entries[0].summary, message_count=99, title="wrong")
    entries[0] = msgspec.structs.replace(entries[0], summary=bad, line=1)
    _save_entries(store, mark, entries)
    assert _same(store)[0].title == f"message 1 of {a}"
    store.save_listing(mark, b"\xc1 not a catalog")
    _same(store)


def test_a_torn_catalog_is_not_used(store: NatsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _session(store, 1)
    _same(store)
    assert store.load_listing() is not None

    async def overwrite_chunk() -> None:
        kv = await (await store.aconn()).js.key_value(store.config.sessions_bucket)
        await kv.put("p8j-listing.0", b"a chunk of another save")

    store.call(overwrite_chunk())
    assert store.load_listing() is None  # its revision is not the index's
    _same(store)
    assert store.load_listing() is not None  # saved again


def test_a_watch_is_not_sent_the_listings_chunks(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    got: list[str] = []
    real = NatsWatch._on_summary

    async def spy(self: NatsWatch, msg: Any) -> None:
        got.append(msg.subject)
        await real(self, msg)

    monkeypatch.setattr(NatsWatch, "_on_summary", spy)
    watch = store.watch()
    store.save_listing(1, b"x" * 10)  # delivered (if at all) before the summary below
    sid = _session(store, 1)
    wait_until(lambda: any(s.endswith(sid) for s in got), 10, "the session's summary")
    assert not [s for s in got if ".p8j-listing." in s]
    watch.close()


def test_a_catalog_of_another_stream_incarnation_is_read_again(store: NatsStore) -> None:
    sid = _session(store, 1)
    _same(store)
    mark, entries = _entries(store)
    bad = msgspec.structs.replace(entries[0].summary, title="of the old stream")
    entries[0] = msgspec.structs.replace(entries[0], summary=bad, epoch=mark + 50)
    _save_entries(store, mark + 100, entries)  # its mark: beyond this stream's last seq
    assert _same(store)[0].title == f"message 1 of {sid}"


def test_a_growing_session_is_read_from_its_position_and_saved_only_now_and_then(
    store: NatsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = new_session_id()
    w = store.open_writer(live, first=start(live))
    _same(store)
    saved: list[int] = []
    monkeypatch.setattr(store, "save_listing", lambda mark, data: saved.append(mark))
    for i in (1, 2):
        w.append(message(live, i, f"grown {i}"))
        assert _same(store)[0].message_count == i
    assert saved == []  # a few records since the mark: no save of every summary
    monkeypatch.setattr(catalog, "_KEPT_SAVE_AFTER", 2)
    w.append(message(live, 3))
    _same(store)
    assert saved == [store.head(live).offset]
    w.close()
