"""The listing catalog against hostile values and files: it never breaks, blocks or misleads.

Integers msgpack cannot hold, a FIFO, symlink or hard link in place of the catalog,
a symlinked ``cache/``: listing still works, shows what the logs say, and nothing is
read or written through a link.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from p8j.journal import Home, SessionManager, UnsafePathError
from p8j.journal.cache import catalog, catalog_file, list_summaries
from p8j.journal.store.fs import LogCursor

BIG = {"build_id": 2**64, "low": -(2**63) - 1, "huge": 2**200, "ok": 7}


def _fingerprint(path: Path) -> tuple[bytes, int]:
    return hashlib.sha256(path.read_bytes()).digest(), os.stat(path).st_mtime_ns


def _sessions(home: Home, n: int = 3) -> list[str]:
    with SessionManager(home) as mgr:
        sids = []
        for i in range(n):
            sids.append(mgr.start_session(f"p{i}", {"i": i}).session_id)
            mgr.record_message({"role": "user", "content": f"title {i}"})
            mgr.end_session()
    return sids


def _planted(home: Home) -> bytes:
    """A well-formed catalog of `home` whose every title lies."""
    list_summaries(home)
    entries = catalog_file.decode_entries((home.cache_dir / "catalog.msgpack").read_bytes())
    assert entries is not None
    for entry in entries:
        entry.summary.title = "PLANTED"
    data = catalog_file.encode_entries(entries)
    assert data is not None
    return data


def _no_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    real = LogCursor

    def spy(path: Any, **kw: Any) -> Any:
        read.append(str(path))
        return real(path, **kw)

    monkeypatch.setattr("p8j.journal.cache.catalog.LogCursor", spy)
    return read


def test_integers_msgpack_cannot_hold_are_listed_and_cached(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SessionManager(home) as mgr:
        odd = mgr.start_session("b", dict(BIG)).session_id
        mgr.record_message({"role": "user", "content": "big", "n": 2**200})
        mgr.update_metadata(later=2**64)
        mgr.end_session()
        plain = mgr.start_session("plain", {"x": 1}).session_id
        mgr.pause_session()
    expected = {**BIG, "later": 2**64}
    first = list_summaries(home)  # used to end in OverflowError while saving the catalog
    assert [s.session_id for s in first] == [plain, odd]
    assert first[1].metadata == expected and first[1].title == "big"
    assert (home.cache_dir / "catalog.msgpack").is_file()
    read = _no_reads(monkeypatch)
    again = list_summaries(home)
    assert read == []  # both came from the catalog, the odd metadata included
    assert again == first
    assert again[1].metadata == expected
    assert list_summaries(home, use_cache=False) == first


def test_an_entry_that_cannot_be_encoded_at_all_is_only_left_out() -> None:
    entry_of = catalog_file.entry_of
    good = entry_of(catalog.SessionSummary(session_id="a", metadata={"n": 1}), 1, 0, 1, 0, None)
    bad = entry_of(
        catalog.SessionSummary(session_id="b", metadata={"o": object()}), 2, 0, 1, 0, None
    )
    big = entry_of(catalog.SessionSummary(session_id="c", metadata={"n": 2**64}), 3, 0, 1, 0, None)
    data = catalog_file.encode_entries([good, bad, big])
    assert data is not None
    cat = catalog_file._DEC.decode(data)
    assert [e.session_id for e in cat.entries] == ["a", "c"]
    assert cat.json_metadata == {"c": b'{"n":18446744073709551616}'}
    inner = catalog_file._SUMMARY_DEC.decode(cat.entries[1].summary)
    assert inner.metadata == {}  # kept as JSON beside the entries
    entries = catalog_file.decode_entries(data)
    assert entries is not None and entries[1].summary.metadata == {"n": 2**64}


@pytest.mark.timeout(30)
def test_a_fifo_in_place_of_the_catalog_never_blocks(home: Home) -> None:
    _sessions(home)
    expected = list_summaries(home, use_cache=False)
    cache = home.cache_dir / "catalog.msgpack"
    os.mkfifo(cache)
    assert list_summaries(home) == expected  # used to block forever in open()
    assert cache.is_file()  # replaced by a real catalog
    assert list_summaries(home) == expected


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
def test_a_linked_catalog_is_neither_trusted_nor_written_through(
    home: Home, tmp_path: Path, kind: str
) -> None:
    _sessions(home)
    planted = _planted(home)
    expected = list_summaries(home, use_cache=False)
    outside = tmp_path / "outside.msgpack"
    outside.write_bytes(planted)
    cache = home.cache_dir / "catalog.msgpack"
    cache.unlink()
    if kind == "symlink":
        cache.symlink_to(outside)
    else:
        os.link(outside, cache)
    before = _fingerprint(outside)
    assert list_summaries(home) == expected  # not one PLANTED title
    assert _fingerprint(outside) == before
    assert not cache.is_symlink() and os.stat(cache).st_nlink == 1  # replaced, not written through


def test_a_symlinked_cache_directory_is_neither_read_nor_written(
    home: Home, tmp_path: Path
) -> None:
    _sessions(home)
    planted = _planted(home)
    expected = list_summaries(home, use_cache=False)
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o700)
    (outside / "catalog.msgpack").write_bytes(planted)
    before = _fingerprint(outside / "catalog.msgpack")
    for p in home.cache_dir.iterdir():
        p.unlink()
    home.cache_dir.rmdir()
    home.cache_dir.symlink_to(outside)
    assert list_summaries(home) == expected
    assert list_summaries(home) == expected
    assert sorted(p.name for p in outside.iterdir()) == ["catalog.msgpack"]
    assert _fingerprint(outside / "catalog.msgpack") == before


def test_an_unsafe_home_is_refused_and_nothing_is_written(home: Home, tmp_path: Path) -> None:
    _sessions(home, 1)
    os.chmod(home.path, 0o777)
    with pytest.raises(UnsafePathError, match="world-writable") as info:
        list_summaries(home)
    assert info.value.path == str(home.path)
    assert not (home.cache_dir / "catalog.msgpack").exists()
    os.chmod(home.path, 0o700)
    link = tmp_path / "link"
    link.symlink_to(home.path)
    with pytest.raises(UnsafePathError, match="symlink"):
        list_summaries(Home(link))
    assert not (home.cache_dir / "catalog.msgpack").exists()


def test_a_home_that_does_not_exist_lists_empty_and_stays_absent(home: Home) -> None:
    assert list_summaries(home) == []
    assert not home.path.exists()
