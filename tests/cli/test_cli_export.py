"""`p8j export`: Markdown, JSON snapshot, raw JSONL, files, strictness."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home
from p8j.replay import load_session

from .cli_helpers import record_simple


def test_markdown(runner: CliRunner, demo_ids: list[str]) -> None:
    result = runner.invoke(cli, ["export", demo_ids[0]])
    assert result.exit_code == 0, result.output
    md = result.stdout
    assert md.startswith(f"# webshop · session {demo_ids[0]}\n")
    assert "| State | completed |" in md
    assert "## Transcript" in md
    assert "**Tool call: Bash** (`toolu_01`)" in md
    assert '"command": "pytest tests/test_checkout.py -q"' in md
    assert "**Tool result** (`toolu_01`) — error" in md
    assert "### 3 · command ·" in md and "```sh\npytest tests/test_checkout.py -q\n```" in md
    assert "### 4 · execution · exit 1 · 0.4 s ·" in md
    assert "> *thinking*" in md
    assert "session ended: task done" in md
    assert md.count("```") % 2 == 0


def test_markdown_of_a_paused_and_resumed_session(runner: CliRunner, demo_ids: list[str]) -> None:
    md = runner.invoke(cli, ["export", demo_ids[1], "-f", "md"]).stdout
    assert "session paused: user stepped away" in md and "session resumed" in md


def test_json_snapshot(runner: CliRunner, demo_ids: list[str], p8j_home: Home) -> None:
    for args in (["-f", "json"], ["--json"]):
        result = runner.invoke(cli, ["export", demo_ids[1], *args])
        assert result.exit_code == 0
        assert json.loads(result.stdout) == json.loads(
            json.dumps(load_session(demo_ids[1], p8j_home).to_dict())
        )


def test_jsonl_is_the_raw_log(runner: CliRunner, demo_ids: list[str], p8j_home: Home) -> None:
    for sid in demo_ids:
        result = runner.invoke(cli, ["export", sid, "-f", "jsonl"])
        assert result.stdout_bytes == p8j_home.log_path(sid).read_bytes()


def test_jsonl_skips_bad_lines_and_says_so(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home, "p", ["a", "b"])
    path = p8j_home.log_path(sid)
    good = path.read_bytes().split(b"\n")
    lines = [*good[:2], b"garbage", *good[2:]]
    path.write_bytes(b"\n".join(lines))
    result = runner.invoke(cli, ["export", sid, "-f", "jsonl"])
    assert result.exit_code == 0
    assert result.stdout_bytes == b"\n".join(good)
    assert "skipped 1 bad line" in result.stderr
    strict = runner.invoke(cli, ["export", sid, "-f", "jsonl", "--strict"])
    assert strict.exit_code == 1 and "garbage" in strict.stderr


def test_output_file(runner: CliRunner, demo_ids: list[str], tmp_path: Path) -> None:
    target = tmp_path / "out.md"
    target.write_text("old")
    result = runner.invoke(cli, ["export", demo_ids[0], "-o", str(target)])
    assert result.exit_code == 0 and result.stdout == ""
    assert "wrote the md export" in result.stderr
    assert target.read_text().startswith("# webshop")
    assert not list(tmp_path.glob("*.p8j-tmp-*"))


def test_output_file_failure_leaves_nothing(
    runner: CliRunner, demo_ids: list[str], tmp_path: Path
) -> None:
    target = tmp_path / "missing-dir" / "out.md"
    result = runner.invoke(cli, ["export", demo_ids[0], "-o", str(target)])
    assert result.exit_code == 1
    assert "cannot write the export" in result.stderr
    assert not target.parent.exists()


def test_bad_format_is_a_usage_error(runner: CliRunner, demo_ids: list[str]) -> None:
    assert runner.invoke(cli, ["export", demo_ids[0], "-f", "pdf"]).exit_code == 2


def test_unknown_session(runner: CliRunner, demo_ids: list[str]) -> None:
    for fmt in ("md", "json", "jsonl"):
        result = runner.invoke(cli, ["export", "fff", "-f", fmt])
        assert result.exit_code == 1 and "no session matches" in result.stderr


def test_md_with_json_is_a_usage_error(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home)
    for fmt in ("md", "jsonl"):
        for args in (["export", sid, "-f", fmt, "--json"], ["--json", "export", sid, "-f", fmt]):
            result = runner.invoke(cli, args)
            assert result.exit_code == 2, args
            assert result.stdout == "" and "give one of them" in result.stderr
    # --json alone, or with -f json, is the snapshot.
    for args in (["export", sid, "--json"], ["export", sid, "-f", "json", "--json"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0 and json.loads(result.stdout)["session_id"] == sid


def test_a_log_without_its_start_is_named_by_every_format(
    runner: CliRunner, demo_ids: list[str], p8j_home: Home
) -> None:
    # `replay` said "no complete SessionStarted record" with the file; `export -f md/json`
    # said "no events to fold" (no file, no line) and `-f native` "session ? was not ...".
    sid = "01a2bbbb-bbbb-7bbb-8bbb-bbbbbbbbbbbb"
    log = p8j_home.sessions_dir / f"{sid}.jsonl"
    log.write_bytes(b"not json at all\n")
    log.chmod(0o600)
    for fmt in ("md", "json", "native"):
        result = runner.invoke(cli, ["export", sid, "-f", fmt])
        assert result.exit_code == 1, (fmt, result.output)
        assert result.stderr.startswith(
            f"p8j: {log}:1 (byte 0): no complete SessionStarted record (line 1 is corrupt"
        ), (fmt, result.stderr)
        assert len(result.stderr.splitlines()) == 1, fmt
        assert result.stdout == "", fmt
    replay = runner.invoke(cli, ["replay", sid])
    assert replay.exit_code == 1 and replay.stderr == result.stderr  # the same words
