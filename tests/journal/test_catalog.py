"""The listing catalog: summaries equal a full fold; the cache is derived and read incrementally."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest
from journal_helpers import crc_line

from p8j.journal import (
    Home,
    LogCursor,
    SessionManager,
    SessionSummary,
    list_summaries,
)
from p8j.journal.catalog import title_of
from p8j.journal.timefmt import format_ts
from p8j.replay import load_session


def _populate(home: Home) -> list[str]:
    """Sessions in every state: completed, paused, active, crashed with a torn tail, odd ones."""
    mgr = SessionManager(home)
    sids = []
    s = mgr.start_session("done", {"model": "m-1"})
    mgr.record_message({"role": "system", "content": "be brief"})
    mgr.record_message(
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": "\n  Fix the bug\nplease"}],
        }
    )
    mgr.record_command("pytest")
    mgr.record_execution("pytest", 1, "1 failed", 2.5)
    mgr.update_metadata(branch="main")
    mgr.end_session("finished")
    sids.append(s.session_id)
    s = mgr.start_session("paused")
    mgr.record_message({"role": "user", "content": "x" * 500})
    mgr.pause_session()
    sids.append(s.session_id)
    s = mgr.start_session("crashed")
    mgr.record_command("make")
    sids.append(s.session_id)
    writer = mgr._writer  # the writer dies: no pause, half a line
    assert writer is not None
    writer.close(sync=False)
    with open(home.log_path(s.session_id), "ab") as f:
        f.write(b'{"type":"MessageRec')
    mgr = SessionManager(home)
    s = mgr.start_session("newer")
    mgr.pause_session()
    stamp = format_ts(s.start_time)
    with open(home.log_path(s.session_id), "ab") as f:  # an event type from a newer p8j
        f.write(
            crc_line({"type": "Future", "v": 2, "session_id": s.session_id, "seq": 2, "ts": stamp})
        )
    sids.append(s.session_id)
    mgr.close()
    return sids


def _expected(home: Home, sid: str) -> dict[str, Any]:
    s = load_session(sid, home, skip_corrupt=True)
    title = ""
    for m in s.conversation_history:
        if m["role"] == "user":
            title = title_of(m.get("content"))
            break
    return {
        "session_id": sid,
        "project_name": s.project_name,
        "status": s.status,
        "start_time": format_ts(s.start_time),
        "end_time": None if s.end_time is None else format_ts(s.end_time),
        "last_activity": None if s.last_event_time is None else format_ts(s.last_event_time),
        "message_count": len(s.conversation_history),
        "command_count": len(s.command_history),
        "execution_count": len(s.execution_histories),
        "title": title,
        "last_seq": s.last_seq,
        "metadata": s.metadata,
        "size_bytes": home.log_path(sid).stat().st_size,
    }


def _view(summary: SessionSummary) -> dict[str, Any]:
    keys = [
        "session_id",
        "project_name",
        "status",
        "start_time",
        "end_time",
        "last_activity",
        "message_count",
        "command_count",
        "execution_count",
        "title",
        "last_seq",
        "metadata",
        "size_bytes",
    ]
    return {k: getattr(summary, k) for k in keys}


def test_summaries_match_a_full_fold(home: Home) -> None:
    sids = _populate(home)
    listed = list_summaries(home)
    assert [s.session_id for s in listed] == sids[::-1]
    for summary in listed:
        assert _view(summary) == _expected(home, summary.session_id)
    done = listed[-1]
    assert done.title == "Fix the bug" and done.status == "completed"
    assert all(s.problems == 0 for s in listed)


def test_deleting_or_corrupting_the_cache_changes_nothing(home: Home) -> None:
    _populate(home)
    first = list_summaries(home)
    cache = home.cache_dir / "catalog.msgpack"
    assert cache.is_file()
    assert list_summaries(home) == first  # from the cache
    cache.unlink()
    assert list_summaries(home) == first
    assert list_summaries(home, use_cache=False) == first
    good = cache.read_bytes()
    for junk in (b"", b"\x00" * 100, good[: len(good) // 2], good[:-1] + b"\xff", b"\x92\x02\x80"):
        cache.write_bytes(junk)
        assert list_summaries(home) == first
    shutil.rmtree(home.cache_dir)
    assert list_summaries(home) == first  # even without the cache directory


def test_a_grown_log_is_read_from_where_the_cache_left_off(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("grow").session_id
    for i in range(20):
        mgr.record_message({"role": "user", "content": f"m{i}"})
    list_summaries(home)
    covered = home.log_path(sid).stat().st_size
    starts: list[int] = []
    real = LogCursor

    def spy(path: Any, **kw: Any) -> Any:
        starts.append(kw.get("offset", 0))
        return real(path, **kw)

    monkeypatch.setattr("p8j.journal.catalog.LogCursor", spy)
    assert list_summaries(home)[0].message_count == 20
    assert starts == []  # unchanged: one stat, no read
    mgr.record_command("make")
    mgr.record_message({"role": "user", "content": "more"})
    grown = list_summaries(home)[0]
    assert starts == [covered]  # only the new bytes were read
    assert _view(grown) == _expected(home, sid)
    assert grown == list_summaries(home, use_cache=False)[0]
    mgr.close()


def test_a_replaced_or_shrunk_log_is_read_again(home: Home) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("replace").session_id
    for i in range(5):
        mgr.record_message({"role": "user", "content": f"m{i}"})
    mgr.pause_session()
    path = home.log_path(sid)
    data = path.read_bytes()
    list_summaries(home)
    # Replaced by a different file (new inode) holding fewer records.
    lines = data.split(b"\n")
    tmp = path.with_name("tmp")
    tmp.write_bytes(b"\n".join(lines[:3]) + b"\n")
    os.replace(tmp, path)
    assert _view(list_summaries(home)[0]) == _expected(home, sid)
    # Shrunk in place.
    with open(path, "r+b") as f:
        f.truncate(len(lines[0]) + 1)
    assert _view(list_summaries(home)[0]) == _expected(home, sid)


def test_a_corrupt_log_still_lists_and_counts_its_problems(home: Home) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("corrupt").session_id
    for i in range(5):
        mgr.record_message({"role": "user", "content": f"m{i}"})
    mgr.pause_session()
    path = home.log_path(sid)
    data = bytearray(path.read_bytes())
    data[data.index(b"m2")] ^= 0x20  # a bit flip in line 4
    path.write_bytes(bytes(data))
    [summary] = list_summaries(home)
    assert summary.problems >= 1
    assert summary.message_count == 4
    assert summary.status == "paused"


def test_deleted_sessions_drop_out(home: Home) -> None:
    sids = _populate(home)
    list_summaries(home)
    home.log_path(sids[0]).unlink()
    assert [s.session_id for s in list_summaries(home)] == sids[:0:-1]
