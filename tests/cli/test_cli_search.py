"""`p8j search`: regular expressions over decoded content, with filters."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home, SessionManager

from .cli_helpers import record_simple

HIT_FIELDS = {
    "session_id",
    "project_name",
    "seq",
    "ts",
    "kind",
    "role",
    "field",
    "snippet",
    "match_start",
    "match_end",
    "matches",
}


def test_human_hits(runner: CliRunner, demo_ids: list[str]) -> None:
    result = runner.invoke(cli, ["search", "sliding window"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(demo_ids[1][:13] + ":")
    assert "api-server user: Back. Use a sliding window" in lines[0]


def test_json_hits(runner: CliRunner, demo_ids: list[str]) -> None:
    hits = json.loads(runner.invoke(cli, ["search", "coupon", "--json"]).stdout)
    assert hits and all(set(h) == HIT_FIELDS for h in hits)
    first = hits[0]
    assert first["session_id"] == demo_ids[0] and first["seq"] == 1 and first["role"] == "user"
    assert first["snippet"][first["match_start"] : first["match_end"]] == "coupon"
    kinds = {(h["kind"], h["field"]) for h in hits}
    assert ("execution", "output") in kinds and ("message", "content") in kinds


def test_searches_tool_inputs_commands_and_outputs(runner: CliRunner, demo_ids: list[str]) -> None:
    def hits(*args: str) -> list[dict[str, object]]:
        out = runner.invoke(cli, ["search", *args, "--json"])
        assert out.exit_code == 0, out.output
        result: list[dict[str, object]] = json.loads(out.stdout)
        return result

    tool_input = hits("app/auth/ratelimit", "--kind", "message")  # a Write tool call's input
    assert [(h["session_id"], h["role"]) for h in tool_input] == [(demo_ids[1], "assistant")]
    commands = hits("git diff", "--kind", "command")
    assert [(h["kind"], h["seq"]) for h in commands] == [("command", 9)]
    outputs = hits("2 files changed", "--kind", "execution")
    assert [h["field"] for h in outputs] == ["output"]


def test_filters(runner: CliRunner, demo_ids: list[str]) -> None:
    def sessions(*args: str) -> set[str]:
        out = runner.invoke(cli, ["search", *args, "--json"])
        found = {h["session_id"] for h in json.loads(out.stdout)}
        assert out.exit_code == (0 if found else 1), out.output  # 1: nothing matched
        return found

    web, api, docs = demo_ids
    assert sessions("the") == {web, api, docs}
    assert sessions("the", "--project", "api*") == {api}
    assert sessions("the", "-s", docs[:13]) == {docs}
    assert sessions("the", "--since", "1h") == {web, api, docs}
    assert sessions("the", "--since", "2099-01-01") == set()
    roles = runner.invoke(cli, ["search", "the", "--role", "assistant", "--json"])
    assert {h["role"] for h in json.loads(roles.stdout)} == {"assistant"}
    assert len(json.loads(runner.invoke(cli, ["search", "the", "-n", "2", "--json"]).stdout)) == 2


def test_ignore_case(runner: CliRunner, demo_ids: list[str]) -> None:
    assert runner.invoke(cli, ["search", "SLIDING"]).stdout == ""
    assert "sliding" in runner.invoke(cli, ["search", "-i", "SLIDING"]).stdout


def test_bad_regex_is_a_usage_error(runner: CliRunner, demo_ids: list[str]) -> None:
    result = runner.invoke(cli, ["search", "("])
    assert result.exit_code == 2 and "not a valid regular expression" in result.stderr


def test_matches_in_content_blocks_and_highlight(runner: CliRunner, p8j_home: Home) -> None:
    mgr = SessionManager(p8j_home)
    mgr.start_session("blocks")
    mgr.record_message(
        {"role": "assistant", "content": [{"type": "text", "text": "needle one, needle two"}]}
    )
    mgr.end_session()
    hit = json.loads(runner.invoke(cli, ["search", "needle", "--json"]).stdout)[0]
    assert hit["matches"] == 2 and hit["snippet"] == "needle one, needle two"
    coloured = runner.invoke(cli, ["--color", "always", "search", "needle"]).stdout
    assert "\x1b[31m\x1b[1mneedle\x1b[0m" in coloured or "\x1b[1m\x1b[31mneedle" in coloured
    assert "(+1 more)" in coloured


def test_corrupt_lines_are_reported(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home, "p", ["findme"])
    path = p8j_home.log_path(sid)
    lines = path.read_bytes().split(b"\n")
    lines.insert(1, b"{broken")
    path.write_bytes(b"\n".join(lines))
    result = runner.invoke(cli, ["search", "findme"])
    assert result.exit_code == 0 and "findme" in result.stdout
    assert "warning: skipped" in result.stderr and ":2 " in result.stderr


def test_plain_search_imports_only_what_it_scans_with(demo_ids: list[str], p8j_home: Home) -> None:
    """`p8j search` without an index: no sqlite3, housekeeping, context reader or pager process."""
    code = (
        "import sys\n"
        "from p8j.cli.main import main\n"
        "for argv in (['search', 'coupon'], ['search', 'coupon', '--json'], ['search', 'zzqx']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "names = ('sqlite3', 'p8j.journal.housekeeping', 'p8j.journal.cache.search_indexer',\n"
        "         'p8j.replay.search_context', 'p8j.replay.listing', 'subprocess', 'socket')\n"
        "print('LOADED', [m for m in names if m in sys.modules], file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        env=dict(os.environ, P8J_HOME=str(p8j_home.path)),
        timeout=60,
        check=False,
    )
    assert b"coupon" in done.stdout, done.stderr
    assert b"LOADED []" in done.stderr, done.stderr
