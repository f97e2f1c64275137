"""Snapshot cache: fold(snapshot) + fold(tail) == fold(all); stale, corrupt ones fall back."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zlib
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, cast

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p8j.journal import (
    CommandRecorded,
    CorruptLineError,
    Event,
    ExecutionRecorded,
    Home,
    MessageRecorded,
    MetadataUpdated,
    SessionManager,
    SessionPaused,
    SessionResumed,
    SessionStarted,
)
from p8j.journal.cache import snapshots as snap_mod
from p8j.journal.cache.snapshots import (
    Snapshot,
    encode_snapshot,
    fold_log,
    load_snapshot,
    save_snapshot,
    snapshot_path,
)
from p8j.journal.codec import encode_event
from p8j.journal.session import apply, fold
from p8j.journal.store.fs import LogCursor
from p8j.journal.store.fs.store import FileStore
from p8j.replay import load_session, load_session_with_report

SID = "0190a6e0-1234-7abc-8def-0123456789ab"
TS = "2026-11-24T07:06:00.000123Z"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3)
    ),
    max_leaves=8,
)

op = st.one_of(
    st.tuples(st.just("msg"), st.sampled_from(["user", "assistant"]), json_values),
    st.tuples(st.just("cmd"), st.text(max_size=30)),
    st.tuples(st.just("exec"), st.text(max_size=10), st.integers(0, 255)),
    st.tuples(st.just("meta"), st.dictionaries(st.text(max_size=5), json_values, max_size=2)),
    st.tuples(st.just("pause")),
)


def build_events(ops: list[tuple[Any, ...]]) -> list[Event]:
    """A valid event sequence for `ops` (a pause is always followed by a resume)."""
    events: list[Event] = [
        SessionStarted(1, SID, 0, TS, project_name="proj", metadata={"k": [1, "two"]})
    ]

    def seq() -> int:
        return len(events)

    for o in ops:
        kind = o[0]
        if kind == "msg":
            events.append(MessageRecorded(1, SID, seq(), TS, role=o[1], content=o[2]))
        elif kind == "cmd":
            events.append(CommandRecorded(1, SID, seq(), TS, command=o[1]))
        elif kind == "exec":
            events.append(ExecutionRecorded(1, SID, seq(), TS, command=o[1], exit_code=o[2]))
        elif kind == "meta":
            events.append(MetadataUpdated(1, SID, seq(), TS, changes=o[1]))
        else:
            events.append(SessionPaused(1, SID, seq(), TS, reason="x"))
            events.append(SessionResumed(1, SID, seq(), TS))
    return events


def write_log(home: Home, events: list[Event]) -> Path:
    """Write `events` as `SID`'s log in `home`; return its path."""
    home.ensure()
    path = home.log_path(SID)
    path.write_bytes(b"".join(encode_event(e) for e in events))
    return path


def snapshot_at(home: Home, cut: int) -> bool:
    """Fold the log's first `cut` events and save them as the snapshot."""
    cursor = FileStore(home).open_cursor(SID)
    events = cast("Generator[Any, None, None]", cursor.read(final=True))
    prefix = [next(events) for _ in range(cut)]
    # Take one more: the cursor counts an event consumed once the next is asked for
    # (closing the reader leaves it at the start of the last event handed out).
    next(events, None)
    events.close()
    assert cursor.next_seq == cut
    return save_snapshot(home, fold(prefix), cursor, cut)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, max_size=25), data=st.data())
