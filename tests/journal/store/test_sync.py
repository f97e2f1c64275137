"""`push_session` / `push_store`: verbatim, idempotent, incremental pushes between stores."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
from journal_helpers import crc_line
from sync_helpers import assert_same_store, raw_records, record_sessions

from p8j.journal import P8jError, SessionManager
from p8j.journal.codec import decode_line, frame
from p8j.journal.events import MessageRecorded
from p8j.journal.store import FileStore, MemoryStore, Position, SessionStore
from p8j.journal.store.sync import Mark, push_session, push_store

Factory = Callable[[], SessionStore]


@pytest.fixture(params=["file", "memory", "nats"])
def make_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """A factory of the target store (one store per test; NATS: a stream of its own)."""
    if request.param == "memory":
        memory = MemoryStore()
        yield lambda: memory
    elif request.param == "file":
        yield lambda: FileStore(tmp_path / "target")
    else:
        from p8j.journal.store.nats import NatsStore

        nats = NatsStore(request.getfixturevalue("nats_url"))
        try:
            yield lambda: nats
        finally:
            nats.close()


@pytest.fixture
def source(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "source")


def test_push_copies_every_session_verbatim_with_blobs(
    source: FileStore, make_target: Factory
) -> None:
    ids = record_sessions(source)
    target = make_target()
    report = push_store(source, target)
    assert [s.session_id for s in report.sessions] == ids
    assert all(s.status == "copied" and s.created for s in report.sessions)
    assert report.events == sum(len(raw_records(source, sid)) for sid in ids)
    assert report.blobs > 0 and report.ok
    assert_same_store(source, target)
    for sid in ids:  # the lease is given back
        assert target.holder(sid) is None


def test_second_push_copies_nothing_with_or_without_marks(
    source: FileStore, make_target: Factory
) -> None:
    record_sessions(source)
    target = make_target()
    marks: dict[str, Mark] = {}
    push_store(source, target, marks)
    before = {sid: raw_records(target, sid) for sid in target.session_ids()}
    for again in (push_store(source, target, marks), push_store(source, target)):
        assert again.events == 0 and again.blobs == 0
        assert {s.status for s in again.sessions} == {"up-to-date"}
    assert {sid: raw_records(target, sid) for sid in target.session_ids()} == before


def test_a_marked_session_is_skipped_without_reading_either_log(
    source: FileStore, make_target: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_sessions(source, n=2)
    target = make_target()
    marks: dict[str, Mark] = {}
    push_store(source, target, marks)

    def no_reading(*a: object, **k: object) -> None:
        raise AssertionError("a log was read")

    monkeypatch.setattr(type(source), "open_cursor", no_reading)
    monkeypatch.setattr(type(target), "open_cursor", no_reading)
    report = push_store(source, target, marks)
    assert {s.status for s in report.sessions} == {"up-to-date"}


@pytest.mark.parametrize("use_marks", [True, False])
def test_a_grown_session_sends_only_its_new_events(
    source: FileStore, make_target: Factory, use_marks: bool
) -> None:
    sid = record_sessions(source, n=1)[0]
    target = make_target()
    marks: dict[str, Mark] = {}
    push_store(source, target, marks)
    mgr = SessionManager(store=source)
    mgr.resume_session(sid)
    mgr.record_message({"role": "user", "content": "more"})
    mgr.end_session()
    report = push_store(source, target, marks if use_marks else None)
    assert [(s.status, s.events, s.created) for s in report.sessions] == [("copied", 3, False)]
    assert_same_store(source, target)


def test_a_diverged_target_is_reported_and_left_alone(
    source: FileStore, make_target: Factory
) -> None:
    sid = record_sessions(source, n=1)[0]
    target = make_target()
    marks: dict[str, Mark] = {}
    push_store(source, target, marks)
    mgr = SessionManager(store=source)
    mgr.resume_session(sid)
    mgr.record_message({"role": "user", "content": "from the laptop"})
    mgr.pause_session()
    other = SessionManager(store=target)
    other.resume_session(sid)  # another machine went on with the same session
    other.record_message({"role": "user", "content": "from elsewhere"})
    other.pause_session()
    before = raw_records(target, sid)
    for m in (marks, None):
        report = push_store(source, target, m)
        (push,) = report.sessions
        assert push.status == "diverged" and not report.ok
        assert push.seq == len(before) - 3  # the SessionResumed both sides wrote differently
        assert push.events == 0
        assert raw_records(target, sid) == before


def test_a_target_with_more_records_than_the_source_has_diverged(
    source: FileStore, make_target: Factory
) -> None:
    sid = record_sessions(source, n=1)[0]
    target = make_target()
    push_store(source, target)
    n = len(raw_records(source, sid))
    mgr = SessionManager(store=target)
    mgr.resume_session(sid)
    mgr.pause_session()
    (push,) = push_store(source, target).sessions
    assert (push.status, push.seq) == ("diverged", n)


def test_a_stale_mark_falls_back_to_comparing(source: FileStore, make_target: Factory) -> None:
    sid = record_sessions(source, n=1)[0]
    target = make_target()
    marks: dict[str, Mark] = {}
    push_store(source, target, marks)
    good = marks[sid]
    moved = Position(good.target.epoch, good.target.offset + 1)
    marks[sid] = Mark(good.source, moved, good.line, good.next_seq, good.state)
    (push,) = push_store(source, target, marks).sessions
    assert (push.status, push.events) == ("up-to-date", 0)
    assert marks[sid] == good


def test_a_torn_source_tail_is_not_pushed(source: FileStore, make_target: Factory) -> None:
    sid = record_sessions(source, n=1)[0]
    whole = raw_records(source, sid)
    last = decode_line(whole[-1][:-1])
    half = crc_line(
        {"type": "MessageRecorded", "v": 1, "session_id": sid, "seq": last.seq + 1, "ts": last.ts}
    )
    with open(source.home.log_path(sid), "ab") as f:
        f.write(half[: len(half) // 2])
    target = make_target()
    report = push_store(source, target)
    assert report.ok and raw_records(target, sid) == whole


def test_a_record_that_would_not_round_trip_is_not_pushed(
    source: FileStore, make_target: Factory
) -> None:
    mgr = SessionManager(store=source)
    sid = mgr.start_session("p").session_id
    mgr.record_message({"role": "user", "content": "fine"})
    last = decode_line(raw_records(source, sid)[-1][:-1])
    fields = {"v": 1, "session_id": sid, "seq": last.seq + 1, "ts": last.ts}
    body = msgspec.json.encode({"type": "MessageRecorded", **fields, "role": "user"})
    odd = frame(body[:-1] + b',"content":"caf\\u00e9"}')  # JSON escapes p8j never writes
    assert isinstance(decode_line(odd[:-1]), MessageRecorded)
    with open(source.home.log_path(sid), "ab") as f:
        f.write(odd)
    target = make_target()
    (push,) = push_store(source, target).sessions
    assert push.status == "diverged", push.message
    assert push.seq == last.seq + 1
    assert "byte for byte" in push.message
    assert push.created and push.events == last.seq + 1  # what went before it did go
    assert raw_records(target, sid) == raw_records(source, sid)[:-1]
    with contextlib.suppress(P8jError):
        mgr.close()  # its writer finds a line it did not write


def test_a_target_session_held_by_a_writer_is_busy_then_pushed_later(
    source: FileStore, make_target: Factory
) -> None:
    sid = record_sessions(source, n=1)[0]
    target = make_target()
    push_store(source, target)
    mgr = SessionManager(store=source)
    mgr.resume_session(sid)
    mgr.pause_session()
    writer = target.open_writer(sid)
    try:
        (push,) = push_store(source, target).sessions
        assert push.status == "busy" and push.events == 0
    finally:
        writer.close()
    (push,) = push_store(source, target).sessions
    assert (push.status, push.events) == ("copied", 2)
    assert_same_store(source, target)


def test_push_session_reports_a_corrupt_source_record(
    source: FileStore, make_target: Factory
) -> None:
    sid = record_sessions(source, n=1, events=1)[0]
    good = raw_records(source, sid)
    with open(source.home.log_path(sid), "ab") as f:
        f.write(b'{"type":"MessageRecorded","crc":"00000000"}\n')
    target = make_target()
    push, mark = push_session(source, target, sid)
    assert push.status == "failed" and mark is None
    assert "checksum" in push.message
    assert raw_records(target, sid) == good


@pytest.mark.parametrize("use_marks", [True, False])
def test_nothing_to_copy_takes_no_lease_on_the_target(
    source: FileStore, make_target: Factory, use_marks: bool
) -> None:
    sid = record_sessions(source, n=1)[0]
    target = make_target()
    marks: dict[str, Mark] = {}
    push_store(source, target, marks)
    writer = target.open_writer(sid)  # someone holds it on the target: sync need not
    try:
        (push,) = push_store(source, target, marks if use_marks else None).sessions
        assert push.status == "up-to-date"
    finally:
        writer.close()


def test_push_appends_in_batches_with_each_batchs_blobs_first(
    source: FileStore, make_target: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records go through `append_many` (BATCH_EVENTS at a time), never one `append` each."""
    ids = record_sessions(source, n=2, events=6)
    target = make_target()
    monkeypatch.setattr("p8j.journal.store.sync.BATCH_EVENTS", 4)
    real_open = type(target).open_writer
    batches: list[int] = []

    def open_writer(self: SessionStore, sid: str, **kw: object) -> object:
        writer = real_open(self, sid, **kw)  # type: ignore[arg-type]
        real_many = writer.append_many

        def append_many(events: list[MessageRecorded], limit: int = 0) -> list[bytes]:
            for ev in events:  # the blobs a batch refers to are in the target before it
                for ref in getattr(ev, "blobs", None) or []:
                    assert target.blobs.get(ref.sha256, ref.size)
            batches.append(len(events))
            return real_many(events, limit)

        def no_single(*a: object, **k: object) -> None:
            raise AssertionError("a record was appended on its own")

        monkeypatch.setattr(writer, "append_many", append_many)
        monkeypatch.setattr(writer, "append", no_single)
        return writer

    monkeypatch.setattr(type(target), "open_writer", open_writer)
    report = push_store(source, target)
    assert report.ok and report.events == sum(len(raw_records(source, sid)) for sid in ids)
    # Per session: its start creates the log, the rest go 4 at a time.
    per_session = [len(raw_records(source, sid)) - 1 for sid in ids]
    assert batches == [min(4, n - k) for n in per_session for k in range(0, n, 4)]
    assert_same_store(source, target)
