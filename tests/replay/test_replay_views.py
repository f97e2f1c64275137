"""Export (Markdown, snapshot), search and verify as library calls."""

from __future__ import annotations

import json
import os
import re

import pytest

from p8j.journal import Home, SessionManager, SessionNotFoundError, UnsafePathError
from p8j.replay.export import markdown, read_session_events, snapshot_json
from p8j.replay.info import journal_info
from p8j.replay.load import load_session
from p8j.replay.search import search, snippet
from p8j.replay.verify import verify_session, verify_sessions


def _session(home: Home) -> str:
    mgr = SessionManager(home)
    s = mgr.start_session("views", {"k": "v"})
    mgr.record_message({"role": "user", "content": "Show me ```code``` and ````more````"})
    mgr.record_message(
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "echo ```"}},
            ],
        }
    )
    mgr.record_message(
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "````"}],
        }
    )
    mgr.record_execution("make", 2, "error: \x1b[31mboom\x1b[0m", 3.0)
    mgr.pause_session("lunch")
    mgr.resume_session(s.session_id)
    mgr.end_session("done")
    return s.session_id


def test_markdown_fences_outgrow_the_content(rhome: Home) -> None:
    sid = _session(rhome)
    events, report = read_session_events(rhome, sid)
    assert report.events == len(events) == 8
    md = "".join(markdown(events))
    assert "`````json" in md or "````json" in md
    assert "`````text\n````\n`````" in md
    assert "error: \\x1b[31mboom\\x1b[0m" in md and "\x1b" not in md
    assert "*" in md and "session paused: lunch" in md and "session ended: done" in md
    assert '| Metadata | `{"k":"v"}` |' in md


def test_read_session_events_bounds(rhome: Home) -> None:
    sid = _session(rhome)
    events, _ = read_session_events(rhome, sid[:13], upto_seq=2)
    assert [e.seq for e in events] == [0, 1, 2]
    with pytest.raises(SessionNotFoundError):
        read_session_events(rhome, "ffffffff")


def test_snapshot_json_round_trips(rhome: Home) -> None:
    sid = _session(rhome)
    session = load_session(sid, rhome)
    assert json.loads(snapshot_json(session)) == json.loads(json.dumps(session.to_dict()))


def test_snippet() -> None:
    text = "line one\n" + "a" * 100 + "NEEDLE" + "b" * 100 + "\nlast"
    start = text.index("NEEDLE")
    cut, s, e = snippet(text, start, start + 6, context=10)
    assert cut[s:e] == "NEEDLE" and cut.startswith("…") and cut.endswith("…")
    short, s2, e2 = snippet("x NEEDLE y", 2, 8)
    assert (short, s2, e2) == ("x NEEDLE y", 2, 8)
    lines, s3, e3 = snippet("before\nthe NEEDLE\nafter", 11, 17)
    assert lines == "…the NEEDLE…" and lines[s3:e3] == "NEEDLE"


def test_search_library(rhome: Home) -> None:
    sid = _session(rhome)
    result = search(rhome, re.compile("boom"))
    assert [(h.kind, h.field, h.seq) for h in result.hits] == [("execution", "output", 4)]
    assert search(rhome, re.compile("echo"), kinds=["message"]).hits[0].role == "assistant"
    assert search(rhome, re.compile("code"), roles=["assistant"]).hits == []
    assert search(rhome, re.compile("."), limit=2).sessions_searched == 1
    assert len(search(rhome, re.compile("."), limit=2).hits) == 2
    assert search(rhome, re.compile("."), session_ids=["nope"]).sessions_searched == 0
    assert sid


def test_verify_library(rhome: Home, tmp_path: object) -> None:
    sid = _session(rhome)
    report = verify_session(rhome, sid)
    assert report.ok and report.events == 8 and report.last_seq == 7 and report.state == "completed"
    path = rhome.log_path(sid)
    target = rhome.path / "elsewhere.jsonl"
    os.replace(path, target)
    os.symlink(target, path)
    unsafe = verify_session(rhome, sid)
    assert not unsafe.ok and unsafe.errors[0].kind == "unreadable"
    assert "symlink" in unsafe.errors[0].message
    with pytest.raises(UnsafePathError):
        load_session(sid, rhome)
    assert [r.ok for r in verify_sessions(rhome, [sid])] == [False]


def test_verify_live_session_with_a_write_in_progress(rhome: Home) -> None:
    mgr = SessionManager(rhome)
    s = mgr.start_session("live")
    with open(rhome.log_path(s.session_id), "ab") as f:
        f.write(b'{"type":"Mess')  # a writer mid-append: not a problem while it is live
    report = verify_session(rhome, s.session_id)
    assert report.ok and report.warnings == [] and report.state == "live"
    mgr.close()


def test_info(rhome: Home) -> None:
    _session(rhome)
    facts = journal_info(rhome)
    assert facts.sessions == 1 and facts.states == {"completed": 1} and facts.log_bytes > 0