def test_snapshot_plus_tail_equals_full_fold(
    ops: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    events = build_events(ops)
    cut = data.draw(st.integers(1, len(events)), label="cut")
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(tmp)
        write_log(home, events)
        assert snapshot_at(home, cut)
        snap = load_snapshot(home, SID)
        assert snap is not None
        assert snap.events == cut
        assert snap.next_seq == cut
        session, cursor, count = fold_log(home, SID, save=False)
        full = fold(LogCursor(home.log_path(SID), session_id=SID).read())
        assert session == full
        assert count == len(events)
        assert cursor.position.offset == home.log_path(SID).stat().st_size
        assert cursor.next_seq == len(events)


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(op, min_size=1, max_size=15), data=st.data())
def test_snapshot_holds_what_a_replay_of_the_prefix_gives(
    ops: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    events = build_events(ops)
    cut = data.draw(st.integers(1, len(events)), label="cut")
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(tmp)
        write_log(home, events)
        assert snapshot_at(home, cut)
        snap = load_snapshot(home, SID)
        assert snap is not None
        # JSON values come back through msgpack exactly as a replay reads them.
        replayed = LogCursor(home.log_path(SID), session_id=SID).read()
        assert snap.session == fold(next(replayed) for _ in range(cut))
        assert snap.session.last_seq == cut - 1


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(op, max_size=25))
def test_fold_equals_applying_event_by_event(ops: list[tuple[Any, ...]]) -> None:
    # The fold's inlined fast path and `apply` (what a writer uses) must agree.
    events = [msgspec.json.decode(encode_event(e), type=type(e)) for e in build_events(ops)]
    stepped = None
    for ev in events:
        stepped = apply(stepped, ev)
    assert stepped == fold(events)


def make_session(home: Home, n: int) -> str:
    """A real paused session of `n` messages (plus start, pause); return its id."""
    with SessionManager(home) as mgr:
        sid = mgr.start_session("proj", {"a": 1}).session_id
        for i in range(n):
            mgr.record_message({"role": "user", "content": f"message {i}", "n": [i, {"k": i}]})
        mgr.record_command("ls -la")
        mgr.record_execution("ls -la", 0, "out")
    return sid


def test_manager_resume_writes_and_then_uses_a_snapshot(home: Home, mgr: SessionManager) -> None:
    sid = make_session(home, snap_mod.MIN_EVENTS)
    assert load_snapshot(home, sid) is None
    mgr.resume_session(sid)
    assert load_snapshot(home, sid) is not None  # written by the fold that resumed
    mgr.record_message({"role": "assistant", "content": "after resume"})
    mgr.pause_session()
    resumed = mgr.resume_session(sid)
    assert resumed == load_session(sid, home)
    assert resumed.conversation_history[-1] == {"role": "assistant", "content": "after resume"}
    # Proof the snapshot is what the second resume started from: damage the log's
    # prefix (far before the checked tail) without changing its length; the cached
    # fold does not read those bytes, a full replay does.
    mgr.pause_session()
    path = home.log_path(sid)
    data = bytearray(path.read_bytes())
    i = data.index(b"message 5")
    data[i : i + 9] = b"massage 5"
    path.write_bytes(bytes(data))  # same inode: write_bytes truncates and rewrites
    session, _, _ = fold_log(home, sid, save=False)
    assert session.conversation_history[5]["content"] == "message 5"
    with pytest.raises(CorruptLineError):
        fold_log(home, sid, use_cache=False)


def test_deleting_the_cache_changes_nothing_but_speed(home: Home) -> None:
    sid = make_session(home, snap_mod.MIN_EVENTS + 10)
    first, report1 = load_session_with_report(sid, home)
    assert snapshot_path(home, sid).exists()
    cached, report2 = load_session_with_report(sid, home)
    shutil.rmtree(home.cache_dir)
    rebuilt, report3 = load_session_with_report(sid, home)
    assert first == cached == rebuilt
    assert report1.events == report2.events == report3.events == snap_mod.MIN_EVENTS + 14
    assert report1.offset == report2.offset == report3.offset == home.log_path(sid).stat().st_size


def _with_snapshot(home: Home) -> tuple[list[Event], Path]:
    events = build_events([("msg", "user", f"m{i}") for i in range(30)])
    path = write_log(home, events)
    assert snapshot_at(home, 20)
    assert load_snapshot(home, SID) is not None
    return events, path


