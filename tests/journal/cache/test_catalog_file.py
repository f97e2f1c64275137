"""The catalog's format: keys first, summaries and rows in bins, decoded on demand; rows kept."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from p8j.journal import Home, SessionManager
from p8j.journal.cache import catalog, catalog_file, list_summaries
from p8j.journal.cache.catalog import Rows, list_catalog
from p8j.journal.store.fs import LogCursor

CACHE = "catalog.msgpack"
ROWS = "rows.msgpack"


def _sessions(home: Home, n: int = 3) -> list[str]:
    sids = []
    with SessionManager(home) as mgr:
        for i in range(n):
            sids.append(mgr.start_session(f"p{i}", {"i": i}).session_id)
            mgr.record_message({"role": "user", "content": f"title {i}"})
            if i % 2 == 0:
                mgr.end_session()
            else:
                mgr.pause_session()
    return sids


def _rows(made: list[str]) -> Rows:
    def make(summary: Any) -> bytes | None:
        made.append(summary.session_id)
        return None if summary.status == "paused" else f"<{summary.title}>".encode()

    return Rows("test rows", make)


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    real = LogCursor

    def spy(path: Any, **kw: Any) -> Any:
        read.append(str(path))
        return real(path, **kw)

    monkeypatch.setattr("p8j.journal.cache.catalog.LogCursor", spy)
    return read


def test_views_hold_the_keys_and_decode_summaries_on_demand(home: Home) -> None:
    sids = _sessions(home)
    expected = list_summaries(home)
    found = catalog_file.decode_views((home.cache_dir / CACHE).read_bytes())
    assert found is not None
    views, json_metadata = found
    assert [v.session_id for v in views] == list(reversed(sids))
    assert [v.status for v in views] == [s.status for s in expected]
    assert [v.activity for v in views] == [s.last_activity for s in expected]
    assert [v.project_name for v in views] == [s.project_name for s in expected]
    assert [catalog_file.summary_of(v, json_metadata) for v in views] == expected
    assert all(type(v.summary) is msgspec.Raw for v in views)  # nothing built by decoding


def test_rows_are_made_once_and_kept(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    sids = _sessions(home)
    made: list[str] = []
    first = list_catalog(home, _rows(made))
    assert sorted(made) == sorted(sids) and first.has_rows
    by_id = {e.session_id: e.row for e in first.entries}
    assert by_id == {sids[0]: b"<title 0>", sids[1]: b"", sids[2]: b"<title 2>"}
    saved = (home.cache_dir / CACHE).stat()
    saved_rows = (home.cache_dir / ROWS).stat()
    made.clear()
    read = _reads(monkeypatch)
    again = list_catalog(home, _rows(made))
    assert made == [] and read == []  # kept: nothing made, no log read, nothing saved
    assert {e.session_id: e.row for e in again.entries} == by_id
    assert (home.cache_dir / CACHE).stat().st_mtime_ns == saved.st_mtime_ns
    assert (home.cache_dir / ROWS).stat().st_mtime_ns == saved_rows.st_mtime_ns
    assert all(e.row is None for e in list_catalog(home).entries)  # no Rows: none read
    # A listing without rows (and its save) keeps them for the next listing with rows.
    with SessionManager(home) as mgr:
        mgr.start_session("new")
        mgr.end_session()
    list_summaries(home)
    list_catalog(home, _rows(made))
    assert len(made) == 1  # the new session's only
    made.clear()
    with SessionManager(home) as mgr:  # a session grown: its row is of an older position
        mgr.resume_session(sids[1])
        mgr.record_message({"role": "user", "content": "more"})
        mgr.end_session()
    grown = list_catalog(home, _rows(made))
    assert made == [sids[1]]
    assert {e.session_id: e.row for e in grown.entries}[sids[1]] == b"<title 1>"
    assert list_catalog(
        home,
        _rows(made),
    ).has_rows and made == [sids[1]]


def test_rows_of_another_tag_or_unreadable_are_made_again(home: Home) -> None:
    sids = _sessions(home)
    made: list[str] = []
    list_catalog(home, _rows(made))
    made.clear()
    list_catalog(home, Rows("another", _rows(made).make))
    assert sorted(made) == sorted(sids)
    (home.cache_dir / ROWS).write_bytes(b"\x93garbage")
    made.clear()
    assert [e.row for e in list_catalog(home, _rows(made)).entries] == [
        b"<title 2>",
        b"",
        b"<title 0>",
    ]
    assert len(made) == 3


def test_a_summary_that_does_not_decode_is_read_from_its_log(home: Home) -> None:
    sids = _sessions(home)
    expected = list_summaries(home)
    entries = catalog_file.decode_entries((home.cache_dir / CACHE).read_bytes())
    assert entries is not None
    data = catalog_file.encode_entries(entries)
    assert data is not None
    views = catalog_file._DEC.decode(data)
    # Well-formed msgpack of the wrong shape, of another session, and of the wrong type.
    views.entries[0].summary = msgspec.Raw(msgspec.msgpack.encode([1, 2, 3]))
    views.entries[1].summary = msgspec.Raw(msgspec.msgpack.encode(expected[2]))
    views.entries[2].summary = msgspec.Raw(msgspec.msgpack.encode({"session_id": 7}))
    (home.cache_dir / CACHE).write_bytes(catalog_file._ENC.encode(views))
    for view in views.entries:
        with pytest.raises(ValueError):
            catalog_file.summary_of(view, {})
    shown = catalog.list_catalog(home)
    assert [shown.summary(e) for e in shown.entries] == expected  # read from the logs instead
    dropped = catalog_file.decode_views((home.cache_dir / CACHE).read_bytes())
    assert dropped is not None and dropped[0] == []  # the next listing rebuilds it
    assert list_summaries(home) == expected
    assert [v.session_id for v in catalog.list_catalog(home).entries] == list(reversed(sids))


def test_a_whole_decoding_of_a_damaged_catalog_is_a_rebuild(home: Home) -> None:
    _sessions(home)
    expected = list_summaries(home)
    views = catalog_file._DEC.decode((home.cache_dir / CACHE).read_bytes())
    views.entries[1].summary = msgspec.Raw(msgspec.msgpack.encode(expected[0]))  # another's
    data = catalog_file._ENC.encode(views)
    assert catalog_file.decode_entries(data) is None
    (home.cache_dir / CACHE).write_bytes(data)
    assert list_summaries(home) == expected


def test_a_catalog_of_another_version_is_rebuilt(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sessions(home)
    expected = list_summaries(home)
    views = catalog_file._DEC.decode((home.cache_dir / CACHE).read_bytes())
    views.version = catalog_file.CATALOG_VERSION - 1
    (home.cache_dir / CACHE).write_bytes(catalog_file._ENC.encode(views))
    read = _reads(monkeypatch)
    assert list_summaries(home) == expected
    assert len(read) == 3  # every log read again, never an error
    again = catalog_file._DEC.decode((home.cache_dir / CACHE).read_bytes())
    assert again.version == catalog_file.CATALOG_VERSION
