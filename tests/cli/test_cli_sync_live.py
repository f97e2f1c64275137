"""`p8j sync --follow` as a real process while a real writer appends, is kill -9'd, resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from journal_helpers import expect_lines, kill_and_reap, read_line, spawn_child, wait_until
from sync_helpers import raw_records

from p8j.journal import Home
from p8j.journal.store import FileStore, SessionStore

pytestmark = pytest.mark.slow


def start_sync(home: Home, target: str, out: Path) -> subprocess.Popen[bytes]:
    """`p8j sync --follow --json --to target` in its own process, stdout into `out`."""
    env = dict(os.environ, P8J_HOME=str(home.path), PYTHONUNBUFFERED="1")
    with open(out, "wb") as f:
        return subprocess.Popen(
            [sys.executable, "-m", "p8j.cli", "sync", "--follow", "--json", "--to", target],
            stdout=f,
            stderr=subprocess.PIPE,
            env=env,
        )


def stop_sync(proc: subprocess.Popen[bytes]) -> tuple[int, bytes]:
    """SIGTERM the sync and return its exit status and stderr."""
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


def whole_records(store: SessionStore, sid: str) -> list[bytes]:
    """The records of `sid` a reader accepts (a torn tail is not one)."""
    return [line for _, line in store.open_cursor(sid, resolve_blobs=False).read_with_lines()]


def same(source: FileStore, target: SessionStore, sid: str) -> bool:
    """True once the target holds exactly the source's whole records."""
    return target.exists(sid) and whole_records(target, sid) == whole_records(source, sid)


@pytest.fixture
def home(p8j_home: Home) -> Iterator[Home]:
    p8j_home.ensure()
    yield p8j_home


def follow_through_a_crash(home: Home, target: SessionStore, tmp_path: Path) -> None:
    """The scenario, for any target store the sync process can open by its URL."""
    source = FileStore(home)
    sync = start_sync(home, target.url, tmp_path / "sync.out")
    writer = spawn_child("write", str(home.path), "default", "7")
    try:
        assert writer.stdout is not None
        sid = read_line(writer.stdout).split()[1]
        acked = [int(s) for s in expect_lines(writer, "seq", 60)]
        kill_and_reap(writer)  # kill -9 mid-stream
        with open(home.log_path(sid), "ab") as f:  # and a record torn in half
            f.write(b'{"type":"MessageRecorded","v":1,"session_id":"' + sid.encode() + b'","se')
        wait_until(lambda: same(source, target, sid), 60, "the target to catch up")
        records = raw_records(target, sid)
        assert [json.loads(r)["seq"] for r in records] == list(range(len(records)))
        assert len(records) > acked[-1]  # every acknowledged event, and only whole ones
        # The session is resumed (its torn tail set aside) and goes on: sync follows.
        resumed = spawn_child("resume", str(home.path), sid)
        assert resumed.wait(timeout=60) == 0
        kill_and_reap(resumed)
        wait_until(lambda: same(source, target, sid), 60, "the resumed session")
        assert b'"type":"SessionEnded"' in raw_records(target, sid)[-1]
    finally:
        kill_and_reap(writer)
        code, err = stop_sync(sync)
    assert code == 0, err
    lines = (tmp_path / "sync.out").read_bytes().splitlines()
    passes = [json.loads(ln) for ln in lines]
    assert sum(p["events"] for p in passes) == len(raw_records(target, sid))
    assert all(s["status"] in ("copied", "busy") for p in passes for s in p["sessions"])


def test_sync_follow_pushes_through_a_writer_crash_to_files(home: Home, tmp_path: Path) -> None:
    follow_through_a_crash(home, FileStore(tmp_path / "team"), tmp_path)


def test_sync_follow_pushes_through_a_writer_crash_to_nats(
    home: Home, tmp_path: Path, nats_url: str
) -> None:
    from p8j.journal.store.nats import NatsStore

    target = NatsStore(nats_url)
    try:
        follow_through_a_crash(home, target, tmp_path)
    finally:
        target.close()


def test_sync_to_nats_goes_in_atomic_batches_and_ends_equal(
    home: Home, tmp_path: Path, nats_url: str
) -> None:
    """A real `p8j sync` of a 1,502-event session: two atomic batches, then nothing to do."""
    from p8j.journal import SessionManager
    from p8j.journal.store.nats import NatsStore

    mgr = SessionManager(home)
    sid = mgr.start_session("big").session_id
    for i in range(1500):
        mgr.record_message({"role": "user", "content": f"message {i}"})
    mgr.end_session()
    env = dict(os.environ, P8J_HOME=str(home.path))
    argv = [sys.executable, "-m", "p8j.cli", "sync", "--json", "--to", nats_url]
    passes = [json.loads(subprocess.run(argv, env=env, capture_output=True, check=True).stdout)]
    passes.append(json.loads(subprocess.run(argv, env=env, capture_output=True, check=True).stdout))
    assert [p["events"] for p in passes] == [1502, 0]
    target = NatsStore(nats_url)
    try:
        assert whole_records(target, sid) == whole_records(FileStore(home), sid)
        conn = target.call(target.aconn())
        stored = target.call(conn.batch(target.config.subject(sid), 1))
    finally:
        target.close()
    # The start creates the log on its own; the other 1,501 went as batches of 1000 and 501.
    batches = [m.headers.get("Nats-Batch-Id") for m in stored[1:]]
    assert None not in batches and len(set(batches)) == 2
    assert [batches.count(b) for b in dict.fromkeys(batches)] == [1000, 501]
    commits = [m.seq for m in stored if m.headers.get("Nats-Batch-Commit")]
    assert commits == [stored[1000].seq, stored[-1].seq]
