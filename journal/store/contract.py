"""The behaviour every store backend must show: a test suite shipped with p8j.

Contract: `StoreContract` is a plain class of ``test_*`` methods over the seam
(base.py) only, so any backend, in p8j or not, reuses it::

    class TestMyStore(StoreContract):
        def create_store(self) -> SessionStore:
            return MyStore(...)            # fresh and empty for every test

pytest collects such a subclass (``setup_method``/``teardown_method``); with
unittest, mix in ``unittest.TestCase`` (``setUp``/``tearDown`` do the same).
`close_store` (a no-op by default) cleans up after each test. It covers
append and read-back, positions (monotonic, comparable, encodable), cursors
from a position, resolving ids, prefixes and ``latest``, one writer per
session, rewrites, removal, blobs, watching for new, appended and removed
sessions, record verification, that every error is a `P8jError`, and the
batched append (`BatchAppendContract`, contract_batch.py). Waits
are on the store's own notifications with a deadline, never on sleeps. It
needs no test framework at import time (checks raise AssertionError).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import msgspec

from ..codec import encode_event
from ..errors import (
    BlobMissingError,
    CorruptLineError,
    InvalidSessionIdError,
    JournalIOError,
    P8jError,
    RecordTooLargeError,
    SessionLockedError,
    SessionNotFoundError,
    StalePositionError,
)
from ..events import SCHEMA_VERSION, Event, MessageRecorded, SessionEnded, SessionStarted
from ..ids import new_session_id
from .base import Change, ChangeKind, Position, SessionStore, StoreWriter
from .contract_batch import BatchAppendContract
from .fs.blobs import BlobStore, offload_event

__all__ = ["StoreContract"]

_TS = "2026-01-01T00:00:00.000000Z"
WATCH_TIMEOUT_S = 10.0


def _check(ok: object, message: str) -> None:
    if not ok:
        raise AssertionError(message)


@contextlib.contextmanager
def _raises(kind: type[P8jError]) -> Iterator[None]:
    try:
        yield
    except kind:
        return
    except P8jError as exc:
        raise AssertionError(f"expected {kind.__name__}, got {type(exc).__name__}: {exc}") from exc
    raise AssertionError(f"expected {kind.__name__}, nothing was raised")


def start(sid: str, project: str = "proj") -> SessionStarted:
    """A SessionStarted event for `sid`."""
    return SessionStarted(SCHEMA_VERSION, sid, 0, _TS, project_name=project)


def message(sid: str, seq: int, content: Any = "hi") -> MessageRecorded:
    """A user message event."""
    return MessageRecorded(SCHEMA_VERSION, sid, seq, _TS, role="user", content=content)


class StoreContract(BatchAppendContract):
    """Tests every `SessionStore` must pass; subclass and override `create_store`."""

    store: SessionStore

    def create_store(self) -> SessionStore:
        """A fresh, empty store for one test (override)."""
        raise NotImplementedError("override create_store() to return the store under test")

    def close_store(self, store: SessionStore) -> None:
        """Clean up after a test (override if the store needs it)."""

    def setup_method(self, method: object = None) -> None:
        """pytest: a fresh store per test."""
        self.store = self.create_store()

    def teardown_method(self, method: object = None) -> None:
        """pytest: clean up the store."""
        self.close_store(self.store)

    def setUp(self) -> None:
        """unittest: a fresh store per test."""
        self.setup_method()

    def tearDown(self) -> None:
        """unittest: clean up the store."""
        self.teardown_method()

    # -- helpers -----------------------------------------------------------------------------

    def _session(self, messages: int = 2, *, keep_open: bool = False) -> tuple[str, StoreWriter]:
        sid = new_session_id()
        w = self.store.open_writer(sid, first=start(sid))
        for seq in range(1, messages + 1):
            w.append(message(sid, seq, f"m{seq}"))
        if not keep_open:
            w.close()
        return sid, w

    def _read(self, sid: str, **kw: Any) -> list[Any]:
        return list(self.store.open_cursor(sid, **kw).read())

    def _await(self, watch: Any, kind: ChangeKind, sid: str) -> None:
        deadline = time.monotonic() + WATCH_TIMEOUT_S
        seen: list[Change] = []
        while time.monotonic() < deadline:
            seen.extend(watch.wait(deadline - time.monotonic()))
            if Change(kind, sid) in seen:
                return
        raise AssertionError(f"no {kind} change for {sid} within {WATCH_TIMEOUT_S} s: {seen}")

    # -- listing and resolving ---------------------------------------------------------------

    def test_new_store_is_empty(self) -> None:
        _check(self.store.session_ids() == [], "a new store lists sessions")
        _check(list(self.store.entries()) == [], "a new store has entries")
        with _raises(SessionNotFoundError):
            self.store.resolve("latest")

    def test_entries_and_ids_list_every_session(self) -> None:
        sids = [self._session(1)[0] for _ in range(3)]
        _check(self.store.session_ids() == sorted(sids), "session_ids is not every id, sorted")
        entries = {e.session_id: e for e in self.store.entries()}
        _check(set(entries) == set(sids), "entries do not name every session")
        for sid in sids:
            head = entries[sid].head()
            _check(head == self.store.head(sid), "an entry's head is not the store's head")
            _check(head is not None and entries[sid].epoch == head.epoch, "entry epoch differs")
            _check(self.store.exists(sid), "exists() is False for a session")

    def test_resolve_full_prefix_latest_and_ambiguous(self) -> None:
        a = self._session(0)[0]
        b = self._session(0)[0]
        _check(self.store.resolve(a) == a, "a full id does not resolve to itself")
        _check(self.store.resolve("latest") == max(a, b), "latest is not the newest session")
        common = 0
        while a[common] == b[common]:
            common += 1
        _check(self.store.resolve(b[: common + 1]) == b, "a unique prefix does not resolve")
        try:
            self.store.resolve(a[:common])
        except SessionNotFoundError as exc:
            _check(set(exc.candidates) == {a, b}, f"ambiguous candidates: {exc.candidates}")
        else:
            raise AssertionError("an ambiguous prefix resolved")
        with _raises(SessionNotFoundError):
            self.store.resolve("ffffffff")
        with _raises(InvalidSessionIdError):
            self.store.resolve("../etc")

    # -- appending and reading ---------------------------------------------------------------

    def test_append_and_read_back(self) -> None:
        sid = new_session_id()
        sent: list[Event] = [start(sid), message(sid, 1, "hello"), message(sid, 2, [{"a": 1}])]
        w = self.store.open_writer(sid, first=sent[0])
        for ev in sent[1:]:
            line = w.append(ev)
            _check(line == encode_event(ev), "append does not return the encoded line")
        w.append(SessionEnded(SCHEMA_VERSION, sid, 3, _TS))
        w.close()
        got = self._read(sid)
        _check(got[:3] == sent, f"read back {got[:3]!r}, wrote {sent!r}")
        _check(type(got[3]) is SessionEnded and len(got) == 4, "the end was not read back")

    def test_positions_grow_compare_and_encode(self) -> None:
        sid = new_session_id()
        w = self.store.open_writer(sid, first=start(sid))  # the log appears with its start
        positions = [w.position]
        for seq in range(1, 4):
            w.append(message(sid, seq))
            positions.append(w.position)
        for a, b in itertools.pairwise(positions):
            _check(a < b and a.same_log(b), f"positions do not grow: {a} then {b}")
        _check(self.store.head(sid) == positions[-1], "head is not the writer's position")
        for p in positions:
            _check(Position.decode(p.encode()) == p, "a position does not survive encode")
            _check(msgspec.json.decode(msgspec.json.encode(p), type=Position) == p, "json")
        w.close()

    def test_cursor_resumes_from_a_position(self) -> None:
        sid, w = self._session(2, keep_open=True)
        first = self.store.open_cursor(sid)
        _check(len(list(first.read())) == 3, "three events were written")
        _check(first.position == self.store.head(sid), "a cursor read to the end is at head")
        w.append(message(sid, 3, "later"))
        more = list(first.read(final=False))
        _check([e.seq for e in more] == [3], f"the same cursor read {more!r} after an append")
        resumed = self.store.open_cursor(
            sid, position=first.position, line=first.line, next_seq=4, state=first.state
        )
        w.append(message(sid, 4, "later still"))
        tail = list(resumed.read())
        _check([e.seq for e in tail] == [4], f"a resumed cursor read {tail!r}")
        _check(resumed.position == w.position == self.store.head(sid), "resumed position")
        w.close()

    def test_bytes_read_counts_the_records_as_lines(self) -> None:
        sid, w = self._session(2, keep_open=True)
        cursor = self.store.open_cursor(sid)
        whole = sum(len(line) for _, line in cursor.read_with_lines())
        _check(cursor.bytes_read == whole, f"bytes_read {cursor.bytes_read} for {whole} bytes")
        later = w.append(message(sid, 3, "later"))
        list(cursor.read())
        _check(cursor.bytes_read == whole + len(later), "bytes_read after a resumed read")
        resumed = self.store.open_cursor(sid, position=cursor.position, next_seq=4, state="active")
        _check(resumed.bytes_read == 0, "a cursor made at a position has read nothing")
        w.append(message(sid, 4, "x" * 300))
        w.close()
        list(resumed.read())
        _check(resumed.bytes_read == len(encode_event(message(sid, 4, "x" * 300))), "resumed")

    def test_writer_last_record_check_and_fail(self) -> None:
        sid = new_session_id()
        first = start(sid)
        w = self.store.open_writer(sid, first=first)
        _check(w.last_record == encode_event(first), "last_record is not the first record")
        line = w.append(message(sid, 1))
        _check(w.last_record == line, "last_record is not the record appended last")
        w.check()  # the log is in place: no error
        _check(not w.failed, "a writer in good order says it failed")
        w.fail("told to")
        _check(w.failed, "fail() did not fail the writer")
        with _raises(JournalIOError):
            w.append(message(sid, 2))
        w.close()
        _check(len(self._read(sid)) == 2, "a failed writer appended")

    def test_read_with_lines_gives_each_record_as_stored(self) -> None:
        sid = new_session_id()
        sent: list[Event] = [start(sid), message(sid, 1, "one"), message(sid, 2, {"k": [1]})]
        w = self.store.open_writer(sid, first=sent[0])
        lines = [w.last_record] + [w.append(ev) for ev in sent[1:]]
        cursor = self.store.open_cursor(sid)
        pairs = list(cursor.read_with_lines())
        _check([e for e, _ in pairs] == sent, "read_with_lines does not give the events")
        _check([raw for _, raw in pairs] == lines, "read_with_lines does not give the records")
        w.append(message(sid, 3, "later"))
        w.close()
        more = list(cursor.read_with_lines())  # resumes where it stopped
        _check([e.seq for e, _ in more] == [3], f"resumed read gave {more!r}")
        _check(more[0][1] == encode_event(message(sid, 3, "later")), "resumed line differs")

    def test_record_cap_refuses_and_writes_nothing(self) -> None:
        sid, w = self._session(0, keep_open=True)
        before = w.position
        with _raises(RecordTooLargeError):
            w.append(message(sid, 1, "x" * 1000), limit=100)
        _check(w.position == before == self.store.head(sid), "a refused record moved the log")
        w.append(message(sid, 1, "small"))  # the seq is still free
        w.close()
        _check(len(self._read(sid)) == 2, "the log does not hold exactly start + one message")

    def test_repair_tail_at_the_end_moves_nothing(self) -> None:
        _, w = self._session(1, keep_open=True)
        _check(w.repair_tail(w.position) == 0, "repairing a clean log moved bytes")
        with _raises(StalePositionError):
            w.repair_tail(Position(w.position.epoch + 1, 0))
        w.close()

    def test_verification_names_a_bad_record(self) -> None:
        sid, _ = self._session(2)
        records = [encode_event(e)[:-1] for e in self._read(sid)]
        records[1] = b'{"not": "a record"}'
        self.store.rewrite(sid, records)
        try:
            self._read(sid)
        except CorruptLineError as exc:
            _check(exc.line == 2, f"the error names line {exc.line}, not 2")
        else:
            raise AssertionError("a bad record was read without an error")
        cursor = self.store.open_cursor(sid, skip_corrupt=True)
        _check([e.seq for e in cursor.read()] == [0, 2], "skipping did not skip one record")
        kinds = [(i.kind, i.line) for i in cursor.issues]
        _check(kinds == [("corrupt", 2), ("seq-gap", 3)], f"issues: {cursor.issues}")

    def test_blobs_round_trip_and_missing(self) -> None:
        blobs = self.store.blobs
        name = blobs.put(b"payload")
        _check(blobs.put(b"payload") == name and len(name) == 64, "blob names are not SHA-256")
        _check(blobs.get(name) == b"payload" and blobs.get(name, 7) == b"payload", "round trip")
        with _raises(BlobMissingError):
            blobs.get("0" * 64)
        with _raises(P8jError):
            blobs.get("not-a-name")

    def test_cursor_puts_blobs_back(self) -> None:
        sid, w = self._session(0, keep_open=True)
        big = message(sid, 1, "y" * 5000)
        w.append(offload_event(big, cast(BlobStore, self.store.blobs), 1000))
        w.close()
        got = self._read(sid)
        _check(got[1].content == "y" * 5000, "a blob was not put back")
        raw = self._read(sid, resolve_blobs=False)
        _check(raw[1].content != "y" * 5000 and raw[1].blobs, "resolve_blobs=False resolved")

    # -- one writer ----------------------------------------------------------------------------

    def test_one_writer_per_session(self) -> None:
        sid, w = self._session(1, keep_open=True)
        _check(self.store.holder(sid) is not None, "no holder while a writer is open")
        with _raises(SessionLockedError):
            self.store.open_writer(sid)
        w.close()
        w.close()  # idempotent
        _check(w.closed and self.store.holder(sid) is None, "the lease outlived close()")
        with _raises(JournalIOError):
            w.append(message(sid, 2))
        again = self.store.open_writer(sid)
        again.append(message(sid, 2))
        again.close()
        _check([e.seq for e in self._read(sid)] == [0, 1, 2], "a second writer's append is lost")

    def test_create_and_open_refuse_the_wrong_case(self) -> None:
        sid, _ = self._session(0)
        with _raises(JournalIOError):
            self.store.open_writer(sid, first=start(sid))
        with _raises(JournalIOError):
            self.store.open_writer(new_session_id())
        with _raises(InvalidSessionIdError):
            self.store.open_writer("../x", first=start("../x"))

    def test_discard_removes_a_failed_creation(self) -> None:
        sid = new_session_id()
        w = self.store.open_writer(sid, first=start(sid))
        w.discard()
        _check(not self.store.exists(sid) and sid not in self.store.session_ids(), "discard")
        _check(self.store.holder(sid) is None, "discard kept the lease")

    # -- rewriting and removing ----------------------------------------------------------------

    def test_rewrite_replaces_the_log_with_a_new_epoch(self) -> None:
        sid, _ = self._session(2)
        old = self.store.head(sid)
        before = self.store.open_cursor(sid)
        events = self._read(sid)
        renamed = [msgspec.structs.replace(events[0], project_name="renamed"), *events[1:]]
        new = self.store.rewrite(sid, (encode_event(e)[:-1] for e in renamed), expected=old)
        _check(not new.same_log(old) and new == self.store.head(sid), "rewrite kept the epoch")
        _check(self._read(sid) == renamed, "the rewritten log does not read back")
        with _raises(StalePositionError):
            self.store.open_cursor(sid, position=old)
        with _raises(StalePositionError):  # a cursor opened before the rewrite
            list(before.read())

    def test_rewrite_refuses_and_changes_nothing(self) -> None:
        sid, w = self._session(1, keep_open=True)
        with _raises(SessionLockedError):
            self.store.rewrite(sid, [])
        w.close()
        head = self.store.head(sid)
        with _raises(StalePositionError):
            self.store.rewrite(sid, [], expected=Position(head.epoch, head.offset + 1))

        def failing() -> Iterator[bytes]:
            yield b"{}"
            raise JournalIOError("the producer failed")

        with _raises(JournalIOError):
            self.store.rewrite(sid, failing())
        _check(self.store.head(sid) == head and len(self._read(sid)) == 2, "a failed rewrite")

    def test_remove(self) -> None:
        sid, w = self._session(0, keep_open=True)
        with _raises(SessionLockedError):
            self.store.remove(sid)
        w.close()
        self.store.remove(sid)
        _check(not self.store.exists(sid) and self.store.session_ids() == [], "still listed")
        with _raises(JournalIOError):
            self.store.head(sid)
        with _raises(JournalIOError):
            self.store.open_cursor(sid)
        with _raises(JournalIOError):
            self.store.remove(sid)

    # -- watching -------------------------------------------------------------------------------

    def test_watch_reports_new_appended_and_removed(self) -> None:
        watch = self.store.watch()
        try:
            sid, w = self._session(0, keep_open=True)
            self._await(watch, "created", sid)
            w.append(message(sid, 1))
            self._await(watch, "appended", sid)
            w.close()
            self.store.remove(sid)
            self._await(watch, "removed", sid)
        finally:
            watch.close()

    def test_watch_of_some_sessions_and_stop(self) -> None:
        mine, w = self._session(0, keep_open=True)
        stop = threading.Event()
        watch = self.store.watch([mine], stop=stop)
        try:
            other, _ = self._session(1)
            w.append(message(mine, 1))
            self._await(watch, "appended", mine)
            late = watch.wait(0)
            _check(all(c.session_id == mine for c in late), f"another session reported: {late}")
            stop.set()
            _check(watch.wait(WATCH_TIMEOUT_S) == [], "a stopped watch returned changes")
        finally:
            watch.close()
            w.close()
        _check(self.store.exists(other), "the other session is missing")

    # -- threads and errors ---------------------------------------------------------------------

    def test_sessions_written_from_threads(self) -> None:
        errors: list[BaseException] = []
        sids = [new_session_id() for _ in range(4)]

        def write(sid: str) -> None:
            try:
                w = self.store.open_writer(sid, first=start(sid))
                for seq in range(1, 51):
                    w.append(message(sid, seq))
                w.close()
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(s,)) for s in sids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WATCH_TIMEOUT_S)
        _check(not errors, f"writers failed: {errors}")
        for sid in sids:
            _check(len(self._read(sid)) == 51, f"session {sid} lost events")

    def test_errors_are_p8j_errors(self) -> None:
        missing = new_session_id()
        calls: list[Callable[[], object]] = [
            lambda: self.store.head(missing),
            lambda: self.store.open_cursor(missing),
            lambda: self.store.remove(missing),
            lambda: self.store.rewrite(missing, []),
            lambda: self.store.open_writer(missing),
            lambda: self.store.holder("not/an/id"),
            lambda: self.store.exists("not/an/id"),
            lambda: self.store.blobs.get("0" * 64),
        ]
        for call in calls:
            try:
                call()
            except P8jError:
                continue
            except Exception as exc:
                raise AssertionError(f"{type(exc).__name__} is not a P8jError: {exc}") from exc
            raise AssertionError(f"a call on a missing session raised nothing: {call}")
