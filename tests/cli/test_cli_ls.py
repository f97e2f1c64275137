"""`p8j ls`: table, JSON, filters, live vs crashed, colour."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from p8j.cli.ls import short_ids
from p8j.cli.main import cli
from p8j.journal import Home, SessionManager

from .cli_helpers import SGR, record_simple

LISTING_FIELDS = {
    "session_id",
    "project_name",
    "status",
    "state",
    "start_time",
    "end_time",
    "last_activity",
    "duration_s",
    "message_count",
    "command_count",
    "execution_count",
    "title",
    "size_bytes",
    "last_seq",
    "problems",
    "writer_pid",
    "writer_host",
    "metadata",
    "cwd",
    "forked_from",
    "parent_id",
    "parent_call_id",
    "agent",
    "model",
    "usage",
    "usage_by_model",
}


def test_table_newest_first_with_states(runner: CliRunner, demo_ids: list[str]) -> None:
    result = runner.invoke(cli, ["ls"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "PROJECT",
        "STATE",
        "ACTIVE",
        "DURATION",
        "MSGS",
        "CMDS",
        "EXECS",
        "TITLE",
    ]
    body = [ln.split() for ln in lines[1:]]
    assert [row[1] for row in body] == ["docs-site", "api-server", "webshop"]
    assert [row[2] for row in body] == ["crashed", "paused", "completed"]
    assert "The checkout total is wrong" in lines[3]
    # Piped: absolute local times, no colour.
    assert not SGR.search(result.stdout)
    assert datetime.now().strftime("%Y-") in lines[1]


def test_ids_are_unique_prefixes(runner: CliRunner, demo_ids: list[str]) -> None:
    result = runner.invoke(cli, ["ls"])
    shown = [ln.split()[0] for ln in result.stdout.splitlines()[1:]]
    assert len(set(shown)) == 3
    for prefix, full in zip(shown, reversed(demo_ids), strict=True):
        assert full.startswith(prefix) and len(prefix) >= 8
        assert runner.invoke(cli, ["replay", prefix, "--json"]).exit_code == 0


def test_short_ids() -> None:
    assert short_ids([]) == 8
    assert short_ids(["abcdef0123", "abcdef0999"]) == 8
    assert short_ids(["abcdef0123", "abcdef0129"]) == 10


def test_json_fields_are_stable(runner: CliRunner, demo_ids: list[str]) -> None:
    rows = json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)
    assert [r["session_id"] for r in rows] == list(reversed(demo_ids))
    for row in rows:
        assert set(row) == LISTING_FIELDS
    web = rows[2]
    assert web["status"] == "completed" and web["state"] == "completed"
    assert web["message_count"] == 8 and web["command_count"] == 2 and web["execution_count"] == 2
    assert web["metadata"]["tests"] == "passing"
    assert rows[0]["status"] == "active" and rows[0]["state"] == "crashed"


def test_jsonl_and_quiet(runner: CliRunner, demo_ids: list[str]) -> None:
    lines = runner.invoke(cli, ["ls", "--jsonl"]).stdout.splitlines()
    assert [json.loads(ln)["session_id"] for ln in lines] == list(reversed(demo_ids))
    assert runner.invoke(cli, ["ls", "-q"]).stdout.split() == list(reversed(demo_ids))


def test_filters(runner: CliRunner, demo_ids: list[str]) -> None:
    def ids(*args: str) -> list[str]:
        result = runner.invoke(cli, ["ls", "-q", *args])
        assert result.exit_code == 0, result.output
        return result.stdout.split()

    web, api, docs = demo_ids
    assert ids("--project", "webshop") == [web]
    assert ids("--project", "*-s*") == [docs, api]
    assert ids("--status", "paused") == [api]
    assert ids("--status", "crashed") == [docs]
    assert ids("--status", "active") == [docs]
    assert ids("--status", "live") == []
    assert ids("--status", "completed,paused") == [api, web]
    assert ids("-n", "2") == [docs, api]
    assert ids("--limit", "0") == []
    assert ids("--since", "1h") == [docs, api, web]
    future = (datetime.now(timezone.utc) + timedelta(days=2)).strftime("%Y-%m-%d")
    assert ids("--since", future) == []


def test_bad_filters_are_usage_errors(runner: CliRunner) -> None:
    for args in (["--status", "sleeping"], ["--since", "yesterdayish"], ["-n", "-1"]):
        result = runner.invoke(cli, ["ls", *args])
        assert result.exit_code == 2, args
        assert "Invalid value" in result.stderr


def test_live_session_is_not_crashed(runner: CliRunner, p8j_home: Home) -> None:
    mgr = SessionManager(p8j_home)
    s = mgr.start_session("live-one")
    mgr.record_message({"role": "user", "content": "still typing"})
    try:
        rows = json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)
        assert rows[0]["session_id"] == s.session_id
        assert rows[0]["state"] == "live" and rows[0]["writer_pid"] is not None
        assert runner.invoke(cli, ["ls", "-q", "--status", "live"]).stdout.split() == [s.session_id]
    finally:
        mgr.close()
    rows = json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)
    assert rows[0]["state"] == "paused" and rows[0]["writer_pid"] is None


def test_empty_journal(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["ls"])
    assert result.exit_code == 0 and result.stdout == ""
    assert "p8j demo" in result.stderr
    assert runner.invoke(cli, ["ls", "--json"]).stdout == "[]\n"
    assert runner.invoke(cli, ["ls", "--jsonl"]).stdout == ""


def test_no_match_message(runner: CliRunner, demo_ids: list[str]) -> None:
    result = runner.invoke(cli, ["ls", "--project", "nothing-like-it"])
    assert result.exit_code == 0 and "No sessions match" in result.stderr


def test_colour_always_and_no_color(runner: CliRunner, demo_ids: list[str]) -> None:
    coloured = runner.invoke(cli, ["--color", "always", "ls"])
    assert SGR.search(coloured.stdout)
    plain = runner.invoke(cli, ["--color", "never", "ls"])
    assert not SGR.search(plain.stdout)
    assert SGR.sub("", coloured.stdout) == plain.stdout
    no_color = runner.invoke(cli, ["ls"], env={"NO_COLOR": "1"})
    assert not SGR.search(no_color.stdout)


def test_problems_are_flagged(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home, "bad", ["one", "two"])
    path = p8j_home.log_path(sid)
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b"one", b"ONE")  # checksum no longer matches
    path.write_bytes(b"\n".join(lines))
    result = runner.invoke(cli, ["ls"])
    # The flipped line, and the seq gap it leaves.
    assert "[2 problems] two" in result.stdout
    assert json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)[0]["problems"] == 2


def test_table_shows_the_newest_fifty_unless_asked(runner: CliRunner, p8j_home: Home) -> None:
    ids = [record_simple(p8j_home, f"p{i}") for i in range(52)]
    table = runner.invoke(cli, ["ls"])
    assert len(table.stdout.splitlines()) == 1 + 50
    assert "showing the 50 most recently active sessions; -n N or --all shows more" in table.stderr
    every = runner.invoke(cli, ["ls", "--all"])
    assert len(every.stdout.splitlines()) == 1 + 52 and every.stderr == ""
    assert len(runner.invoke(cli, ["ls", "-n", "60"]).stdout.splitlines()) == 1 + 52
    assert runner.invoke(cli, ["ls", "-n", "3"]).stderr == ""  # asked for: no hint
    assert runner.invoke(cli, ["ls", "-q"]).stdout.split() == list(reversed(ids))
    assert len(json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)) == 52


@given(
    st.lists(st.text(alphabet="0a", min_size=12, max_size=12), max_size=40),
    st.integers(min_value=1, max_value=12),
)
def test_short_ids_is_the_shortest_unique_prefix(ids: list[str], minimum: int) -> None:
    distinct = set(ids)
    expected = next(
        n for n in range(minimum, 13) if len({i[:n] for i in distinct}) == len(distinct)
    )
    assert short_ids(ids, minimum) == expected
    assert short_ids(sorted(ids, reverse=True), minimum) == expected  # ls passes newest first


def test_columns_are_capped_and_titles_cut_with_an_ellipsis(
    runner: CliRunner, p8j_home: Home
) -> None:
    mgr = SessionManager(p8j_home)
    mgr.start_session("p" * 10_000)
    mgr.record_message({"role": "user", "content": "t" * 5000})
    mgr.record_execution("ls", 0, "x")
    mgr.end_session()
    record_simple(p8j_home, "short")
    lines = runner.invoke(cli, ["ls"]).stdout.splitlines()
    assert max(len(ln) for ln in lines) < 300  # was 10,073 characters a row
    long_row = next(ln for ln in lines if "ppp" in ln)
    assert "p" * 23 + "…" in long_row and long_row.rstrip().endswith("…")
    assert lines[0].split()[7] == "EXECS"
    assert long_row.split()[6:9] == ["1", "0", "1"]  # msgs, cmds, execs (STARTED is 2 words)


def test_ids_are_one_width(runner: CliRunner, demo_ids: list[str]) -> None:
    shown = [ln.split()[0] for ln in runner.invoke(cli, ["ls"]).stdout.splitlines()[1:]]
    assert {len(s) for s in shown} == {13}  # the width tail, search and the picker show


def test_sort_and_cwd(
    runner: CliRunner, p8j_home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mgr = SessionManager(p8j_home)
    a = mgr.start_session("older", cwd=str(tmp_path)).session_id
    mgr.pause_session()
    b = mgr.start_session("newer", cwd="/elsewhere").session_id
    mgr.end_session()
    mgr.resume_session(a)
    mgr.end_session()
    by_activity = runner.invoke(cli, ["ls", "-q"])
    assert by_activity.stdout.split() == [a, b]
    started = runner.invoke(cli, ["ls", "-q", "--sort", "started"])
    assert started.stdout.split() == [b, a]
    assert runner.invoke(cli, ["ls", "--sort", "started"]).stdout.split()[3] == "STARTED"
    assert runner.invoke(cli, ["ls", "--sort", "size"]).exit_code == 2
    rows = json.loads(runner.invoke(cli, ["ls", "--json", "--cwd", str(tmp_path)]).stdout)
    assert [(r["session_id"], r["cwd"]) for r in rows] == [(a, str(tmp_path))]
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(cli, ["ls", "-q", "--cwd", "."]).stdout.split() == [a]
    nothing = runner.invoke(cli, ["ls", "--cwd", "/nowhere"])
    assert nothing.exit_code == 0
    assert "No sessions match." in nothing.stderr


KEPT_ARGS = [
    ["ls"],
    ["ls", "--json"],
    ["ls", "--jsonl"],
    ["ls", "-q"],
    ["ls", "-n", "1"],
    ["ls", "-n", "0"],
    ["ls", "--all"],
    ["ls", "-n", "2", "--json"],
    ["ls", "-n", "3", "--jsonl"],
]


@pytest.mark.parametrize("args", KEPT_ARGS, ids=" ".join)
def test_the_kept_listing_prints_what_the_catalog_does(
    runner: CliRunner,
    p8j_home: Home,
    demo_ids: list[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
) -> None:
    """ls without filters lists from cache/listing.msgpack: the same output as without it."""
    import p8j.cli.ls as ls_module

    for i in range(3):
        record_simple(p8j_home, f"extra{i}")
    settled = (datetime.now(timezone.utc) - timedelta(hours=1)).timestamp()
    os.utime(p8j_home.sessions_dir, (settled, settled))  # changed long enough ago to be kept
    kept = [runner.invoke(cli, args) for _ in range(2)]  # kept by the first, read by the second
    assert (p8j_home.cache_dir / "listing.msgpack").is_file()
    monkeypatch.setattr(ls_module, "default_listing", lambda store: None)
    slow = runner.invoke(cli, args)
    for result in kept:
        assert result.exit_code == slow.exit_code == 0, result.output
        assert result.stdout == slow.stdout
        assert result.stderr == slow.stderr
        assert result.output == slow.output  # stdout and stderr as interleaved
