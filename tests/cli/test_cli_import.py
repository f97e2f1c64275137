"""`p8j import` and `p8j export -f native` through click's runner: summaries, --json, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home, SessionManager

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"


def legacy_tree(tmp_path: Path, broken: bool = False) -> Path:
    """A copy of the legacy fixtures (without the broken one unless asked)."""
    root = tmp_path / "legacy"
    root.mkdir()
    for name in ("completed", "paused", "odd", *(["broken"] if broken else [])):
        shutil.copy(FIXTURES / f"{name}.json", root / f"{name}.json")
    return root


def test_import_json_summary_and_idempotence(runner: CliRunner, tmp_path: Path) -> None:
    root = legacy_tree(tmp_path)
    result = runner.invoke(cli, ["import", "legacy", str(root), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["sessions_new"] == 3 and report["skipped"] == []
    assert report["records"]["MessageRecorded"] == 11
    again = json.loads(runner.invoke(cli, ["import", "legacy", str(root), "--json"]).stdout)
    assert again["events"] == 0 and again["sessions_unchanged"] == 3
    listed = json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)
    assert len(listed) == 3


def test_skipped_lines_exit_1_with_file_and_line(runner: CliRunner, tmp_path: Path) -> None:
    root = legacy_tree(tmp_path, broken=True)
    result = runner.invoke(cli, ["import", "legacy", str(root)])
    assert result.exit_code == 1
    assert "imported 25 record(s) from 4 file(s): 3 new" in result.stdout
    assert f"p8j: {root / 'broken.json'}:1: skipped: not valid JSON" in result.stderr


def test_dry_run_writes_nothing(runner: CliRunner, tmp_path: Path, p8j_home: Home) -> None:
    root = legacy_tree(tmp_path)
    result = runner.invoke(cli, ["import", "legacy", str(root), "--dry-run"])
    assert result.exit_code == 0
    assert result.stdout.startswith("would import 25 record(s)")
    assert not p8j_home.sessions_dir.exists() or not list(p8j_home.sessions_dir.iterdir())


def test_usage_errors_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["import", "nosuchagent", str(tmp_path)])
    assert result.exit_code == 2 and "no importer named 'nosuchagent'" in result.stderr
    result = runner.invoke(cli, ["import", "legacy"])
    assert result.exit_code == 2 and "give the PATH" in result.stderr
    result = runner.invoke(cli, ["import", "legacy", str(tmp_path), "--follow", "--dry-run"])
    assert result.exit_code == 2


def test_missing_path_is_reported(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["import", "legacy", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "no such file or directory" in result.stderr


def test_import_into_another_store(runner: CliRunner, tmp_path: Path) -> None:
    root = legacy_tree(tmp_path)
    other = tmp_path / "other-store"
    result = runner.invoke(cli, ["import", "legacy", str(root), "--store", str(other)])
    assert result.exit_code == 0
    assert len(list((other / "sessions").glob("*.jsonl"))) == 3


def test_export_native_rebuilds_the_source(runner: CliRunner, tmp_path: Path) -> None:
    root = legacy_tree(tmp_path)
    report = json.loads(runner.invoke(cli, ["import", "legacy", str(root), "--json"]).stdout)
    for s in report["sessions"]:
        result = runner.invoke(cli, ["export", s["session_id"], "-f", "native"])
        assert result.exit_code == 0
        (line,) = result.stdout_bytes.splitlines()
        source = json.loads(Path(s["path"]).read_text())
        if s["source_id"] != "odd":  # odd.json holds a secret, redacted on import
            assert json.loads(line) == source


def test_export_native_refuses_a_session_that_was_not_imported(
    runner: CliRunner, p8j_home: Home
) -> None:
    with SessionManager(p8j_home) as mgr:
        sid = mgr.start_session("native").session_id
    result = runner.invoke(cli, ["export", sid, "-f", "native"])
    assert result.exit_code == 1
    assert f"p8j: session {sid} was not imported from another agent" in result.stderr


def test_default_places_that_do_not_exist(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / ".codex"))
    result = runner.invoke(cli, ["import", "codex"])
    assert result.exit_code == 1
    assert "no codex sessions here" in result.stderr and "give a PATH" in result.stderr
    # Only the archive missing: the sessions that exist import, and nothing is skipped.
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "codex",
                    tmp_path / ".codex" / "sessions")  # fmt: skip
    result = runner.invoke(cli, ["import", "codex", "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["sessions_new"] >= 1


def test_the_wrong_agent_writes_nothing_and_names_each_file_once(
    runner: CliRunner, tmp_path: Path, p8j_home: Home
) -> None:
    codex = FIXTURES.parent / "codex"
    rollout = next(codex.glob("rollout-*.jsonl"))
    tree = tmp_path / "sessions"
    tree.mkdir()
    shutil.copy(rollout, tree / rollout.name)
    result = runner.invoke(cli, ["import", "claude", str(tree)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"p8j: {tree / rollout.name}: skipped: "
        "not a Claude Code transcript (its first record is a Codex one)"
    ]
    assert not p8j_home.sessions_dir.exists() or not list(p8j_home.sessions_dir.iterdir())


def test_a_prompt_history_is_reported_once_not_line_by_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    root = tmp_path / ".claude"
    root.mkdir()
    (root / "history.jsonl").write_text('{"display": "/plan", "timestamp": 1772788351499}\n' * 500)
    result = runner.invoke(cli, ["import", "claude", str(root)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"p8j: {root / 'history.jsonl'}: skipped: "
        "Claude Code prompt history (history.jsonl), not a session transcript"
    ]
