"""`repair_session`: bad lines moved aside and recorded, good events kept byte for byte."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from journal_helpers import line_ends

from p8j.journal import (
    SCHEMA_VERSION,
    CorruptLineError,
    Home,
    JournalIOError,
    LinesRemoved,
    MessageRecorded,
    SessionLockedError,
    SessionManager,
    SessionStarted,
    SessionStateError,
)
from p8j.journal.cache.snapshots import snapshot_path
from p8j.journal.codec import encode_event
from p8j.journal.session import fold
from p8j.journal.store.fs import read_events
from p8j.journal.store.fs import repair as repair_module
from p8j.journal.store.fs.repair import repair_session
from p8j.journal.store.fs.syscalls import Storage
from p8j.replay import load_session
from p8j.replay.listing import list_sessions
from p8j.replay.verify import verify_session


def _completed(home: Home) -> str:
    """A completed session with every event type: start ... pause, resume ... end."""
    mgr = SessionManager(home)
    sid = mgr.start_session("fix", {"k": 1}).session_id
    mgr.record_message({"role": "user", "content": "hello \u00e9"})
    mgr.record_command("ls")
    mgr.record_execution("ls", 0, "out", 0.1)
    mgr.pause_session()
    mgr.resume_session(sid)
    mgr.update_metadata(model="m")
    mgr.record_message({"role": "assistant", "content": "bye"})
    mgr.end_session()
    return sid


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


def _reset(home: Home, sid: str, data: bytes) -> None:
    """Put `data` back as the log, with no sidecars or caches left from a previous case."""
    shutil.rmtree(home.torn_dir, ignore_errors=True)
    shutil.rmtree(home.cache_dir, ignore_errors=True)
    home.ensure()
    home.log_path(sid).write_bytes(data)


def _flip(data: bytes, pos: int) -> bytes:
    bad = bytearray(data)
    bad[pos] ^= 0x01
    return bytes(bad)


def _kept_lines(old: bytes, new: bytes) -> list[bytes]:
    """Lines of `old` that appear in `new` (as whole lines)."""
    have = set(new.split(b"\n"))
    return [ln for ln in old.split(b"\n")[:-1] if ln in have]


@pytest.mark.parametrize("where", ["first", "middle", "crc", "newline"])
def test_a_flipped_bit_in_any_line_is_corrupt_until_repaired(home: Home, where: str) -> None:
    sid = _completed(home)
    data = home.log_path(sid).read_bytes()
    ends = line_ends(data)
    full, _ = read_events(home.log_path(sid))
    for k in range(1, len(ends) + 1):
        start = ends[k - 2] if k > 1 else 0
        pos = {"first": start, "middle": (start + ends[k - 1]) // 2, "crc": ends[k - 1] - 5}.get(
            where, ends[k - 1] - 1
        )
        bad = _flip(data, pos)
        _reset(home, sid, bad)
        last_newline = pos == len(data) - 1
        report = verify_session(home, sid)
        if last_newline:
            # An unterminated last line: a torn tail, exactly as before (a warning).
            assert report.ok and [w.kind for w in report.warnings] == ["torn-tail"]
            continue
        assert not report.ok and report.errors[0].kind == "corrupt", (k, where)
        assert report.errors[0].line == k and report.state == "damaged"
        with pytest.raises(CorruptLineError) as strict:
            read_events(home.log_path(sid))
        assert strict.value.line == k
        with pytest.raises(CorruptLineError) as refused:
            SessionManager(home).resume_session(sid)
        if k == 1:
            with pytest.raises(CorruptLineError, match="line 1"):
                repair_session(home, sid)
            assert home.log_path(sid).read_bytes() == bad  # nothing changed
            continue
        assert "p8j repair" in refused.value.message and refused.value.line == k
        result = repair_session(home, sid)
        assert result.changed and [r.line for r in result.removed] == [k]
        (run,) = result.removed
        sidecar = (home.torn_dir / run.sidecar).read_bytes()
        assert sidecar == bad[run.offset : run.offset + run.size]
        assert run.sha256 == hashlib.sha256(sidecar).hexdigest()
        new = home.log_path(sid).read_bytes()
        merged = 2 if where == "newline" else 1
        lost = set(range(k - 1, min(k - 1 + merged, len(full))))
        kept = [e for i, e in enumerate(full) if i not in lost]
        assert len(_kept_lines(bad, new)) == len(kept)  # every good line, byte for byte
        events, cursor = read_events(home.log_path(sid))  # strict: no error, no torn tail
        assert cursor.torn is None and cursor.issues == []
        stand_ins = [e for e in events if isinstance(e, LinesRemoved)]
        assert [e for e in events if not isinstance(e, LinesRemoved)] == kept
        assert [r.sidecar for s in stand_ins for r in s.removed] == [run.sidecar]
        session = load_session(sid, home)
        assert session == fold(events)
        said = [e.content for e in kept if isinstance(e, MessageRecorded)]
        assert [m["content"] for m in session.conversation_history] == said
        ended_lost = len(full) - 1 in lost
        assert session.status == ("active" if ended_lost else "completed")
        assert verify_session(home, sid).ok
        again = repair_session(home, sid)
        assert not again.changed and again.removed == [] and again.events_written == []
        assert home.log_path(sid).read_bytes() == new
        if ended_lost:
            mgr = SessionManager(home)
            resumed = mgr.resume_session(sid)
            assert resumed.status == "active"
            mgr.record_message({"role": "user", "content": "again"})
            mgr.end_session()
            assert verify_session(home, sid).ok
            assert load_session(sid, home).conversation_history[-1]["content"] == "again"
        else:
            with pytest.raises(SessionStateError, match="completed"):
                SessionManager(home).resume_session(sid)


def test_a_lost_resume_is_stood_in_for_so_later_records_stay_legal(home: Home) -> None:
    sid = _completed(home)
    data = home.log_path(sid).read_bytes()
    ends = line_ends(data)
    # Line 6 is SessionResumed (after start, message, command, execution, pause).
    assert b'"SessionResumed"' in data[ends[4] : ends[5]]
    _reset(home, sid, _flip(data, ends[4] + 3))
    result = repair_session(home, sid)
    events, _ = read_events(home.log_path(sid))
    (stand,) = [e for e in events if isinstance(e, LinesRemoved)]
    assert (stand.seq, stand.seqs, stand.state) == (5, 1, "active")
    assert stand.ts == events[4].ts  # the previous event's ts: time stays in order
    assert result.status == "completed" and [e.seq for e in events] == list(range(9))
    session = load_session(sid, home)
    assert session.status == "completed" and len(session.conversation_history) == 2


def test_lines_merged_by_a_flipped_newline_are_one_stand_in_for_two_seqs(home: Home) -> None:
    sid = _completed(home)
    data = home.log_path(sid).read_bytes()
    ends = line_ends(data)
    _reset(home, sid, _flip(data, ends[1] - 1))  # line 2's newline: lines 2 and 3 merge
    repair_session(home, sid)
    events, _ = read_events(home.log_path(sid))
    stand = events[1]
    assert isinstance(stand, LinesRemoved) and (stand.seq, stand.seqs) == (1, 2)
    assert events[2].seq == 3
    assert load_session(sid, home).last_seq == 8


def test_dry_run_changes_nothing_and_says_what_a_repair_would_do(home: Home) -> None:
    sid = _completed(home)
    data = home.log_path(sid).read_bytes()
    ends = line_ends(data)
    bad = _flip(data, ends[2] + 10) + b'{"torn'
    _reset(home, sid, bad)
    load_session(sid, home, skip_corrupt=True)
    before = sorted(os.listdir(home.path / "cache")) if (home.path / "cache").exists() else []
    dry = repair_session(home, sid, dry_run=True)
    assert home.log_path(sid).read_bytes() == bad
    assert not home.torn_dir.exists() or os.listdir(home.torn_dir) == []
    assert sorted(os.listdir(home.path / "cache")) == before
    assert dry.dry_run and not dry.changed and dry.bytes_before == len(bad)
    real = repair_session(home, sid)
    assert [(r.line, r.size, r.sha256, r.sidecar) for r in dry.removed] == [
        (r.line, r.size, r.sha256, r.sidecar) for r in real.removed
    ]
    assert [r.line for r in real.removed] == [4, 10]
    assert real.removed[1].problem.startswith("torn-tail")
    assert dry.events_written == real.events_written == [3, 9]
    assert dry.bytes_after == real.bytes_after == home.log_path(sid).stat().st_size


def test_a_live_session_is_refused(home: Home) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("live").session_id
    mgr.record_message({"role": "user", "content": "hi"})
    before = home.log_path(sid).read_bytes()
    for dry in (False, True):
        with pytest.raises(SessionLockedError):
            repair_session(home, sid, dry_run=dry)
    assert home.log_path(sid).read_bytes() == before
    mgr.close()


def test_a_torn_tail_still_behaves_as_before(home: Home) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("torn").session_id
    mgr.record_message({"role": "user", "content": "hi"})
    mgr.close()
    log = home.log_path(sid)
    with open(log, "ab") as f:
        f.write(b'{"type":"MessageRec')
    events, cursor = read_events(log)  # strict: tolerated, reported
    assert len(events) == 3 and cursor.torn is not None and cursor.torn.line == 4
    assert verify_session(home, sid).ok
    resumed = SessionManager(home)
    resumed.resume_session(sid)  # moves it aside itself, as before
    resumed.close()
    events, cursor = read_events(log)
    assert cursor.torn is None and events[3].repaired_bytes == 19  # type: ignore[union-attr]


def test_the_listing_and_loading_follow_a_repair(home: Home) -> None:
    sid = _completed(home)
    data = home.log_path(sid).read_bytes()
    _reset(home, sid, _flip(data, len(data) - 5))  # SessionEnded's crc
    (row,) = list_sessions(home)
    assert row.state == "damaged" and row.problems == 1
    snap = snapshot_path(home, sid)
    snap.parent.mkdir(parents=True, exist_ok=True)
    snap.write_bytes(b"stale")
    repair_session(home, sid)
    assert load_session(sid, home).last_seq == 8  # the stale snapshot is not used
    (row,) = list_sessions(home)
    assert (row.state, row.problems, row.last_seq) == ("crashed", 0, 8)


def test_junk_lines_that_held_no_seq_are_recorded_at_the_end(home: Home) -> None:
    sid = _completed(home)
    data = home.log_path(sid).read_bytes()
    ends = line_ends(data)
    bad = data[: ends[1]] + b"junk\n" + data[ends[1] :]
    _reset(home, sid, bad)
    result = repair_session(home, sid)
    events, _ = read_events(home.log_path(sid))
    stand = events[-1]
    assert isinstance(stand, LinesRemoved) and stand.seq == 9 and stand.state is None
    assert [r.line for r in stand.removed] == [3] and result.status == "completed"
    assert load_session(sid, home).status == "completed"  # appended after SessionEnded


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sets(st.integers(min_value=1, max_value=8), min_size=1), st.integers(0, 7))
def test_any_set_of_damaged_lines_repairs_to_a_strictly_readable_log(
    tmp_path_factory: pytest.TempPathFactory, damaged: set[int], bit: int
) -> None:
    home = Home(tmp_path_factory.mktemp("prop") / "home")
    sid = _completed(home)
    data = home.log_path(sid).read_bytes()
    ends = line_ends(data)
    full, _ = read_events(home.log_path(sid))
    bad = bytearray(data)
    for k in damaged:  # lines 2..9 (line 1 is the start); never a newline byte
        bad[ends[k - 1] + 2] ^= 1 << bit
    _reset(home, sid, bytes(bad))
    result = repair_session(home, sid)
    events, cursor = read_events(home.log_path(sid))
    assert cursor.issues == [] and cursor.torn is None
    kept = [e for i, e in enumerate(full) if i not in damaged]  # event k is on line k + 1
    assert [e for e in events if not isinstance(e, LinesRemoved)] == kept
    recorded = [r for s in events if isinstance(s, LinesRemoved) for r in s.removed]
    assert sorted(r.line for r in recorded) == sorted(r.line for r in result.removed)
    assert sum(r.lines for r in result.removed) == len(damaged)
    assert load_session(sid, home) == fold(events)
    assert not repair_session(home, sid).changed


class _FailingRename(Storage):
    """Fails the rename that would put the repaired log in place."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def fsync(self, fd: int) -> None:
        self.calls.append("fsync")
        super().fsync(fd)

    def fsync_dir(self, path: str | os.PathLike[str]) -> None:
        self.calls.append(f"fsync_dir {Path(path).name}")
        super().fsync_dir(path)

    def replace(self, src: str | os.PathLike[str], dst: str | os.PathLike[str], **kw: Any) -> None:
        self.calls.append("replace")
        raise OSError(errno.EIO, "Input/output error")


