"""`default_listing`: the kept listing gives what the slow listing gives, byte for byte.

Directory changes are given distinct, settled mtimes (`_settle`), as a file system
with fine timestamps would, so the kept listing is used whenever it may be; the race
guard itself is tested with real and hand-set mtimes.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p8j.cli.ls import short_ids
from p8j.journal import Home, P8jError, SessionManager
from p8j.journal.cache import catalog, listing_file
from p8j.journal.cache.listing_file import LISTING_NAME, SETTLED_NS
from p8j.journal.codec import encode_event
from p8j.journal.events import MessageRecorded, SessionEnded, SessionPaused, SessionStarted
from p8j.journal.housekeeping import title_session
from p8j.journal.ids import new_session_id
from p8j.journal.store.select import as_store
from p8j.replay.kept import DefaultListing, default_listing
from p8j.replay.listing import list_sessions, sessions_json

_ENC = msgspec.json.Encoder()
# Few distinct times, so that ties in the order (broken by id) are common.
_TIMES = [f"2026-11-24T07:0{m}:00.000000Z" for m in range(4)]


class Journal:
    """A home whose logs are written line by line, plus live writers kept open."""

    def __init__(self, home: Home) -> None:
        self.home = home.ensure()
        self.ids: list[str] = []
        self.seq: dict[str, int] = {}
        self.open: set[str] = set()  # logs that may still be appended to (not ended)
        self.live: list[SessionManager] = []
        self.mtime = time.time_ns() - 3600 * 10**9  # an hour ago: settled
        self._settle()

    def _write(self, sid: str, event: Any) -> None:
        with open(self.home.log_path(sid), "ab") as f:
            f.write(encode_event(event))
        self.seq[sid] = event.seq + 1

    def _settle(self) -> None:
        """The directory changed: a new mtime of its own, long enough ago to be settled."""
        self.mtime += 1_000_000  # distinct: a file system with fine timestamps
        os.utime(self.home.sessions_dir, ns=(self.mtime, self.mtime))

    def new(self, kind: str, when: int) -> None:
        ts = _TIMES[when]
        if kind == "live":
            mgr = SessionManager(self.home)
            self.live.append(mgr)
            mgr.start_session("live")
            mgr.record_message({"role": "user", "content": "live one"})
            self._settle()
            return
        sid = new_session_id()
        self.ids.append(sid)
        self._write(sid, SessionStarted(1, sid, 0, _TIMES[0], project_name=f"p{when}"))
        self._write(sid, MessageRecorded(1, sid, 1, ts, role="user", content=f"about {sid[-4:]}"))
        os.chmod(self.home.log_path(sid), 0o600)
        if kind == "completed":
            self._write(sid, SessionEnded(1, sid, 2, ts))
        else:
            self.open.add(sid)
            if kind == "paused":
                self._write(sid, SessionPaused(1, sid, 2, ts))
        self._settle()

    def pick(self, n: int, only_open: bool) -> str | None:
        pool = sorted(self.open) if only_open else [s for s in self.ids if self.exists(s)]
        return pool[n % len(pool)] if pool else None

    def exists(self, sid: str) -> bool:
        return self.home.log_path(sid).exists()

    def append(self, n: int, when: int) -> None:
        """A message appended in place (no directory change); on a paused log, a problem."""
        if self.live and n % 2 == 0:
            self.live[-1].record_message({"role": "assistant", "content": f"more {n}"})
            return
        sid = self.pick(n, only_open=True)
        if sid is not None:
            ts = _TIMES[when]
            self._write(sid, MessageRecorded(1, sid, self.seq[sid], ts, role="user", content="x"))

    def end(self, n: int, when: int) -> None:
        """An open log ended in place."""
        sid = self.pick(n, only_open=True)
        if sid is not None:
            self._write(sid, SessionEnded(1, sid, self.seq[sid], _TIMES[when]))
            self.open.discard(sid)

    def remove(self, n: int) -> None:
        sid = self.pick(n, only_open=False)
        if sid is not None:
            self.home.log_path(sid).unlink()
            self.open.discard(sid)
            self._settle()

    def title(self, n: int) -> None:
        """`p8j title`: a completed log rewritten whole (a new inode), an open one appended."""
        sid = self.pick(n, only_open=False)
        if sid is None:
            return
        try:
            title_session(self.home, sid, f"title {n}")
        except P8jError:
            return  # a damaged log is refused (p8j repair first)
        self.seq[sid] += 1
        self._settle()

    def close(self) -> None:
        for mgr in self.live:
            mgr.close()


def _expected(home: Home) -> list[Any]:
    """The slow listing: every log read (no catalog), rows built and encoded one by one."""
    return list_sessions(home, summaries=catalog.list_summaries(home, use_cache=False))


def _assert_same(listing: DefaultListing, home: Home, *, via_catalog: bool = True) -> None:
    """`listing` is the slow listing (and, `via_catalog`, `sessions_json`: may save the catalog)."""
    rows = _expected(home)
    assert listing.json() == _ENC.encode(rows)
    if via_catalog:
        assert listing.json() == sessions_json(home)
    assert listing.json(lines=True) == _ENC.encode_lines(rows)
    assert listing.rows() == rows
    assert listing.session_ids() == [r.session_id for r in rows]
    assert listing.id_chars == short_ids([r.session_id for r in rows], 1)
    for limit in (0, 1, 2, len(rows) // 2, len(rows) + 1):
        assert listing.json(limit) == _ENC.encode(rows[:limit])
        assert listing.rows(limit) == rows[:limit]
        assert listing.session_ids(limit) == [r.session_id for r in rows[:limit]]


class _Counter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = catalog.list_catalog

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(listing_file, "list_catalog", counted)


OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("new"),
            st.sampled_from(["completed", "completed", "paused", "crashed", "live"]),
            st.integers(0, 3),
        ),
        st.tuples(st.just("append"), st.integers(0, 9), st.integers(0, 3)),
        st.tuples(st.just("end"), st.integers(0, 9), st.integers(0, 3)),
        st.tuples(st.just("remove"), st.integers(0, 9)),
        st.tuples(st.just("title"), st.integers(0, 9)),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(ops=OPS)
def test_kept_listing_equals_the_listing_of_every_log(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        counter = _Counter(mp)
        journal = Journal(Home(Path(tmp) / "home"))
        store = as_store(journal.home)
        try:
            for op in ops:
                getattr(journal, op[0])(*op[1:])
                first = default_listing(store)  # kept again if the directory changed
                before = counter.calls
                again = default_listing(store)  # from the kept file: no catalog
                assert first is not None and again is not None and counter.calls == before
                # (The reference's catalog listing may rewrite the catalog: checked after.)
                _assert_same(first, journal.home)
                _assert_same(again, journal.home)
        finally:
            journal.close()


def test_a_growing_live_session_is_read_on_and_kept_again(
    rhome: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(rhome)
    for i in range(3):
        journal.new("completed", i)
    journal.new("live", 3)
    counter = _Counter(monkeypatch)
    store = as_store(rhome)
    assert default_listing(store) is not None and counter.calls == 1
    kept = rhome.cache_dir / LISTING_NAME
    written = kept.read_bytes()
    for n in range(40):  # the live writer appends; the directory stays as it was
        journal.append(0, 0)
        listing = default_listing(store)
        assert listing is not None
        _assert_same(listing, rhome, via_catalog=False)
        assert listing.rows(1)[0].state == "live" and listing.rows(1)[0].message_count == n + 2
    assert counter.calls == 1  # never listed from the catalog again
    assert kept.read_bytes() != written  # kept again once its entry was far behind
    journal.close()


def test_a_directory_changed_within_the_margin_is_not_kept(rhome: Home) -> None:
    journal = Journal(rhome)
    journal.new("completed", 0)
    now = time.time_ns()
    os.utime(rhome.sessions_dir, ns=(now, now))  # just changed: racily clean
    store = as_store(rhome)
    assert default_listing(store) is None  # the caller lists the slow way
    assert not (rhome.cache_dir / LISTING_NAME).exists()
    settled = now - SETTLED_NS
    os.utime(rhome.sessions_dir, ns=(settled, settled))
    listing = default_listing(store)
    assert listing is not None and (rhome.cache_dir / LISTING_NAME).is_file()
    _assert_same(listing, rhome)


def test_real_mtimes_a_new_session_is_never_missed(rhome: Home) -> None:
    """No hand-set times: each listing right after a change lists it (slowly or not)."""
    store = as_store(rhome)
    with SessionManager(rhome) as mgr:
        for _ in range(5):
            mgr.start_session("p")
            mgr.end_session()
            listing = default_listing(store)
            ids = listing.session_ids() if listing is not None else None
            assert ids is None or ids == [r.session_id for r in _expected(rhome)]
            assert [r.session_id for r in list_sessions(rhome)] == [
                r.session_id for r in _expected(rhome)
            ]


def test_the_mark_is_taken_before_the_directory_is_read(
    rhome: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session created right after the catalog read the directory is seen next time.

    The kept mark is the directory's before that read, so the creation changes it.
    """
    journal = Journal(rhome)
    journal.new("completed", 0)
    real = catalog.list_catalog
    created: list[str] = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        listed = real(*args, **kwargs)
        if not created:
            journal.new("completed", 1)  # after the scandir, before the listing is kept
            created.append(journal.ids[-1])
        return listed

    monkeypatch.setattr(listing_file, "list_catalog", racing)
    store = as_store(rhome)
    first = default_listing(store)
    assert first is not None and created[0] not in first.session_ids()
    second = default_listing(store)  # the kept mark is older than the directory: listed again
    assert second is not None and created[0] in second.session_ids()
    _assert_same(second, rhome)


