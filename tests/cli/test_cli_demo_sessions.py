"""The demo's scripted sessions (cli/demo_sessions.py), recorded without the command."""

from __future__ import annotations

from p8j.cli.demo_sessions import (
    LIVE_SCRIPT,
    MODEL,
    record_api_server,
    record_demo_sessions,
    record_live,
    record_webshop,
)
from p8j.journal import Home, SessionManager
from p8j.replay import list_sessions, load_session


def test_record_demo_sessions_states_and_order(p8j_home: Home) -> None:
    ids = record_demo_sessions(p8j_home)
    assert ids == sorted(ids)  # oldest first: UUIDv7 ids sort by start time
    states = {r.session_id: (r.project_name, r.state) for r in list_sessions(p8j_home)}
    assert [states[i] for i in ids] == [
        ("webshop", "completed"),
        ("api-server", "paused"),
        ("docs-site", "crashed"),  # its writer was a child that exited without closing it
    ]
    docs = load_session(ids[2], p8j_home)
    assert docs.status == "active" and docs.command_history == ["ls scripts/"]


def test_each_scripted_session_on_its_own(p8j_home: Home) -> None:
    p8j_home.ensure()
    web = load_session(record_webshop(SessionManager(p8j_home)), p8j_home)
    assert web.status == "completed" and web.metadata["tests"] == "passing"
    assert web.metadata["model"] == MODEL and web.message_count == 8
    api = load_session(record_api_server(SessionManager(p8j_home)), p8j_home)
    assert api.status == "paused" and api.execution_count == 1


def test_record_live_plays_the_script_then_ends(p8j_home: Home) -> None:
    mgr = SessionManager(p8j_home)
    sid = mgr.start_session("pairing").session_id
    count, reason = record_live(mgr, 0.2, 0.0)
    assert reason == "demo finished" and count >= len(LIVE_SCRIPT)
    session = load_session(sid, p8j_home)
    assert session.status == "completed"
    rounds = count // len(LIVE_SCRIPT)
    assert session.metadata["rounds"] == rounds
    kinds = [kind for kind, _ in LIVE_SCRIPT]
    played = [kinds[i % len(kinds)] for i in range(count)]
    assert session.message_count == played.count("message")
    assert session.command_count == played.count("command")
    assert session.execution_count == played.count("execution")
