"""The listing catalog: summaries equal a full fold; the cache is derived and read incrementally."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest
from journal_helpers import crc_line

from p8j.journal import (
    Home,
    MessageRecorded,
    SessionEnded,
    SessionManager,
    SessionStarted,
    SessionSummary,
)
from p8j.journal.cache import catalog, catalog_file, list_summaries
from p8j.journal.cache.catalog import title_of
from p8j.journal.codec import encode_event
from p8j.journal.store.fs import LogCursor
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

    monkeypatch.setattr("p8j.journal.cache.catalog.LogCursor", spy)
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
    data[data.index(b'"m2"') + 1] ^= 0x20  # a bit flip in line 4 (not in a cwd "...m2...")
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


class _CountingEntry:
    """A directory entry that records every stat made through it."""

    def __init__(self, entry: os.DirEntry[str], stats: list[str]) -> None:
        self._entry = entry
        self._stats = stats
        self.name = entry.name

    def inode(self) -> int:
        return self._entry.inode()

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        return self._entry.is_file(follow_symlinks=follow_symlinks)

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        self._stats.append(self.name)
        return self._entry.stat(follow_symlinks=follow_symlinks)


class _CountingScan:
    def __init__(self, path: Any, stats: list[str]) -> None:
        self._scan = _real_scandir(path)
        self._stats = stats

    def __enter__(self) -> _CountingScan:
        return self

    def __exit__(self, *exc: object) -> None:
        self._scan.close()

    def __iter__(self) -> Iterator[_CountingEntry]:
        return (_CountingEntry(entry, self._stats) for entry in self._scan)


_real_scandir = os.scandir


def _count_stats(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the logs the catalog stats from now on."""
    stats: list[str] = []
    monkeypatch.setattr(os, "scandir", lambda path: _CountingScan(path, stats))
    return stats


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Logs the catalog reads from now on."""
    reads: list[str] = []
    real = LogCursor

    def spy(path: Any, **kw: Any) -> Any:
        reads.append(os.path.basename(path))
        return real(path, **kw)

    monkeypatch.setattr("p8j.journal.cache.catalog.LogCursor", spy)
    return reads


def _completed(mgr: SessionManager, project: str, *messages: str) -> str:
    sid = mgr.start_session(project).session_id
    for text in messages:
        mgr.record_message({"role": "user", "content": text})
    mgr.end_session()
    return sid


def _replace_log(home: Home, sid: str, project: str, *messages: str) -> None:
    """Write a new completed log for `sid` and rename it over the old one, as p8j's rewriters do."""
    ts = format_ts(datetime.now(timezone.utc))
    events: list[Any] = [SessionStarted(1, sid, 0, ts, project_name=project)]
    events += [
        MessageRecorded(1, sid, i, ts, role="user", content=text)
        for i, text in enumerate(messages, 1)
    ]
    events.append(SessionEnded(1, sid, len(messages) + 1, ts))
    tmp = home.sessions_dir / f".{sid}.rewrite"
    tmp.write_bytes(b"".join(encode_event(e) for e in events))
    os.chmod(tmp, 0o600)
    os.replace(tmp, home.log_path(sid))