def _expected(events: list[Event]) -> Any:
    return fold(msgspec.json.decode(encode_event(e), type=type(e)) for e in events)


def test_corrupt_snapshot_is_ignored(home: Home) -> None:
    events, _ = _with_snapshot(home)
    snap = snapshot_path(home, SID)
    data = bytearray(snap.read_bytes())
    data[len(data) // 2] ^= 0x01
    snap.write_bytes(bytes(data))
    assert load_snapshot(home, SID) is None
    assert fold_log(home, SID)[0] == _expected(events)
    snap.write_bytes(b"not msgpack at all")
    assert load_snapshot(home, SID) is None
    snap.write_bytes(b"")
    assert load_snapshot(home, SID) is None
    assert fold_log(home, SID)[0] == _expected(events)


def test_snapshot_of_a_replaced_or_shrunk_log_is_stale(home: Home) -> None:
    events, path = _with_snapshot(home)
    # Replaced: a new file (new inode) with the same bytes.
    data = path.read_bytes()
    tmp = path.with_suffix(".new")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    assert load_snapshot(home, SID) is None
    assert snapshot_at(home, 20)
    # Shrunk below the snapshot's offset: stale, and a full replay still works.
    lines = data.split(b"\n")
    with open(path, "r+b") as f:
        f.truncate(sum(len(ln) + 1 for ln in lines[:10]))
    assert load_snapshot(home, SID) is None
    assert fold_log(home, SID)[0] == _expected(events[:10])


def test_snapshot_whose_covered_bytes_changed_is_stale(home: Home) -> None:
    events = build_events([("msg", "user", f"m{i:02d}") for i in range(30)])
    path = write_log(home, events)
    assert snapshot_at(home, 20)
    # Rewrite event 19 (inside the checked tail before the offset), same length, valid crc.
    other = [
        *events[:19],
        MessageRecorded(1, SID, 19, TS, role="user", content="X18"),
        *events[20:],
    ]
    with open(path, "r+b") as f:  # same inode
        f.write(b"".join(encode_event(e) for e in other))
    assert load_snapshot(home, SID) is None
    assert fold_log(home, SID)[0] == _expected(other)


def test_snapshot_that_does_not_fit_the_tail_falls_back(home: Home) -> None:
    events, _ = _with_snapshot(home)
    # A well-formed, checksummed snapshot whose position is wrong (next_seq off by
    # one): reading the tail fails, so fold_log replays the whole log instead.
    snap = load_snapshot(home, SID)
    assert snap is not None
    bad = msgspec.structs.replace(snap, next_seq=snap.next_seq + 1)
    snapshot_path(home, SID).write_bytes(encode_snapshot(bad))
    assert load_snapshot(home, SID) == bad
    session, cursor, count = fold_log(home, SID)
    assert session == _expected(events)
    assert count == len(events)
    assert not cursor.issues


def test_no_snapshot_from_a_read_with_issues(home: Home) -> None:
    events = build_events([("msg", "user", f"m{i}") for i in range(10)])
    path = write_log(home, events)
    with open(path, "ab") as f:  # a future event type: read fine, but reported
        body = msgspec.json.encode(
            {"type": "FutureThing", "v": 2, "session_id": SID, "seq": 11, "ts": TS}
        )
        f.write(body[:-1] + b',"crc":"%08x"}\n' % zlib.crc32(body))
    cursor = FileStore(home).open_cursor(SID)
    session = fold(cursor.read())
    assert [i.kind for i in cursor.issues] == ["unknown-event"]
    assert not save_snapshot(home, session, cursor, 12)
    assert not snapshot_path(home, SID).exists()


def test_fold_log_of_a_log_without_a_start_names_it(home: Home) -> None:
    home.ensure()
    home.log_path(SID).write_bytes(b'{"type":"SessionStar')
    with pytest.raises(CorruptLineError, match="torn"):
        fold_log(home, SID)


def test_unwritable_cache_costs_only_speed(home: Home) -> None:
    events = build_events([("msg", "user", f"m{i}") for i in range(5)])
    write_log(home, events)
    home.cache_dir.rmdir()
    home.cache_dir.write_bytes(b"a file where the cache dir should be")
    cursor = FileStore(home).open_cursor(SID)
    session = fold(cursor.read())
    assert not save_snapshot(home, session, cursor, len(events))
    assert fold_log(home, SID)[0] == session


def test_snapshot_type_round_trips_a_real_session(home: Home) -> None:
    sid = make_session(home, 50)
    session, cursor, count = fold_log(home, sid, save=False)
    assert save_snapshot(home, session, cursor, count)
    snap = load_snapshot(home, sid)
    assert isinstance(snap, Snapshot)
    assert snap.session == session
    assert snap.session.start_time == session.start_time
    assert snap.session.start_time.tzinfo is not None


@contextlib.contextmanager
def small_chunks(chunk: int, min_events: int | None = None) -> Iterator[None]:
    """Cut histories into `chunk`-entry chunks (and lower MIN_EVENTS) for the test."""
    saved = snap_mod.CHUNK, snap_mod.MIN_EVENTS
    snap_mod.CHUNK = chunk
    if min_events is not None:
        snap_mod.MIN_EVENTS = min_events
    try:
        yield
    finally:
        snap_mod.CHUNK, snap_mod.MIN_EVENTS = saved


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, max_size=30), data=st.data())
def test_windowed_fold_equals_the_window_of_the_full_fold(
    ops: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    events = build_events(ops)
    cut = data.draw(st.integers(1, len(events)), label="cut")
    window = data.draw(st.integers(0, 12), label="window")
    chunk = data.draw(st.integers(1, 5), label="chunk")
    with tempfile.TemporaryDirectory() as tmp, small_chunks(chunk):
        home = Home(tmp)
        write_log(home, events)
        full = fold(LogCursor(home.log_path(SID), session_id=SID).read())
        assert fold_log(home, SID, save=False, history=window)[0] == full.window(window)
        assert snapshot_at(home, cut)
        whole = load_snapshot(home, SID)
        part = load_snapshot(home, SID, history=window)
        assert whole is not None and part is not None
        assert part.session == whole.session.window(window)
        session, cursor, count = fold_log(home, SID, save=False, history=window)
        assert session == full.window(window)
        assert session.message_count == full.message_count
        assert count == len(events)
        assert cursor.position.offset == home.log_path(SID).stat().st_size


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=30), data=st.data())
def test_windowed_fold_of_a_long_tail_extends_the_snapshot(
    ops: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    # A fold from a snapshot (a windowed one never loaded the old entries) copies the
    # old snapshot's chunks and appends the tail's: the result is a whole, exact snapshot.
    events = build_events(ops)
    cut = data.draw(st.integers(1, len(events)), label="cut")
    window = data.draw(st.none() | st.integers(0, 6), label="window")
    with tempfile.TemporaryDirectory() as tmp, small_chunks(data.draw(st.integers(1, 4)), 1):
        home = Home(tmp)
        write_log(home, events)
        assert snapshot_at(home, cut)
        full = fold(LogCursor(home.log_path(SID), session_id=SID).read())
        session, _, count = fold_log(home, SID, history=window)
        assert session == (full if window is None else full.window(window))
        snap = load_snapshot(home, SID)
        assert snap is not None
        assert snap.events == count == len(events)
        if len(events) > cut:  # a tail was read: the snapshot now covers the whole log
            assert snap.session == full
            assert snap.offset == home.log_path(SID).stat().st_size


def test_a_window_reads_only_the_chunks_it_needs(home: Home) -> None:
    events = build_events([("msg", "user", f"m{i}") for i in range(40)])
    write_log(home, events)
    with small_chunks(4):
        assert snapshot_at(home, len(events))
        path = snapshot_path(home, SID)
        data = bytearray(path.read_bytes())
        i = data.index(b"m1")  # inside the first chunk of the conversation
        data[i + 1] ^= 0x01
        path.write_bytes(bytes(data))
        part = load_snapshot(home, SID, history=5)
        assert part is not None  # the damaged chunk was not read
        assert [m["content"] for m in part.session.conversation_history] == [
            f"m{i}" for i in range(35, 40)
        ]
        assert part.session.conversation_omitted == 35
        assert load_snapshot(home, SID) is None  # a whole load checks every chunk
        assert fold_log(home, SID, save=False)[0] == _expected(events)


def test_a_version_1_snapshot_is_stale_and_replaced(home: Home) -> None:
    events = build_events([("msg", "user", f"m{i}") for i in range(30)])
    write_log(home, events)
    session = _expected(events)
    snap = Snapshot(session, home.log_path(SID).stat().st_size, 31, 31, "active", 31, 0, 0)
    body = msgspec.msgpack.encode(snap)
    path = snapshot_path(home, SID)
    path.parent.mkdir(parents=True)
    path.write_bytes(msgspec.msgpack.encode([1, zlib.crc32(body), body]))
    assert load_snapshot(home, SID) is None
    with small_chunks(8, 1):
        assert fold_log(home, SID)[0] == session
    got = load_snapshot(home, SID)
    assert got is not None and got.session == session


def test_a_snapshot_whose_head_does_not_account_for_its_bytes_is_ignored(home: Home) -> None:
    events, _ = _with_snapshot(home)
    path = snapshot_path(home, SID)
    good = path.read_bytes()
    for bad in (good + b"x", good[:-1], good[: len(good) // 2]):
        path.write_bytes(bad)
        assert load_snapshot(home, SID) is None
        assert load_snapshot(home, SID, history=1) is None
        assert fold_log(home, SID, save=False)[0] == _expected(events)
    path.write_bytes(good)
    assert load_snapshot(home, SID) is not None


def test_what_msgpack_cannot_encode_is_not_cached_and_still_loads(home: Home) -> None:
    # JSON (the log) holds integers of any size; msgpack stops at 64 bits. Such a
    # session is not cached, and loading it must not fail for that.
    big = {"role": "user", "content": "x", "n": 10**30}
    events = build_events([("msg", "user", f"m{i}") for i in range(12)])
    write_log(home, events)
    with small_chunks(4, 1):
        assert fold_log(home, SID)[0] == _expected(events)  # a whole snapshot: written
        assert load_snapshot(home, SID) is not None
        more = [
            *events,
            MessageRecorded(1, SID, len(events), TS, role="user", content="x", extra=big),
        ]
        write_log(home, more)  # same bytes, one more line: the snapshot stays fresh
        expected = _expected(more)
        # A windowed fold of the tail would extend the snapshot: it cannot, and says nothing.
        assert fold_log(home, SID, history=2)[0] == expected.window(2)
        assert fold_log(home, SID)[0] == expected
        snapshot_path(home, SID).unlink()
        assert fold_log(home, SID)[0] == expected  # a full fold cannot save one either
        assert not snapshot_path(home, SID).exists()
    assert load_session(SID, home).conversation_history[-1]["n"] == 10**30


def test_a_windowed_session_is_no_snapshot(home: Home) -> None:
    _with_snapshot(home)
    part = load_snapshot(home, SID, history=2)
    assert part is not None and part.session.conversation_omitted
    with pytest.raises(ValueError, match="windowed"):
        encode_snapshot(part)


@pytest.mark.parametrize("bad", [-1, True, 1.5, "3"])
def test_a_history_window_is_an_int_or_none(home: Home, bad: Any) -> None:
    write_log(home, build_events([]))
    with pytest.raises(ValueError, match="history"):
        fold_log(home, SID, history=bad)
