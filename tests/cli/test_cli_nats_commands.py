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
from typing import Any

import pytest
from click.testing import CliRunner
from sync_helpers import raw_records, record_sessions

from p8j.cli.main import cli
from p8j.journal import Home, SessionManager
from p8j.journal.store import FileStore
from p8j.journal.store.nats import NatsStore

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


def _sizes(runner: CliRunner, *store: str) -> dict[str, int]:
    result = runner.invoke(cli, ["ls", "--all", "--json", *store])
    assert result.exit_code == 0, result.output
    return {s["session_id"]: s["size_bytes"] for s in json.loads(result.output)}


def _checked(runner: CliRunner, *args: str) -> Any:
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_sizes_on_nats_are_the_logs_bytes_as_on_files(
    runner: CliRunner, p8j_home: Home, nats_url: str
) -> None:
    # A NATS log's offsets are stream sequences: its size is its records' bytes instead.
    files = FileStore(p8j_home)
    sids = record_sessions(files)
    store = ["--store", nats_url]
    _checked(runner, "sync", "--to", nats_url)
    on_disk = {sid: p8j_home.log_path(sid).stat().st_size for sid in sids}
    assert _sizes(runner) == on_disk
    assert _sizes(runner, *store) == on_disk
    nats = NatsStore(nats_url)
    try:
        assert on_disk == {sid: sum(map(len, raw_records(nats, sid))) for sid in sids}
    finally:
        nats.close()
    assert _checked(runner, "info", *store)["log_bytes"] == sum(on_disk.values())
    assert _checked(runner, "info")["log_bytes"] == sum(on_disk.values())
    verified = _checked(runner, "verify", *store)
    assert {r["session_id"]: r["size_bytes"] for r in verified} == on_disk
    # Appended to and synced again: the listing kept on NATS adds the new records' bytes.
    mgr = SessionManager(store=files)
    mgr.resume_session(sids[0])
    mgr.record_message({"role": "user", "content": "and then " * 500})
    mgr.close()
    _checked(runner, "sync", "--to", nats_url)
    grown = p8j_home.log_path(sids[0]).stat().st_size
    assert grown > on_disk[sids[0]] + 4500
    assert _sizes(runner, *store) == _sizes(runner) == {**on_disk, sids[0]: grown}