def test_a_failed_rewrite_leaves_the_old_log_whole(home: Home) -> None:
    sid = _completed(home)
    data = home.log_path(sid).read_bytes()
    bad = _flip(data, len(data) - 5)
    _reset(home, sid, bad)
    storage = _FailingRename()
    with pytest.raises(JournalIOError, match="repair failed"):
        repair_session(home, sid, storage=storage)
    assert home.log_path(sid).read_bytes() == bad
    assert [n for n in os.listdir(home.sessions_dir) if n.endswith(".tmp")] == []
    # The bad bytes were safe in torn/ (fsynced, and the directory too) before the rename.
    assert storage.calls[:3] == ["fsync", "fsync_dir torn", "fsync"]
    assert storage.calls[3] == "replace"
    repair_session(home, sid)  # a later repair still works (a second sidecar name)
    assert len(os.listdir(home.torn_dir)) == 2
    assert load_session(sid, home).status == "active"


def test_lines_split_across_read_chunks_repair_the_same(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = _completed(home)
    data = home.log_path(sid).read_bytes()
    ends = line_ends(data)
    bad = _flip(data, ends[3] + 7) + b'{"torn tail'
    _reset(home, sid, bad)
    whole = repair_session(home, sid, dry_run=True)
    monkeypatch.setattr(repair_module, "_CHUNK", 7)
    small = repair_session(home, sid, dry_run=True)
    assert small.removed == whole.removed and small.bytes_after == whole.bytes_after
    assert [(r.line, r.size) for r in small.removed] == [(5, ends[4] - ends[3]), (10, 11)]
    repair_session(home, sid)
    assert verify_session(home, sid).ok


def test_a_log_that_does_not_start_with_seq_0_is_refused(home: Home) -> None:
    sid = _completed(home)
    lines = home.log_path(sid).read_bytes().split(b"\n")
    _reset(home, sid, b"\n".join(lines[1:]))  # no SessionStarted: line 1 is seq 1
    with pytest.raises(CorruptLineError, match="cannot repair: line 1"):
        repair_session(home, sid)
    start = encode_event(
        SessionStarted(SCHEMA_VERSION, sid, 3, "2026-11-24T07:00:00.000000Z", project_name="p")
    )
    _reset(home, sid, start)
    with pytest.raises(CorruptLineError, match="seq 3, not 0"):
        repair_session(home, sid)
