"""`p8j search` behaves like grep: exit status, -l, -c, -C, and no pattern can hang it."""

from __future__ import annotations

import json

from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home, SessionManager


def _record(home: Home, project: str, texts: list[str]) -> str:
    mgr = SessionManager(home)
    sid = mgr.start_session(project).session_id
    for i, text in enumerate(texts):
        mgr.record_message({"role": "user" if i % 2 == 0 else "assistant", "content": text})
    mgr.end_session()
    return sid


def test_exit_status_is_1_when_nothing_matches(runner: CliRunner, p8j_home: Home) -> None:
    _record(p8j_home, "p", ["hello there"])
    assert runner.invoke(cli, ["search", "hello"]).exit_code == 0
    none = runner.invoke(cli, ["search", "ZebraQuokka"])
    assert none.exit_code == 1 and none.stdout == "" and none.stderr == ""
    as_json = runner.invoke(cli, ["search", "ZebraQuokka", "--json"])
    assert as_json.exit_code == 1 and json.loads(as_json.stdout) == []


def test_sessions_only_and_counts(runner: CliRunner, p8j_home: Home) -> None:
    one = _record(p8j_home, "one", ["needle", "needle again", "nothing"])
    _record(p8j_home, "two", ["nothing here"])
    three = _record(p8j_home, "three", ["a needle"])
    listed = runner.invoke(cli, ["search", "needle", "-l"])
    assert listed.exit_code == 0 and listed.stdout.split() == [three, one]  # newest first
    counts = runner.invoke(cli, ["search", "needle", "-c"])
    assert counts.stdout.split() == [f"{three}:1", f"{one}:2"]
    rows = json.loads(runner.invoke(cli, ["search", "needle", "-c", "--json"]).stdout)
    assert rows == [
        {"session_id": three, "project_name": "three", "hits": 1},
        {"session_id": one, "project_name": "one", "hits": 2},
    ]
    ids = json.loads(runner.invoke(cli, ["search", "needle", "-l", "--json"]).stdout)
    assert ids == [
        {"session_id": three, "project_name": "three"},
        {"session_id": one, "project_name": "one"},
    ]
    assert runner.invoke(cli, ["search", "needle", "-l", "-c"]).exit_code == 2
    assert runner.invoke(cli, ["search", "absent", "-c"]).exit_code == 1


def test_context_shows_the_events_around_a_hit(runner: CliRunner, p8j_home: Home) -> None:
    sid = _record(p8j_home, "p", ["first", "second", "the needle", "fourth", "fifth"])
    out = runner.invoke(cli, ["--color", "never", "search", "needle", "-C", "1"])
    assert out.exit_code == 0
    lines = out.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{sid[:13]}-2 ") and lines[0].endswith("assistant- second")
    assert lines[1].startswith(f"{sid[:13]}:3 ") and "the needle" in lines[1]
    assert lines[2].startswith(f"{sid[:13]}-4 ") and lines[2].endswith("assistant- fourth")
    hits = json.loads(runner.invoke(cli, ["search", "needle", "-C", "2", "--json"]).stdout)
    assert [c["seq"] for c in hits[0]["context"]] == [1, 2, 4, 5]
    assert hits[0]["context"][0] == {
        "seq": 1,
        "ts": hits[0]["context"][0]["ts"],
        "kind": "message",
        "role": "user",
        "text": "first",
    }
    plain = json.loads(runner.invoke(cli, ["search", "needle", "--json"]).stdout)
    assert "context" not in plain[0]  # --json without -C is unchanged


def test_context_groups_are_separated(runner: CliRunner, p8j_home: Home) -> None:
    _record(p8j_home, "p", ["needle one", "x", "y", "z", "needle two"])
    out = runner.invoke(cli, ["--color", "never", "search", "needle", "-C", "1"])
    assert out.stdout.splitlines().count("--") == 1


def test_hits_whose_context_overlaps_share_one_group(runner: CliRunner, p8j_home: Home) -> None:
    # As grep -C: hits near each other print each event once, in order, with no "--"
    # between them (each hit used to repeat its neighbours, the other hit as context too).
    sid = _record(p8j_home, "p", ["first", "needle one", "needle two", "fourth", "fifth"])
    out = runner.invoke(cli, ["--color", "never", "search", "needle", "-C", "1"])
    marks = [line[:15].split(" ")[0] for line in out.stdout.splitlines()]
    assert marks == [f"{sid[:13]}-1", f"{sid[:13]}:2", f"{sid[:13]}:3", f"{sid[:13]}-4"]
    wide = runner.invoke(cli, ["--color", "never", "search", "needle", "-C", "9"]).stdout
    assert [ln.split(" ")[0] for ln in wide.splitlines()] == [
        f"{sid[:13]}-0", f"{sid[:13]}-1", f"{sid[:13]}:2", f"{sid[:13]}:3", f"{sid[:13]}-4",
        f"{sid[:13]}-5", f"{sid[:13]}-6",  # the start and the end too
    ]  # fmt: skip
    hits = json.loads(runner.invoke(cli, ["search", "needle", "-C", "1", "--json"]).stdout)
    assert [[c["seq"] for c in h["context"]] for h in hits] == [[1, 3], [2, 4]]  # JSON: per hit


def test_a_catastrophic_pattern_does_not_hang(runner: CliRunner, p8j_home: Home) -> None:
    # Python's re takes minutes (exponential backtracking) on this; RE2 microseconds.
    _record(p8j_home, "p", ["a" * 32 + "!", "aaa"])
    out = runner.invoke(cli, ["search", "(a+)+$", "--json"])
    assert out.exit_code == 0
    assert [h["seq"] for h in json.loads(out.stdout)] == [2]


def test_python_only_syntax_is_a_usage_error(runner: CliRunner, p8j_home: Home) -> None:
    _record(p8j_home, "p", ["aa"])
    for pattern, why in [
        ("(a)\\1", "backreferences are not supported"),
        ("a(?=b)", "lookahead"),
        ("(?<!x)a", "negative lookbehind"),
        ("ab\\Z", "RE2 spells end of text \\z"),
    ]:
        out = runner.invoke(cli, ["search", pattern])
        assert out.exit_code == 2 and why in out.stderr, (pattern, out.stderr)


def test_ignore_case_folds_like_re(runner: CliRunner, p8j_home: Home) -> None:
    _record(p8j_home, "p", ["\u212aelvin", "plain text"])  # KELVIN SIGN folds to k
    out = runner.invoke(cli, ["search", "-i", "kelvin", "--json"])
    assert [h["seq"] for h in json.loads(out.stdout)] == [1]