def test_a_completed_session_is_listed_without_a_stat(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    mgr = SessionManager(home)
    for i in range(3):
        _completed(mgr, f"done{i}", "hello")
    paused = mgr.start_session("paused").session_id
    mgr.record_message({"role": "user", "content": "later"})
    mgr.pause_session()
    mgr.close()
    first = list_summaries(home)  # writes the catalog
    stats = _count_stats(monkeypatch)
    reads = _count_reads(monkeypatch)
    assert list_summaries(home) == first
    # A completed log can never grow: its directory entry's inode is enough. A paused one can.
    assert stats == [f"{paused}.jsonl"]
    assert reads == []
    assert list_summaries(home, use_cache=False) == first


def test_a_completed_log_replaced_by_rename_is_read_again(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    mgr = SessionManager(home)
    sid = _completed(mgr, "orig", "my password is hunter2", "second", "third")
    other = _completed(mgr, "other", "untouched")
    mgr.close()
    before = {s.session_id: s for s in list_summaries(home)}
    assert before[sid].title == "my password is hunter2"
    _replace_log(home, sid, "orig", "my password is [REDACTED]", "second")
    reads = _count_reads(monkeypatch)
    after = {s.session_id: s for s in list_summaries(home)}
    assert reads == [f"{sid}.jsonl"]  # the new inode: read whole; the other log not at all
    assert after[sid].title == "my password is [REDACTED]"
    assert after[sid].message_count == 2
    assert after[sid].size_bytes == home.log_path(sid).stat().st_size
    assert after[other] == before[other]
    assert list(after.values()) == list_summaries(home, use_cache=False)
    reads.clear()
    assert list(after.values()) == list_summaries(home)  # the catalog kept the new version
    assert reads == []


def test_deleting_the_cache_changes_nothing_after_listings_without_stats(home: Home) -> None:
    sids = _populate(home)
    list_summaries(home)
    cached = list_summaries(home)  # completed sessions now come straight from the catalog
    assert [s.session_id for s in cached] == sids[::-1]
    (home.cache_dir / "catalog.msgpack").unlink()
    assert list_summaries(home) == cached
    assert list_summaries(home, use_cache=False) == cached
    for summary in cached:
        assert _view(summary) == _expected(home, summary.session_id)


def test_the_catalog_is_rewritten_only_when_it_pays(home: Home) -> None:
    mgr = SessionManager(home)
    for i in range(30):
        _completed(mgr, f"done{i}", f"task {i}")
    live = mgr.start_session("live").session_id
    mgr.record_message({"role": "user", "content": "first"})
    list_summaries(home)
    cache = home.cache_dir / "catalog.msgpack"
    written = cache.stat()

    def live_summary() -> SessionSummary:
        listed = list_summaries(home)
        assert listed == list_summaries(home, use_cache=False)
        return next(s for s in listed if s.session_id == live)

    assert live_summary().message_count == 1
    assert cache.stat().st_ino == written.st_ino  # nothing changed: not rewritten
    mgr.record_message({"role": "user", "content": "a little more"})
    assert live_summary().message_count == 2
    # A little growth of a live log: its new bytes are read, the catalog is kept.
    assert cache.stat().st_ino == written.st_ino
    mgr.record_message({"role": "user", "content": "x" * (written.st_size // 8)})
    assert live_summary().message_count == 3
    # Growth worth a rewrite: the catalog moves on, so later listings read less.
    rewritten = cache.stat()
    assert rewritten.st_ino != written.st_ino
    newer = _completed(mgr, "newer", "hi")
    assert list_summaries(home)[0].session_id == newer
    assert cache.stat().st_ino != rewritten.st_ino  # a new session: rewritten
    mgr.close()


def test_an_old_or_disordered_catalog_is_not_trusted(home: Home) -> None:
    mgr = SessionManager(home)
    for i in range(4):
        _completed(mgr, f"p{i}", "hi")
    mgr.close()
    first = list_summaries(home)
    cache = home.cache_dir / "catalog.msgpack"
    cat = catalog_file._DEC.decode(cache.read_bytes())
    cat.entries.reverse()
    cache.write_bytes(catalog_file._ENC.encode(cat))
    assert list_summaries(home) == first  # newest first whatever order the catalog holds
    # The previous layout (a map of id -> entry) with entries that would pass as fresh.
    stale = {
        s.session_id: [
            msgspec.to_builtins(msgspec.structs.replace(s, title="stale")),
            home.log_path(s.session_id).stat().st_ino,
            s.size_bytes,
            s.last_seq + 2,
            s.last_seq + 1,
            "completed",
        ]
        for s in first
    }
    cache.write_bytes(msgspec.msgpack.encode({"version": 1, "entries": stale}))
    assert list_summaries(home) == first  # an older layout is ignored and rebuilt


def _msg(seq: int, role: str, content: Any) -> Any:
    from p8j.journal import MessageRecorded

    return MessageRecorded(1, "s", seq, "2026-11-24T07:06:00.000000Z", role=role, content=content)


def test_a_session_starting_with_a_tool_result_still_gets_a_title() -> None:
    from p8j.journal import SessionStarted, SessionTitled

    start = SessionStarted(1, "s", 0, "2026-11-24T07:06:00.000000Z", project_name="p")
    result = [{"type": "tool_result", "tool_use_id": "t1", "content": "exit 0"}]
    answer = [{"type": "text", "text": "The tests pass now.\nDetails..."}]
    events = [start, _msg(1, "user", result), _msg(2, "assistant", answer)]
    assert catalog.summarize(events, "s").title == "The tests pass now."
    events.append(_msg(3, "user", "Now fix the docs"))
    assert catalog.summarize(events, "s").title == "Now fix the docs"  # a user text wins
    events.append(_msg(4, "user", "and more"))
    assert catalog.summarize(events, "s").title == "Now fix the docs"  # the first one
    titled = SessionTitled(1, "s", 5, "2026-11-24T07:06:00.000000Z", title="Docs")
    events += [titled, _msg(6, "user", "later")]
    assert catalog.summarize(events, "s").title == "Docs"
