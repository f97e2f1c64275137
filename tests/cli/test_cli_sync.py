"""`p8j sync --to STORE`: one pass, output, exit codes, marks kept in the home's cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sync_helpers import assert_same_store, raw_records, record_sessions

from p8j.cli.main import cli
from p8j.journal import Home, SessionManager
from p8j.journal.cache.sync_marks import load_marks, marks_file
from p8j.journal.store import FileStore


def test_sync_twice_copies_once_then_nothing(
    runner: CliRunner, p8j_home: Home, tmp_path: Path
) -> None:
    source = FileStore(p8j_home)
    ids = record_sessions(source)
    target = tmp_path / "team"
    first = runner.invoke(cli, ["sync", "--to", str(target)])
    assert first.exit_code == 0, first.output
    assert [ln.split()[:2] for ln in first.output.splitlines()[:-1]] == [
        ["copied", sid] for sid in ids
    ]
    assert first.output.splitlines()[-1].startswith("3 sessions: 3 copied")
    assert_same_store(source, FileStore(target))
    again = runner.invoke(cli, ["sync", "--to", str(target), "--json"])
    assert again.exit_code == 0, again.output
    doc = json.loads(again.output)
    assert (doc["events"], doc["blobs"]) == (0, 0)
    assert [s["status"] for s in doc["sessions"]] == ["up-to-date"] * 3
    assert doc["target"] == FileStore(target).url


def test_sync_keeps_marks_in_the_cache_and_full_ignores_them(
    runner: CliRunner, p8j_home: Home, tmp_path: Path
) -> None:
    ids = record_sessions(FileStore(p8j_home), n=2)
    target = FileStore(tmp_path / "team")
    assert runner.invoke(cli, ["sync", "--to", target.url]).exit_code == 0
    assert (p8j_home.cache_dir / marks_file(target.url)).is_file()
    assert sorted(load_marks(p8j_home, target.url)) == ids
    # A damaged cache costs a comparison, never a wrong answer.
    (p8j_home.cache_dir / marks_file(target.url)).write_bytes(b"\xc1 not msgpack")
    assert load_marks(p8j_home, target.url) == {}
    full = runner.invoke(cli, ["sync", "--to", target.url, "--full", "--json"])
    assert full.exit_code == 0, full.output
    assert json.loads(full.output)["events"] == 0


def test_sync_from_another_store(runner: CliRunner, tmp_path: Path) -> None:
    laptop = FileStore(tmp_path / "laptop")
    record_sessions(laptop, n=1)
    result = runner.invoke(cli, ["sync", "--from", laptop.url, "--to", str(tmp_path / "team")])
    assert result.exit_code == 0, result.output
    assert_same_store(laptop, FileStore(tmp_path / "team"))


def test_a_diverged_session_fails_the_run_and_is_left_alone(
    runner: CliRunner, p8j_home: Home, tmp_path: Path
) -> None:
    source = FileStore(p8j_home)
    sid, _, other = record_sessions(source, n=3)  # paused, ended, paused
    target = FileStore(tmp_path / "team")
    assert runner.invoke(cli, ["sync", "--to", target.url]).exit_code == 0
    for store, text in ((source, "here"), (target, "there")):
        mgr = SessionManager(store=store)
        mgr.resume_session(sid)
        mgr.record_message({"role": "user", "content": text})
        mgr.pause_session()
    mgr = SessionManager(store=source)
    mgr.resume_session(other)
    mgr.end_session()
    before = raw_records(target, sid)
    result = runner.invoke(cli, ["sync", "--to", target.url])
    assert result.exit_code == 1
    assert f"diverged {sid} at seq {len(before) - 3}" in result.output
    assert f"copied {other}" in result.output  # the other session still went
    assert result.stderr.startswith(f"p8j: 1 session not synced: {sid}: ")
    assert len(result.stderr.splitlines()) == 1
    assert raw_records(target, sid) == before


def test_usage_errors(runner: CliRunner, p8j_home: Home) -> None:
    assert runner.invoke(cli, ["sync"]).exit_code == 2
    same = runner.invoke(cli, ["sync", "--to", str(p8j_home.path)])
    assert same.exit_code == 2 and "--to names the store synced from" in same.stderr
    bad = runner.invoke(cli, ["sync", "--to", "ftp://x"])
    assert bad.exit_code == 1 and bad.stderr.startswith("p8j: store: unknown store")


def test_sync_to_nats_twice_copies_once(runner: CliRunner, p8j_home: Home, nats_url: str) -> None:
    from p8j.journal.store.nats import NatsStore

    source = FileStore(p8j_home)
    record_sessions(source)
    first = runner.invoke(cli, ["sync", "--to", nats_url, "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["events"] > 0
    for args in ([], ["--full"]):
        again = runner.invoke(cli, ["sync", "--to", nats_url, "--json", *args])
        assert again.exit_code == 0, again.output
        assert json.loads(again.output)["events"] == 0
    target = NatsStore(nats_url)
    try:
        assert_same_store(source, target)
    finally:
        target.close()


def test_an_unreachable_store_is_one_error_not_one_per_session(
    runner: CliRunner, p8j_home: Home
) -> None:
    pytest.importorskip("nats")
    from natsd import free_port

    record_sessions(FileStore(p8j_home), n=3)
    result = runner.invoke(cli, ["sync", "--to", f"nats://127.0.0.1:{free_port()}"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("p8j: cannot connect to NATS")
    assert len(result.stderr.splitlines()) == 1
