"""The verifying reader: torn tails, corruption named by line, skip-and-report, equivalences."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any
from unittest import mock

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from journal_helpers import crc_line, line_ends, line_of

from p8j.journal import (
    SCHEMA_VERSION,
    CommandRecorded,
    CorruptLineError,
    Event,
    Home,
    JournalIOError,
    LinesRemoved,
    MessageRecorded,
    MetadataUpdated,
    P8jError,
    SessionEnded,
    SessionManager,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    UnknownEvent,
    UnsafePathError,
)
from p8j.journal.codec import encode_event
from p8j.journal.session import fold
from p8j.journal.store.fs import LogCursor, read_events
from p8j.replay import load_session, load_session_with_report

SID = "01a20c6a-1677-71ff-911a-7d8a8490bda4"
TS = "2026-11-24T07:16:48.898912Z"


def _events(n: int, *, sid: str = SID) -> list[Event]:
    """A lifecycle-valid log: start, then n records of assorted kinds."""
    out: list[Event] = [SessionStarted(SCHEMA_VERSION, sid, 0, TS, project_name="p")]
    for seq in range(1, n + 1):
        kind = seq % 3
        if kind == 0:
            out.append(
                MessageRecorded(SCHEMA_VERSION, sid, seq, TS, role="user", content=f"m{seq}")
            )
        elif kind == 1:
            out.append(CommandRecorded(SCHEMA_VERSION, sid, seq, TS, command=f"c{seq}"))
        else:
            out.append(MetadataUpdated(SCHEMA_VERSION, sid, seq, TS, changes={"k": seq}))
    return out


def _log(path: Path, events: list[Event]) -> bytes:
    data = b"".join(encode_event(e) for e in events)
    path.write_bytes(data)
    return data


Outcome = tuple[Any, ...]


def _outcome(
    path: Path,
    *,
    skip: bool,
    chunk: int,
    fast: bool = True,
    max_line: int = 64 << 20,
    blocks: bool = False,
) -> Outcome:
    """Everything observable about one read: events and cursor, or the error and where."""
    cursor = LogCursor(
        path, skip_corrupt=skip, chunk_size=chunk, session_id=SID, max_line_bytes=max_line
    )
    # The slow path: the batch decoder "fails", so every line is decoded on its own.
    off = mock.patch(
        "p8j.journal.store.fs.cursor.decode_block", side_effect=msgspec.DecodeError("off")
    )
    with off if not fast else contextlib.nullcontext():
        try:
            if blocks:  # a list per block, with the bulk check of plain records
                events = [ev for block in cursor.read_blocks() for ev in block]
            else:
                events = list(cursor.read())
        except CorruptLineError as exc:
            return ("error", exc.line, exc.offset, exc.message)
    torn = None if cursor.torn is None else (cursor.torn.line, cursor.torn.offset)
    issues = [(i.kind, i.line, i.offset) for i in cursor.issues]
    return ("ok", events, torn, issues, cursor.offset, cursor.line, cursor.next_seq, cursor.state)


# -- torn tails and corruption -------------------------------------------------


def test_clean_log_reads_back_exactly(tmp_path: Path) -> None:
    events = _events(20)
    path = tmp_path / "log.jsonl"
    data = _log(path, events)
    got, cursor = read_events(path, session_id=SID)
    assert got == events
    assert cursor.torn is None and cursor.issues == []
    assert cursor.offset == len(data) and cursor.line == 22 and cursor.next_seq == 21


def test_incomplete_last_line_is_a_torn_tail(tmp_path: Path) -> None:
    events = _events(3)
    path = tmp_path / "log.jsonl"
    data = _log(path, events)
    whole = encode_event(MessageRecorded(SCHEMA_VERSION, SID, 4, TS, role="u", content="x"))
    for cut in (1, len(whole) // 2, len(whole) - 1):  # even the full JSON without its newline
        path.write_bytes(data + whole[:cut])
        got, cursor = read_events(path)
        assert got == events
        assert cursor.torn is not None
        assert (cursor.torn.line, cursor.torn.offset) == (5, len(data))
        assert cursor.torn.data == whole[:cut][:200]
        assert cursor.offset == len(data)


def test_corrupt_last_line_is_corruption_not_a_torn_tail(tmp_path: Path) -> None:
    """A bad line that ends in a newline was written whole: a crash cannot explain it."""
    events = _events(3)
    path = tmp_path / "log.jsonl"
    data = bytearray(_log(path, events))
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptLineError) as info:
        read_events(path)
    assert info.value.line == 4 and "corrupt" in info.value.message
    got, cursor = read_events(path, skip_corrupt=True)
    assert got == events[:3] and cursor.torn is None
    assert [(i.kind, i.line) for i in cursor.issues] == [("corrupt", 4)]
    # Without its newline the same damage is a torn tail: reported, never raised.
    path.write_bytes(bytes(data[:-1]))
    got, cursor = read_events(path)
    assert got == events[:3] and cursor.torn is not None and cursor.torn.line == 4


def test_terminated_garbage_at_the_end_is_corruption_only_the_unterminated_rest_torn(
    tmp_path: Path,
) -> None:
    events = _events(5)
    path = tmp_path / "log.jsonl"
    data = _log(path, events)
    ends = line_ends(data)
    damaged = data[: ends[2]] + b"\x00" * 40 + b"\n" + b'{"type":"Mess\n' + b"\x00\x00"
    path.write_bytes(damaged)
    with pytest.raises(CorruptLineError) as info:
        read_events(path, session_id=SID)
    assert (info.value.line, info.value.offset) == (4, ends[2])
    got, cursor = read_events(path, session_id=SID, skip_corrupt=True)
    assert got == events[:3]
    assert [(i.kind, i.line) for i in cursor.issues] == [("corrupt", 4), ("corrupt", 5)]
    assert cursor.torn is not None and cursor.torn.line == 6
    assert cursor.torn.offset == ends[2] + 41 + 14


def test_lines_removed_holds_its_seqs_and_may_restore_the_state(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log: list[Event] = [
        SessionStarted(SCHEMA_VERSION, SID, 0, TS, project_name="p"),
        SessionPaused(SCHEMA_VERSION, SID, 1, TS),
        LinesRemoved(SCHEMA_VERSION, SID, 2, TS, seqs=2, state="active"),
        MessageRecorded(SCHEMA_VERSION, SID, 4, TS, role="user", content="x"),
    ]
    path.write_bytes(b"".join(map(encode_event, log)))
    got, cursor = read_events(path, session_id=SID)  # strict: seq 3 is no gap
    assert got == log and (cursor.next_seq, cursor.state) == (5, "active")
    # A stand-in never reopens a completed session.
    log[1] = SessionEnded(SCHEMA_VERSION, SID, 1, TS)
    path.write_bytes(b"".join(map(encode_event, log)))
    with pytest.raises(CorruptLineError, match="lifecycle") as info:
        read_events(path, session_id=SID)
    assert info.value.line == 3


def test_every_bit_flip_is_detected_and_localised(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    mgr = SessionManager(home)
    sid = mgr.start_session("flips", {"k": 1}).session_id
    mgr.record_message({"role": "user", "content": "hello \u00e9"})
    mgr.record_command("ls")
    mgr.record_execution("ls", 0, "out", 0.1)
    mgr.update_metadata(model="m")
    mgr.pause_session()
    path = home.log_path(sid)
    data = path.read_bytes()
    ends = line_ends(data)
    last = len(ends)
    full, _ = read_events(path)
    checked = 0
    for pos in range(len(data)):
        k = line_of(data, pos)
        for bit in range(8):
            bad = bytearray(data)
            bad[pos] ^= 1 << bit
            path.write_bytes(bytes(bad))
            # One flip in eight also goes through load_session; the rest through the reader.
            via_load = bit == pos % 8
            # A flipped newline merges line k into k+1; a new newline splits line k: both bad.
            merged_into_last = data[pos] == 0x0A and k == last - 1
            if (k == last or merged_into_last) and pos == len(data) - 1:
                # The last newline flipped: an unterminated last line, i.e. a torn tail.
                events, cursor = read_events(path, session_id=sid)
                assert cursor.torn is not None and cursor.torn.line == k, (pos, bit)
                assert cursor.issues == []
                assert events == full[: k - 1]
                if via_load:
                    session, report = load_session_with_report(sid, home)
                    assert report.torn == cursor.torn and session == fold(full[: k - 1])
                continue
            with pytest.raises(CorruptLineError) as info:
                read_events(path, session_id=sid)
            assert info.value.line == k and info.value.offset == (ends[k - 2] if k > 1 else 0)
            if k == 1:
                # Without its SessionStarted a session cannot be rebuilt, skipping or not.
                if via_load:
                    with pytest.raises(CorruptLineError) as start:
                        load_session(sid, home, skip_corrupt=True)
                    assert start.value.line == 1
                continue
            lost = {k - 1, k} if data[pos] == 0x0A else {k - 1}  # event indexes
            kept = [e for i, e in enumerate(full) if i not in lost]
            events, cursor = read_events(path, session_id=sid, skip_corrupt=True)
            assert events == kept
            assert cursor.issues[0].kind == "corrupt" and cursor.issues[0].line == k
            assert all(i.kind in ("corrupt", "seq-gap") for i in cursor.issues)
            if via_load:
                session, report = load_session_with_report(sid, home, skip_corrupt=True)
                assert session == fold(kept) and report.issues == cursor.issues
            checked += 1
    assert checked > 5000


def test_skip_corrupt_reports_every_kind_of_bad_line(tmp_path: Path) -> None:
    events = _events(6)
    other = "01a20c6a-1677-71ff-911a-000000000000"
    lines = [encode_event(e) for e in events]
    lines.insert(2, b"garbage\n")  # line 3
    lines.insert(4, encode_event(CommandRecorded(SCHEMA_VERSION, other, 3, TS, command="x")))
    lines[6] = b""  # drop seq 4 (line 7): seq gap at line 7 (seq 5)
    lines.append(encode_event(SessionStarted(SCHEMA_VERSION, SID, 7, TS, project_name="again")))
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(lines))
    got, cursor = read_events(path, session_id=SID, skip_corrupt=True)
    assert [e.seq for e in got] == [0, 1, 2, 3, 5, 6]
    kinds = [(i.kind, i.line) for i in cursor.issues]
    assert kinds == [("corrupt", 3), ("corrupt", 5), ("seq-gap", 7), ("lifecycle", 9)]
    for issue in cursor.issues:
        assert issue.path == str(path)
        assert f":{issue.line} (byte {issue.offset})" in issue.describe()
    with pytest.raises(CorruptLineError) as info:
        read_events(path, session_id=SID)
    assert info.value.line == 3


def test_duplicate_seq_is_corrupt_even_when_skipping(tmp_path: Path) -> None:
    events = _events(3)
    path = tmp_path / "log.jsonl"
    _log(path, [*events[:3], events[2], events[3]])
    with pytest.raises(CorruptLineError, match="seq 2 where 3"):
        read_events(path)
    got, cursor = read_events(path, skip_corrupt=True)
    assert got == events
    assert [(i.kind, i.line) for i in cursor.issues] == [("corrupt", 4)]


def test_lifecycle_order_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    ev = _events(1)
    _log(path, [*ev, SessionEnded(SCHEMA_VERSION, SID, 2, TS), *_events(3)[3:]])
    with pytest.raises(CorruptLineError, match="lifecycle") as info:
        read_events(path)
    assert info.value.line == 4
    path.write_bytes(encode_event(_events(1)[1]))
    with pytest.raises(CorruptLineError, match="seq 1 where 0"):
        read_events(path)


def test_too_long_line_is_reported(tmp_path: Path) -> None:
    events = _events(3)
    path = tmp_path / "log.jsonl"
    big = encode_event(MessageRecorded(SCHEMA_VERSION, SID, 2, TS, role="u", content="x" * 5000))
    path.write_bytes(encode_event(events[0]) + encode_event(events[1]) + big)
    cursor = LogCursor(path, max_line_bytes=1000, chunk_size=256, skip_corrupt=True)
    got = list(cursor.read())
    assert got == events[:2]
    assert [(i.kind, i.line) for i in cursor.issues] == [("too-long", 3)]
    with pytest.raises(CorruptLineError, match="too-long"):
        list(LogCursor(path, max_line_bytes=1000, chunk_size=256).read())


# -- unknown events ----------------------------------------------------------------


def test_unknown_event_is_kept_reported_and_survives_a_resume(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    mgr = SessionManager(home)
    sid = mgr.start_session("newer").session_id
    mgr.record_message({"role": "user", "content": "before"})
    mgr.pause_session()
    path = home.log_path(sid)
    raw: dict[str, Any] = {"type": "SessionForked", "v": 2, "session_id": sid, "seq": 3}
    raw.update(ts=TS, into="0000", nested={"a": [1, 2]})
    line = crc_line(raw)
    with open(path, "ab") as f:
        f.write(line)
    session, report = load_session_with_report(sid, home)
    assert session.unknown_events == [raw]
    assert session.last_seq == 3 and session.status == "paused"
    assert [(i.kind, i.line) for i in report.issues] == [("unknown-event", 4)]
    assert "SessionForked" in report.issues[0].message
    resumed = mgr.resume_session(sid)
    assert resumed.unknown_events == [raw]
    assert mgr.record_message({"role": "user", "content": "after"}) == 5
    mgr.end_session()
    assert path.read_bytes().split(b"\n")[3] + b"\n" == line  # byte-identical
    events, _ = read_events(path)
    assert isinstance(events[3], UnknownEvent) and isinstance(events[4], SessionResumed)
    assert load_session(sid, home) == mgr.current_session


# -- equivalences ----------------------------------------------------------------------

mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "cut", "garbage", "dup", "drop", "unknown", "blank"]),
        st.integers(min_value=0, max_value=10**6),
        st.integers(min_value=0, max_value=7),
    ),
    max_size=3,
)


def _mutate(data: bytes, muts: list[tuple[str, int, int]]) -> bytes:
    for kind, where, bit in muts:
        lines = data.split(b"\n")
        tail = lines.pop()
        i = where % max(1, len(lines))
        if kind == "flip" and data:
            pos = where % len(data)
            data = data[:pos] + bytes([data[pos] ^ (1 << bit)]) + data[pos + 1 :]
            continue
        if kind == "cut":
            data = data[: where % (len(data) + 1)]
            continue
        if kind == "garbage":
            lines.insert(i, b"\x00garbage\x7f")
        elif kind == "dup" and lines:
            lines.insert(i, lines[i])
        elif kind == "drop" and lines:
            del lines[i]
        elif kind == "unknown":
            obj = {"type": "Future", "v": 9, "session_id": SID, "seq": i, "ts": TS}
            lines.insert(i, crc_line(obj)[:-1])
        elif kind == "blank":
            lines.insert(i, b"")
        data = b"".join(ln + b"\n" for ln in lines) + tail
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=0, max_value=25),
    muts=mutations,
    chunk=st.integers(min_value=1, max_value=700),
    skip=st.booleans(),
    max_line=st.sampled_from([64 << 20, 64 << 20, 190, 400]),
)
def test_chunking_and_fast_path_never_change_the_result(
    tmp_path_factory: pytest.TempPathFactory,
    n: int,
    muts: list[tuple[str, int, int]],
    chunk: int,
    skip: bool,
    max_line: int,
) -> None:
    path = tmp_path_factory.mktemp("eq") / "log.jsonl"
    events = _events(n)
    events.insert(max(1, n // 2), SessionPaused(SCHEMA_VERSION, SID, 0, TS))
    events.insert(max(2, n // 2 + 1), SessionResumed(SCHEMA_VERSION, SID, 0, TS))
    events = [msgspec.structs.replace(e, seq=i) for i, e in enumerate(events)]
    path.write_bytes(_mutate(b"".join(encode_event(e) for e in events), muts))
    reference = _outcome(path, skip=skip, chunk=1 << 20, max_line=max_line)
    assert _outcome(path, skip=skip, chunk=chunk, max_line=max_line) == reference
    assert _outcome(path, skip=skip, chunk=1 << 20, fast=False, max_line=max_line) == reference
    assert _outcome(path, skip=skip, chunk=chunk, fast=False, max_line=max_line) == reference
    assert _outcome(path, skip=skip, chunk=chunk, max_line=max_line, blocks=True) == reference
    assert _outcome(path, skip=skip, chunk=1 << 20, max_line=max_line, blocks=True) == reference
    if not muts and max_line > 1000:
        assert reference[1] == events


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=1, max_value=30), cuts=st.lists(st.integers(0, 10**5), max_size=8))
def test_following_a_growing_log_equals_one_read(
    tmp_path_factory: pytest.TempPathFactory, n: int, cuts: list[int]
) -> None:
    path = tmp_path_factory.mktemp("follow") / "log.jsonl"
    events = _events(n)
    data = b"".join(encode_event(e) for e in events) + b'{"type":"Mess'
    points = sorted({c % (len(data) + 1) for c in cuts} | {len(data)})
    path.write_bytes(b"")
    cursor = LogCursor(path, session_id=SID)
    seen: list[Any] = []
    for point in points:
        path.write_bytes(data[:point])  # the file only ever grows
        seen += list(cursor.read(final=False))
        assert cursor.torn is None  # a follower never calls a line in progress torn
    seen += list(cursor.read(final=True))
    assert seen == events
    assert cursor.torn is not None and cursor.torn.offset == len(data) - 13


# -- files that are not logs ----------------------------------------------------------


def test_symlinks_fifos_and_missing_files_are_p8j_errors(tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    _log(real, _events(2))
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    with pytest.raises(UnsafePathError):
        read_events(link)
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(UnsafePathError, match="not a regular file"):
        read_events(fifo)  # and does not block waiting for a writer
    with pytest.raises(JournalIOError, match="no such log"):
        read_events(tmp_path / "missing.jsonl")
    os.mkdir(tmp_path / "dir.jsonl")
    with pytest.raises(P8jError):
        read_events(tmp_path / "dir.jsonl")


@pytest.mark.parametrize("skip", [True, False])
def test_blocks_check_every_event_like_read(tmp_path: Path, skip: bool) -> None:
    # Well-formed, checksummed lines that the bulk check must still refuse: another
    # session's event, a seq out of order, a record after a pause.
    path = tmp_path / "log.jsonl"
    events = _events(40)
    other = msgspec.structs.replace(events[10], session_id="01a20c6a-1677-71ff-911a-000000000000")
    events[10] = other
    events[20], events[21] = events[21], events[20]
    events.insert(30, SessionPaused(SCHEMA_VERSION, SID, 30, TS))
    data = b"".join(encode_event(e) for e in events)
    path.write_bytes(data)
    reference = _outcome(path, skip=skip, chunk=1 << 20)
    assert _outcome(path, skip=skip, chunk=1 << 20, blocks=True) == reference
    assert _outcome(path, skip=skip, chunk=97, blocks=True) == reference
    if skip:
        kinds = [kind for kind, _, _ in reference[3]]
        assert "corrupt" in kinds and "lifecycle" in kinds


def test_blocks_hand_over_the_events_before_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    data = bytearray(_log(path, _events(8)))
    start = line_ends(bytes(data))[3]  # damage line 5: good lines follow it
    data[start + 30] ^= 0x01
    path.write_bytes(bytes(data))
    got: list[Any] = []
    cursor = LogCursor(path, session_id=SID)
    with pytest.raises(CorruptLineError) as exc:
        for block in cursor.read_blocks():
            assert block  # never an empty list
            got.extend(block)
    assert exc.value.line == 5
    expected: list[Any] = []
    with pytest.raises(CorruptLineError):
        expected.extend(LogCursor(path, session_id=SID).read())
    assert got == expected and len(got) == 4
    assert cursor.next_seq == 4 and cursor.line == 5


def test_a_follow_read_never_joins_a_torn_tail_to_what_replaced_it(tmp_path: Path) -> None:
    # CI once saw `p8j tail --poll` lose a SessionResumed: its read took a killed writer's
    # torn line, then (the resumed writer having cut it and appended in between) read on
    # past it and joined the torn bytes to the rest of the new line: "corrupt", skipped.
    events = _events(6)
    path = tmp_path / "log.jsonl"
    data = _log(path, events)
    keep = line_ends(data)[2]  # three whole lines, then a killed writer's torn line
    lost = CommandRecorded(SCHEMA_VERSION, SID, 3, TS, command="cut short " * 9)
    path.write_bytes(data[:keep] + encode_event(lost)[:40])
    real_pread = os.pread
    moved: list[int] = []

    def pread(fd: int, n: int, pos: int) -> bytes:
        got = real_pread(fd, n, pos)
        if not moved and got and not got.endswith(b"\n"):
            moved.append(pos)  # the resumed writer: the torn bytes moved aside, then appends
            with open(path, "r+b") as f:
                f.truncate(keep)
                f.seek(keep)
                f.write(data[keep:])
        return got

    cursor = LogCursor(path, skip_corrupt=True)
    with mock.patch("os.pread", pread):
        got = list(cursor.read(final=False))
    got += list(cursor.read(final=False))
    assert moved
    assert got == events
    assert cursor.issues == []
