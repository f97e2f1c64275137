"""Every reading command on a NATS JetStream store, end to end through the CLI (issue 12).

Sessions are imported into a real nats-server (`--store`), then listed,
replayed (also as of an earlier seq), exported (Markdown, JSON, raw JSONL,
native), searched, verified, counted and described from it, with
``$P8J_STORE`` naming the store as well as ``--store``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from p8j.cli.main import cli

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"


@pytest.fixture
def imported(runner: CliRunner, nats_url: str, tmp_path: Path) -> str:
    src = tmp_path / "legacy"
    src.mkdir()
    shutil.copy(LEGACY / "completed.json", src / "completed.json")
    result = runner.invoke(cli, ["import", "legacy", str(src), "--store", nats_url, "--json"])
    assert result.exit_code == 0, result.output
    [listed] = json.loads(runner.invoke(cli, ["ls", "--json", "--store", nats_url]).output)
    sid: str = listed["session_id"]
    return sid


def test_every_reading_command_works_on_a_nats_store(
    runner: CliRunner, nats_url: str, imported: str, tmp_path: Path
) -> None:
    sid = imported
    store = ["--store", nats_url]
    replay = runner.invoke(cli, ["replay", sid[:13], "--json", *store])
    assert replay.exit_code == 0, replay.output
    whole = json.loads(replay.output)
    assert whole["session_id"] == sid and whole["conversation_history"]
    early = json.loads(runner.invoke(cli, ["replay", sid, "--at", "1", "--json", *store]).output)
    assert len(early["conversation_history"]) < len(whole["conversation_history"])
    native = runner.invoke(cli, ["export", sid, "-f", "native", *store])
    assert native.exit_code == 0, native.output
    source = json.loads((LEGACY / "completed.json").read_text())
    assert json.loads(native.output) == source
    jsonl = runner.invoke(cli, ["export", sid, "-f", "jsonl", *store])
    assert jsonl.exit_code == 0 and len(jsonl.output.splitlines()) > 2
    md = runner.invoke(cli, ["export", sid, "-o", str(tmp_path / "t.md"), *store])
    assert md.exit_code == 0, md.output
    assert (tmp_path / "t.md").read_text().startswith("#")
    first = whole["conversation_history"][0]["content"]
    word = str(first).split()[0]
    found = runner.invoke(cli, ["search", "-l", word, *store])
    assert found.exit_code == 0 and found.output.split() == [sid], found.output
    assert runner.invoke(cli, ["search", "ZebraQuokkaNowhere", *store]).exit_code == 1
    verify = runner.invoke(cli, ["verify", "--json", *store])
    assert verify.exit_code == 0, verify.output
    info = json.loads(runner.invoke(cli, ["info", "--json", *store]).output)
    assert info["sessions"] == 1
    usage = runner.invoke(cli, ["usage", "--json", *store])
    assert usage.exit_code == 0, usage.output


def test_p8j_store_names_the_store_for_the_cli(
    runner: CliRunner, nats_url: str, imported: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P8J_STORE", nats_url)
    listed = json.loads(runner.invoke(cli, ["ls", "--json"]).output)
    assert [s["session_id"] for s in listed] == [imported]
    # A memory store in the environment is an embedder's: the CLI keeps to the home.
    monkeypatch.setenv("P8J_STORE", "memory:")
    assert json.loads(runner.invoke(cli, ["ls", "--json"]).output) == []
