"""Indexed and narrowed search give exactly the plain scan's results, on real agent logs."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import p8j.replay.search as search_module
from p8j.journal import Home, MessageRecorded, SessionManager
from p8j.journal.codec import decode_line, encode_event
from p8j.replay.search import SearchResult, search, update_search_index

from .search_corpus import real_logs, record_corpus, words

needs_realdata = pytest.mark.skipif(not real_logs(), reason="no real agent logs (../shared)")


def _damage(home: Home) -> None:
    """Add what the fast paths must hand back to the reader: bad lines, blobs, a torn tail."""
    mgr = SessionManager(home)
    corrupt = mgr.start_session("corrupt").session_id
    mgr.record_message({"role": "user", "content": "the corrupt session mentions Traceback"})
    mgr.record_message({"role": "assistant", "content": "and the word function"})
    mgr.end_session()
    path = home.log_path(corrupt)
    lines = path.read_bytes().split(b"\n")
    lines.insert(2, b'{"type":"MessageRecorded","content":"Traceback function","crc":"0"}')
    path.write_bytes(b"\n".join(lines))
    mgr.start_session("blob")
    big = "import os\n" + "x = 'function Traceback'\n" * 15000  # over the blob threshold
    mgr.record_message({"role": "assistant", "content": big})
    mgr.record_execution("pytest", output="Traceback (most recent call last)\n" * 9000)
    mgr.end_session()
    torn = mgr.start_session("torn").session_id
    mgr.record_message({"role": "user", "content": "a session that crashed mid-write: function"})
    mgr.close()
    with open(home.log_path(torn), "ab") as f:
        f.write(b'{"type":"MessageRecorded","content":"function Traceback')


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, list[str]]:
    home = Home(tmp_path_factory.mktemp("corpus") / "home")
    record_corpus(home)
    _damage(home)
    stats = update_search_index(home)
    assert stats is not None and stats.rows > 0
    return home, words(home)


def _same(a: SearchResult, b: SearchResult) -> None:
    assert a.hits == b.hits
    assert a.issues == b.issues
    assert a.errors == b.errors
    assert a.sessions_searched == b.sessions_searched


def _patterns(vocab: list[str], rnd: random.Random) -> tuple[str, bool]:
    w = rnd.choice(vocab)
    v = rnd.choice(vocab)
    mid = w[rnd.randrange(len(w) // 2) :][: rnd.randrange(3, 8)]
    shapes = [
        w,
        mid,
        f"{w[:3]}\\w+",
        f"{w}|{v}",
        f"(?:{mid})+.{{0,20}}{v[:3]}",
        f"\\b{w}\\b",
        w[:2] + "." + w[3:],
        f"{w}s?",
        f"[{w[0]}]{w[1:]}",
        f"(?i){w.upper()}",
        "".join(c.upper() if rnd.random() < 0.5 else c for c in w),
    ]
    return rnd.choice(shapes), rnd.random() < 0.3


@needs_realdata
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_indexed_equals_narrowed_equals_scan(corpus: tuple[Home, list[str]], seed: int) -> None:
    home, vocab = corpus
    pattern, ignore_case = _patterns(vocab, random.Random(seed))
    plain = search(home, pattern, ignore_case=ignore_case, narrow=False)
    narrowed = search(home, pattern, ignore_case=ignore_case, use_index=False)
    indexed = search(home, pattern, ignore_case=ignore_case)
    _same(plain, narrowed)
    _same(plain, indexed)


@needs_realdata
@pytest.mark.parametrize(
    ("pattern", "ignore_case"),
    [
        ("Traceback", False),
        ("function", True),
        ("ZebraQuokka", False),
        ("import (os|sys)", False),
        ("[0-9]{4}", False),  # no piece: every line is read
        ("Trace(back)?", False),
        ("image", True),  # a piece search itself adds to tool results ("[image]")
        ("KILL", True),  # only i, k, s, l: no case-insensitive piece
        ('"type"', False),  # JSON syntax in the pattern
    ],
)
def test_chosen_patterns(corpus: tuple[Home, list[str]], pattern: str, ignore_case: bool) -> None:
    home, _ = corpus
    plain = search(home, pattern, ignore_case=ignore_case, narrow=False)
    indexed = search(home, pattern, ignore_case=ignore_case)
    _same(plain, indexed)
    _same(plain, search(home, pattern, ignore_case=ignore_case, use_index=False))
    for limit in (1, 7):
        _same(
            search(home, pattern, ignore_case=ignore_case, narrow=False, limit=limit),
            search(home, pattern, ignore_case=ignore_case, limit=limit),
        )


@needs_realdata
def test_the_index_narrows_and_damage_is_read_by_the_reader(
    corpus: tuple[Home, list[str]],
) -> None:
    home, _ = corpus
    result = search(home, "Traceback")
    assert result.indexed_sessions > 0
    assert any(i.kind == "corrupt" for i in result.issues)  # the corrupt session, scanned
    assert any(h.field == "output" and h.matches == 9000 for h in result.hits)  # from a blob


def test_an_unindexed_tail_is_scanned(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    mgr = SessionManager(home)
    mgr.start_session("p")
    mgr.record_message({"role": "user", "content": "needle in the indexed part"})
    update_search_index(home)
    mgr.record_message({"role": "user", "content": "needle in the tail"})
    mgr.close()
    monkeypatch.setattr(search_module, "INDEX_UPDATE_MAX", 0)  # search may not update it
    indexed = search(home, "needle")
    assert indexed.indexed_sessions == 1
    assert [h.snippet for h in indexed.hits] == ["needle in the indexed part", "needle in the tail"]
    _same(search(home, "needle", narrow=False), indexed)
    monkeypatch.undo()
    search(home, "needle")  # now it may: the index catches up
    from p8j.journal.cache.search_index import index_status

    assert index_status(home).stale_sessions == 0


def test_search_works_without_a_writable_cache(home: Home, tmp_path: Path) -> None:
    mgr = SessionManager(home)
    mgr.start_session("p")
    mgr.record_message({"role": "user", "content": "needle"})
    mgr.end_session()
    update_search_index(home)
    db = home.cache_dir / "search.sqlite"
    db.write_bytes(b"garbage" * 1000)  # corrupt: ignored, the scan answers
    result = search(home, "needle", use_index=True)
    assert [h.snippet for h in result.hits] == ["needle"]
    assert json.dumps([h.seq for h in result.hits]) == "[1]"


def test_blob_lines_the_index_rules_out(home: Home) -> None:
    mgr = SessionManager(home)
    mgr.start_session("p")
    mgr.record_message({"role": "user", "content": "needle"})
    mgr.record_execution("make", output="long output line\n" * 20_000)  # in a blob
    mgr.end_session()
    update_search_index(home)
    indexed = search(home, "needle")
    assert indexed.indexed_sessions == 1 and [h.seq for h in indexed.hits] == [1]
    assert search(home, "output line").hits[0].matches == 20_000  # the blob's text is indexed
    for blob in home.blobs_dir.iterdir():
        blob.unlink()  # now the reader searches the placeholder and reports the loss
    for pattern in ("needle", "p8j-blob", "output line"):
        plain = search(home, pattern, narrow=False)
        _same(plain, search(home, pattern))
        _same(plain, search(home, pattern, use_index=False))
    assert [i.kind for i in search(home, "p8j-blob").issues] == ["missing-blob"]


def test_a_completed_log_rewritten_with_the_same_size_is_not_trusted(home: Home) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("p").session_id
    mgr.record_message({"role": "user", "content": "alpha beta"})
    mgr.end_session()
    update_search_index(home)
    path = home.log_path(sid)
    events = [decode_line(ln) for ln in path.read_bytes().split(b"\n") if ln]
    rewritten = [
        msgspec.structs.replace(e, content="gamma beta") if isinstance(e, MessageRecorded) else e
        for e in events
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(encode_event(e) for e in rewritten))  # type: ignore[arg-type]
    os.replace(tmp, path)  # a new inode, the same size: the catalog's sizes see no change
    found = search(home, "gamma")
    assert [h.snippet for h in found.hits] == ["gamma beta"] and found.indexed_sessions == 0
    _same(search(home, "alpha", narrow=False), search(home, "alpha"))
