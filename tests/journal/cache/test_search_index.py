"""The full-text search index: incremental, transactional, safe, and only ever a cache."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from p8j.journal import CommandRecorded, Home, MessageRecorded, SessionManager
from p8j.journal.cache.search_index import (
    INDEX_FILE,
    Need,
    fts_query,
    index_candidates,
    index_status,
)
from p8j.journal.cache.search_indexer import update_index
from p8j.journal.codec import decode_line, encode_event


def fields(event: Any) -> Iterator[tuple[str, str | None, str, list[str]]]:
    """A small field function: message strings and commands (search passes its own)."""
    if isinstance(event, MessageRecorded) and isinstance(event.content, str):
        yield "message", event.role, "content", [event.content]
    elif isinstance(event, CommandRecorded):
        yield "command", None, "command", [event.command]


def record(home: Home, texts: Iterable[str], *, end: bool = True) -> str:
    mgr = SessionManager(home)
    sid = mgr.start_session("p").session_id
    for text in texts:
        mgr.record_message({"role": "user", "content": text})
    if end:
        mgr.end_session()
    else:
        mgr.close()
    return sid


def lines_of(home: Home, sid: str, need: Need) -> list[bytes]:
    found = index_candidates(home, need)
    assert found is not None
    path = home.log_path(sid)
    data = path.read_bytes()
    return [data[off : off + n] for off, n in found[sid].lines]


def test_candidates_are_the_lines_holding_the_trigrams(home: Home) -> None:
    sid = record(home, ["the quick brown fox", "lazy dog", "QUICK again"])
    assert index_candidates(home, "quick") is None  # no index yet: the caller scans
    stats = update_index(home, fields)
    assert stats is not None and stats.updated_sessions == 1 and stats.rows == 3
    hits = lines_of(home, sid, "quick")
    assert len(hits) == 2 and b"quick brown" in hits[0] and b"QUICK again" in hits[1]
    assert lines_of(home, sid, "zebra") == []
    assert len(lines_of(home, sid, ("or", ("lazy", "brown")))) == 2
    assert len(lines_of(home, sid, ("and", ("quick", "again")))) == 1
    assert index_candidates(home, "ab") is None  # under 3 characters: nothing to narrow


def test_fts_query() -> None:
    assert fts_query("abcd") == '"abc" AND "bcd"'
    assert fts_query('a"bc') == '"a""b" AND """bc"'
    assert fts_query(("or", ("abc", "xy"))) is None
    assert fts_query(("and", ("abc", "xy"))) == '("abc")'
    assert fts_query(("or", ("abc", "def"))) == '("abc") OR ("def")'


def test_update_reads_only_what_was_appended(home: Home) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("p").session_id
    mgr.record_message({"role": "user", "content": "first words"})
    first = update_index(home, fields)
    assert first is not None and first.bytes_read == home.log_path(sid).stat().st_size
    size = home.log_path(sid).stat().st_size
    mgr.record_message({"role": "user", "content": "second words"})
    mgr.record_command("make words")
    second = update_index(home, fields)
    assert second is not None and second.updated_sessions == 1
    assert second.bytes_read == home.log_path(sid).stat().st_size - size
    assert second.rows == 2
    assert len(lines_of(home, sid, "words")) == 3
    again = update_index(home, fields)
    assert again is not None and again.updated_sessions == 0 and again.bytes_read == 0
    mgr.close()


def test_a_partial_last_line_waits_for_its_newline(home: Home) -> None:
    sid = record(home, ["complete line"], end=False)
    path = home.log_path(sid)
    size = path.stat().st_size
    with open(path, "ab") as f:
        f.write(b'{"type":"MessageRecorded","half')  # a writer mid-append
    update_index(home, fields)
    status = index_status(home)
    assert status.stale_sessions == 1 and status.behind_bytes == path.stat().st_size - size


def test_replaced_and_deleted_logs(home: Home) -> None:
    keep = record(home, ["alpha beta"])
    gone = record(home, ["alpha gamma"])
    update_index(home, fields)
    assert set(index_candidates(home, "alpha") or {}) == {keep, gone}
    # A rewrite (new inode, like `p8j redact`): re-read whole.
    path = home.log_path(keep)
    events = [decode_line(ln) for ln in path.read_bytes().split(b"\n") if ln]
    rewritten = [
        msgspec.structs.replace(e, content="omega beta") if isinstance(e, MessageRecorded) else e
        for e in events
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(encode_event(e) for e in rewritten))  # type: ignore[arg-type]
    os.replace(tmp, path)
    home.log_path(gone).unlink()
    stats = update_index(home, fields)
    assert stats is not None and stats.rebuilt and stats.dropped_sessions == 2
    assert stats.updated_sessions == 1
    found = index_candidates(home, "alpha")
    assert found is not None and set(found) == {keep} and found[keep].lines == []
    assert len(lines_of(home, keep, "omega")) == 1
    # Nothing of the text that left the logs stays in the index, not even its trigrams.
    conn = sqlite3.connect(home.cache_dir / INDEX_FILE)
    assert conn.execute("SELECT count(*) FROM fts WHERE fts MATCH '\"alp\"'").fetchone() == (0,)
    conn.close()