@pytest.mark.parametrize(
    "damage",
    ["garbage", "torn", "empty", "other-tag", "other-version", "lying-ends"],
)
def test_a_damaged_kept_file_is_ignored_and_rebuilt(rhome: Home, damage: str) -> None:
    journal = Journal(rhome)
    for i in range(4):
        journal.new("completed" if i % 2 else "paused", i)
    store = as_store(rhome)
    assert default_listing(store) is not None
    path = rhome.cache_dir / LISTING_NAME
    data = path.read_bytes()
    decoded = msgspec.msgpack.decode(data)
    if damage == "garbage":
        bad = b"\xc1not msgpack at all"
    elif damage == "torn":
        bad = data[: len(data) // 2]
    elif damage == "empty":
        bad = b""
    elif damage == "other-tag":
        bad = msgspec.msgpack.encode([decoded[0], "listing 0: old", *decoded[2:]])
    elif damage == "other-version":
        bad = msgspec.msgpack.encode([decoded[0] + 1, *decoded[1:]])
    else:
        bad = msgspec.msgpack.encode([*decoded[:8], [e + 1 for e in decoded[8]], *decoded[9:]])
    path.write_bytes(bad)
    listing = default_listing(store)
    assert listing is not None
    _assert_same(listing, rhome)
    assert path.read_bytes() != bad  # rebuilt


def test_a_deleted_or_rewritten_catalog_makes_it_stale(
    rhome: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(rhome)
    journal.new("completed", 0)
    store = as_store(rhome)
    assert default_listing(store) is not None
    counter = _Counter(monkeypatch)
    (rhome.cache_dir / "catalog.msgpack").unlink()  # the documented escape hatch
    assert default_listing(store) is not None and counter.calls == 1


def test_a_symlinked_cache_is_neither_read_nor_written(rhome: Home, tmp_path: Path) -> None:
    journal = Journal(rhome)
    journal.new("completed", 0)
    journal.new("completed", 1)
    store = as_store(rhome)
    assert default_listing(store) is not None
    elsewhere = tmp_path / "elsewhere"
    os.rename(rhome.cache_dir, elsewhere)
    os.symlink(elsewhere, rhome.cache_dir)
    # Valid for the journal as it is, but lying: read through the link, it would be listed.
    fields = msgspec.msgpack.decode((elsewhere / LISTING_NAME).read_bytes())
    bogus = b'{"session_id":"planted"}'
    fields[6:10] = [["planted"], [_TIMES[0]], [len(bogus)], bogus]
    planted = msgspec.msgpack.encode(fields)
    (elsewhere / LISTING_NAME).write_bytes(planted)
    listing = default_listing(store)
    if listing is not None:  # made from the logs (the catalog cannot be kept either)
        _assert_same(listing, rhome)
    assert b"planted" not in sessions_json(rhome)
    assert (elsewhere / LISTING_NAME).read_bytes() == planted  # never written through


def test_a_fifo_in_its_place_does_not_block(rhome: Home) -> None:
    journal = Journal(rhome)
    journal.new("completed", 0)
    rhome.cache_dir.mkdir(exist_ok=True)
    os.mkfifo(rhome.cache_dir / LISTING_NAME, 0o600)
    listing = default_listing(as_store(rhome))  # not blocked: ignored, then replaced
    assert listing is not None
    _assert_same(listing, rhome)


def test_a_store_without_a_home_lists_the_slow_way() -> None:
    from p8j.journal import MemoryStore

    assert default_listing(MemoryStore()) is None


def test_a_small_growth_does_not_keep_a_large_listing_again(rhome: Home) -> None:
    """Kept again only once what was read on reaches 1/16 of the file, whatever its rows."""
    journal = Journal(rhome)
    for i in range(24):
        journal.new("crashed", i % 4)  # open: kept as entries, no rows
    journal.new("live", 0)
    store = as_store(rhome)
    assert default_listing(store) is not None
    kept = rhome.cache_dir / LISTING_NAME
    written = kept.read_bytes()
    journal.append(0, 0)  # one message: far less than 1/16 of 25 entries
    listing = default_listing(store)
    assert listing is not None
    _assert_same(listing, rhome, via_catalog=False)
    assert kept.read_bytes() == written
    journal.close()


def test_open_rows_are_built_only_when_shown(rhome: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table's 50 rows probe the locks of the active sessions among them, not of all."""
    import p8j.replay.kept as kept_module
    import p8j.replay.listing as listing_module

    journal = Journal(rhome)
    for _ in range(6):
        journal.new("crashed", 0)  # the oldest activity: listed last
    journal.new("completed", 3)
    journal.new("completed", 3)
    store = as_store(rhome)
    assert default_listing(store) is not None
    built: list[str] = []
    real = listing_module.listing_of

    def spy(where: Any, summary: Any) -> Any:
        built.append(summary.session_id)
        return real(where, summary)

    monkeypatch.setattr(kept_module, "listing_of", spy)
    listing = default_listing(store)
    assert listing is not None
    assert [r.state for r in listing.rows(3)] == ["completed", "completed", "crashed"]
    assert len(built) == 1
    assert listing.json() == _ENC.encode(_expected(rhome))
    assert len(built) == 6  # each built once


def test_an_open_summary_that_does_not_decode_is_read_from_its_log(rhome: Home) -> None:
    journal = Journal(rhome)
    journal.new("paused", 1)
    journal.new("completed", 2)
    store = as_store(rhome)
    assert default_listing(store) is not None
    path = rhome.cache_dir / LISTING_NAME
    fields = msgspec.msgpack.decode(path.read_bytes())
    fields[10][0][12] = {"session_id": 5}  # the open entry's summary: the wrong type
    path.write_bytes(msgspec.msgpack.encode(fields))
    listing = default_listing(store)
    assert listing is not None
    _assert_same(listing, rhome)
    assert default_listing(store) is not None and path.read_bytes() != b""  # kept anew
