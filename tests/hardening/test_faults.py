"""ENOSPC and EIO at every write and sync of a session's life: nothing false is acknowledged."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from p8j.journal import Home, JournalIOError, P8jError, SessionManager, SessionStateError
from p8j.journal.store.fs import read_events
from p8j.journal.store.fs.writer import Durability
from p8j.replay import load_session

from .storages import FaultyStorage

BIG = "x" * (300 * 1024)  # over the blob threshold: the blob path is part of the life


def _life(mgr: SessionManager, sid_box: list[str], acks: list[tuple[int, str]]) -> list[str]:
    """A session's life; returns what failed. `acks` gets (seq, kind) of every success."""
    failures: list[str] = []
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("message", lambda: mgr.record_message({"role": "user", "content": "hello"})),
        ("command", lambda: mgr.record_command("ls -la")),
        ("execution", lambda: mgr.record_execution("make", 0, BIG)),
        ("message", lambda: mgr.record_message({"role": "assistant", "content": [{"t": 1}]})),
        ("metadata", lambda: mgr.update_metadata(step=5)),
        ("pause", lambda: mgr.pause_session()),
        ("resume", lambda: mgr.resume_session(sid_box[0])),
        ("message", lambda: mgr.record_message({"role": "user", "content": "again"})),
        ("execution", lambda: mgr.record_execution("true", 0, "ok")),
        ("save", lambda: mgr.save_session()),
        ("message", lambda: mgr.record_message({"role": "user", "content": "last"})),
        ("end", lambda: mgr.end_session()),
    ]
    for kind, step in steps:
        session = mgr.current_session
        try:
            result = step()
        except (JournalIOError, SessionStateError) as exc:
            failures.append(f"{kind}: {exc}")
            if isinstance(exc, JournalIOError) and kind in ("message", "command", "execution"):
                writer = mgr._writer
                if writer is not None and writer.failed:
                    # After a failed fsync the writer takes nothing more until reopened.
                    with pytest.raises(JournalIOError, match="stopped accepting writes"):
                        mgr.record_command("refused")
            continue
        if isinstance(result, int):
            acks.append((result, kind))
        elif session is not None and kind in ("pause", "end", "resume"):
            assert mgr.current_session is not None
            acks.append((mgr.current_session.last_seq, kind))
    return failures


def _run(home: Home, durability: Durability, storage: FaultyStorage) -> dict[str, Any]:
    acks: list[tuple[int, str]] = []
    mgr = SessionManager(home, durability=durability, storage=storage, batch_max_events=2)
    try:
        sid = mgr.start_session("faults").session_id
    except JournalIOError as exc:
        # A start that failed leaves no session behind (nothing was acknowledged).
        assert home.session_ids() == [], exc
        mgr.close()
        return {"started": False, "failed": storage.failed}
    acks.append((0, "start"))
    box = [sid]
    failures = _life(mgr, box, acks)
    with contextlib.suppress(P8jError):
        mgr.close()
    # Reopen (as the user would after freeing space) and finish the session.
    if load_session(sid, home).status != "completed":
        final = SessionManager(home, storage=FaultyStorage())
        final.resume_session(sid)
        final.end_session()
        final.close()
    events, cursor = read_events(home.log_path(sid), session_id=sid)
    seqs = [e.seq for e in events]
    assert seqs == list(range(len(seqs))), "a gap in the log"
    assert cursor.issues == [] and cursor.torn is None
    kinds = {e.seq: type(e).__name__ for e in events}
    for seq, kind in acks:
        assert seq in kinds, f"acknowledged {kind} seq {seq} is not in the file"
    return {"started": True, "failed": storage.failed, "failures": failures, "acks": acks}


def _clean_calls(tmp_path: Path, durability: Durability) -> int:
    storage = FaultyStorage()
    _run(Home(tmp_path / f"clean-{durability}"), durability, storage)
    return storage.calls


@pytest.mark.parametrize("durability", ["default", "fsync", "batch"])
@pytest.mark.parametrize(
    "fault", ["ENOSPC", "EIO", "short"], ids=["enospc", "eio", "short-write-then-enospc"]
)
def test_a_fault_at_every_call_never_loses_an_acknowledged_event(
    tmp_path: Path, durability: Durability, fault: str
) -> None:
    total = _clean_calls(tmp_path, durability)
    assert total > 20
    hit: set[str] = set()
    for k in range(1, total + 3):
        err = errno.EIO if fault == "EIO" else errno.ENOSPC
        storage = FaultyStorage(k, err, short=fault == "short")
        outcome = _run(Home(tmp_path / f"k{k}"), durability, storage)
        if outcome["failed"]:
            hit.add(outcome["failed"])
    expected = {"open", "write", "fsync", "replace", "fsync_dir"}
    if durability != "default":
        expected.add("fdatasync")
    assert expected <= hit, hit  # every kind of call was made to fail somewhere


def test_after_a_failed_fsync_nothing_more_is_accepted_until_reopened(home: Home) -> None:
    storage = FaultyStorage()
    mgr = SessionManager(home, durability="fsync", storage=storage)
    sid = mgr.start_session("eio").session_id
    mgr.record_message({"role": "user", "content": "one"})
    storage.fail_at = storage.calls + 2  # the fdatasync after the next write
    storage.err = errno.EIO
    size = home.log_path(sid).stat().st_size
    with pytest.raises(JournalIOError, match="fdatasync failed"):
        mgr.record_message({"role": "user", "content": "two"})
    grown = home.log_path(sid).stat().st_size
    assert grown > size  # the line is in the file; it was not acknowledged as durable
    for _ in range(3):
        with pytest.raises(JournalIOError, match="stopped accepting writes"):
            mgr.record_message({"role": "user", "content": "three"})
    assert home.log_path(sid).stat().st_size == grown  # nothing was written meanwhile
    mgr.close()
    again = SessionManager(home, durability="fsync")
    again.resume_session(sid)  # reopening is the way on
    assert again.record_message({"role": "user", "content": "three"}) == 4
    again.end_session()
    events, cursor = read_events(home.log_path(sid))
    assert [e.seq for e in events] == list(range(6)) and cursor.torn is None