def test_a_session_with_a_bad_line_is_not_indexed(home: Home) -> None:
    sid = record(home, ["needle here", "more"])
    path = home.log_path(sid)
    lines = path.read_bytes().split(b"\n")
    lines.insert(2, b"{garbage")
    path.write_bytes(b"\n".join(lines))
    stats = update_index(home, fields)
    assert stats is not None and stats.rows == 0
    found = index_candidates(home, "needle")
    assert found is not None and sid not in found  # search reads it with the reader
    assert index_status(home).indexed_sessions == 1


def test_a_crash_mid_update_leaves_the_session_as_it_was(home: Home) -> None:
    sid = record(home, ["one apple", "two apples", "three apples"])

    def crashing(event: Any) -> Iterator[tuple[str, str | None, str, list[str]]]:
        if isinstance(event, MessageRecorded) and event.content == "three apples":
            raise KeyboardInterrupt  # the process dies here
        yield from fields(event)

    with pytest.raises(KeyboardInterrupt):
        update_index(home, crashing)
    status = index_status(home)
    assert status.exists and status.indexed_sessions == 0  # not recorded as done
    found = index_candidates(home, "apple")
    assert found is not None and found == {}
    update_index(home, fields)
    assert len(lines_of(home, sid, "apple")) == 3


def test_concurrent_updaters_and_readers(home: Home) -> None:
    ids = [record(home, [f"word{i} shared text {j}" for j in range(30)]) for i in range(6)]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            update_index(home, fields)
            index_candidates(home, "shared")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    found = index_candidates(home, "shared")
    assert found is not None and all(len(found[sid].lines) == 30 for sid in ids)
    conn = sqlite3.connect(home.cache_dir / INDEX_FILE)
    (rows,) = conn.execute("SELECT count(*) FROM rows").fetchone()
    conn.close()
    assert rows == 6 * 30  # every session indexed once, not once per updater


def test_a_corrupt_index_is_ignored_then_rebuilt(home: Home) -> None:
    sid = record(home, ["needle"])
    update_index(home, fields)
    db = home.cache_dir / INDEX_FILE
    db.write_bytes(b"this is not a database" * 100)
    assert index_candidates(home, "needle") is None
    assert not index_status(home).exists
    stats = update_index(home, fields)
    assert stats is not None and stats.updated_sessions == 1
    assert len(lines_of(home, sid, "needle")) == 1


def test_an_index_of_another_version_is_rebuilt(home: Home) -> None:
    record(home, ["needle"])
    update_index(home, fields)
    conn = sqlite3.connect(home.cache_dir / INDEX_FILE)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    assert index_candidates(home, "needle") is None
    stats = update_index(home, fields)
    assert stats is not None and stats.updated_sessions == 1


def test_a_symlinked_index_is_refused_and_replaced(home: Home, tmp_path: Path) -> None:
    sid = record(home, ["needle"])
    home.cache_dir.mkdir(exist_ok=True)
    target = tmp_path / "elsewhere.sqlite"
    target.write_bytes(b"precious")
    (home.cache_dir / INDEX_FILE).symlink_to(target)
    assert index_candidates(home, "needle") is None
    assert index_status(home).exists is False
    assert update_index(home, fields) is not None
    assert target.read_bytes() == b"precious"  # never written through the link
    assert not (home.cache_dir / INDEX_FILE).is_symlink()
    assert len(lines_of(home, sid, "needle")) == 1


def test_a_symlinked_cache_dir_is_not_used(home: Home, tmp_path: Path) -> None:
    record(home, ["needle"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home.cache_dir.rmdir() if home.cache_dir.exists() else None
    home.cache_dir.symlink_to(elsewhere)
    assert update_index(home, fields) is None
    assert list(elsewhere.iterdir()) == []


def test_index_file_mode_is_private(home: Home) -> None:
    record(home, ["needle"])
    update_index(home, fields)
    assert (home.cache_dir / INDEX_FILE).stat().st_mode & 0o077 == 0
