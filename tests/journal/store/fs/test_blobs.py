"""Huge payloads: stored once as blobs, resolved on read, verified, and never torn by kill -9."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import msgspec
import pytest
from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home, MessageRecorded, RecordTooLargeError, SessionManager
from p8j.journal.store.fs import read_events
from p8j.journal.store.fs.blobs import DEFAULT_BLOB_THRESHOLD, BlobStore
from p8j.replay import load_session, load_session_with_report

MB = 1 << 20


def _lines(home: Home, sid: str) -> list[bytes]:
    return home.log_path(sid).read_bytes().split(b"\n")[:-1]


def _png(n: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + os.urandom(n)


def test_payloads_over_the_threshold_become_blobs_stored_once(home: Home) -> None:
    small = "s" * (DEFAULT_BLOB_THRESHOLD - 100)
    big = "build output line\n" * 300_000  # 5.4 MB
    with SessionManager(home) as mgr:
        sid = mgr.start_session("blobs").session_id
        mgr.record_execution("small", 0, small)
        mgr.record_execution("make", 0, big)
        mgr.record_message({"role": "tool", "content": big})  # the same bytes again
        other = mgr.start_session("other").session_id
        mgr.record_execution("make again", 0, big)
        memory = mgr.current_session
    digest = hashlib.sha256(big.encode()).hexdigest()
    assert os.listdir(home.blobs_dir) == [digest]  # once, across both sessions
    blob = home.blobs_dir / digest
    assert blob.read_bytes() == big.encode()
    assert oct(blob.stat().st_mode & 0o777) == "0o600"
    lines = _lines(home, sid)
    assert small.encode() in lines[1]  # under the threshold: inline
    assert all(len(ln) < 2000 for ln in lines[2:])  # references, not payloads
    ref = msgspec.json.decode(lines[2])["blobs"][0]
    assert ref == {
        "path": ["output"],
        "sha256": digest,
        "size": len(big.encode()),
        "media_type": "text/plain; charset=utf-8",
        "encoding": "utf-8",
    }
    assert msgspec.json.decode(lines[2])["output"].startswith(f"[p8j-blob sha256:{digest} ")
    assert load_session(other, home) == memory
    session = load_session(sid, home)
    assert session.execution_histories[1]["output"] == big
    assert session.conversation_history[0]["content"] == big


def test_images_and_data_urls_are_stored_as_their_bytes(home: Home) -> None:
    png = _png(400_000)
    b64 = base64.b64encode(png).decode()
    content = [
        {"type": "text", "text": "what is in this picture?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64}},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + b64}},
    ]
    with SessionManager(home) as mgr:
        sid = mgr.start_session("img").session_id
        mgr.record_message({"role": "user", "content": content})
        memory = mgr.current_session
    (digest,) = os.listdir(home.blobs_dir)
    assert (home.blobs_dir / digest).read_bytes() == png  # an image file, not base64 text
    line = msgspec.json.decode(_lines(home, sid)[1])
    refs = {tuple(r["path"]): r for r in line["blobs"]}
    assert refs[("content", 1, "source", "data")]["media_type"] == "image/png"
    assert refs[("content", 2, "image_url", "url")]["prefix"] == "data:image/jpeg;base64,"
    session = load_session(sid, home)
    assert session.conversation_history[0]["content"] == content
    assert session == memory


def test_content_over_the_cap_in_many_pieces_becomes_one_json_blob(home: Home) -> None:
    content = [{"type": "text", "text": f"{i}: " + "y" * 200_000} for i in range(8)]  # 1.6 MB
    with SessionManager(home) as mgr:
        sid = mgr.start_session("many").session_id
        mgr.record_message({"role": "assistant", "content": content})
    line = msgspec.json.decode(_lines(home, sid)[1])
    assert line["blobs"][0]["media_type"] == "application/json"
    assert line["blobs"][0]["path"] == ["content"]
    assert load_session(sid, home).conversation_history[0]["content"] == content


def test_the_cap_stays_for_everything_else(home: Home) -> None:
    with SessionManager(home) as mgr:
        sid = mgr.start_session("cap").session_id
        before = home.log_path(sid).read_bytes()
        with pytest.raises(RecordTooLargeError, match="MetadataUpdated"):
            mgr.update_metadata(notes="z" * (2 * MB))
        assert home.log_path(sid).read_bytes() == before
        assert mgr.record_message({"role": "user", "content": "still fine"}) == 1


def test_blobs_can_be_turned_off_or_moved(home: Home) -> None:
    payload = "q" * (300 * 1024)
    with SessionManager(home, blob_threshold=None) as mgr:
        a = mgr.start_session("inline").session_id
        mgr.record_execution("x", 0, payload)
    with SessionManager(home, blob_threshold=1024) as mgr:
        b = mgr.start_session("small threshold").session_id
        mgr.record_command("c" * 2000)
    assert payload.encode() in home.log_path(a).read_bytes()
    assert b"c" * 2000 not in home.log_path(b).read_bytes()
    assert load_session(b, home).command_history == ["c" * 2000]


def _blob_session(home: Home) -> tuple[str, str, str]:
    text = "needle-in-a-blob\n" + "hay\n" * 100_000
    with SessionManager(home) as mgr:
        sid = mgr.start_session("verify").session_id
        mgr.record_execution("find", 0, text)
        mgr.record_message({"role": "user", "content": "after"})
    (digest,) = os.listdir(home.blobs_dir)
    return sid, digest, text


def test_replay_export_and_search_resolve_blobs(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P8J_HOME", str(home.path))
    sid, _, text = _blob_session(home)
    runner = CliRunner()
    result = runner.invoke(cli, ["search", "needle-in-a-blob", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    hits = hits["hits"] if isinstance(hits, dict) else hits
    assert [h["seq"] for h in hits] == [1]
    result = runner.invoke(cli, ["export", sid, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["execution_histories"][0]["output"] == text
    result = runner.invoke(cli, ["export", sid, "--format", "md"])
    assert "needle-in-a-blob" in result.output
    result = runner.invoke(cli, ["replay", sid, "--json"])
    assert json.loads(result.output)["execution_histories"][0]["output"] == text
    result = runner.invoke(cli, ["verify", sid])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_missing_or_damaged_blob_is_reported_not_fatal(
    home: Home, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    monkeypatch.setenv("P8J_HOME", str(home.path))
    sid, digest, text = _blob_session(home)
    blob = home.blobs_dir / digest
    if damage == "missing":
        blob.unlink()
    else:
        data = bytearray(blob.read_bytes())
        data[1000] ^= 0x01
        blob.write_bytes(bytes(data))
    session, report = load_session_with_report(sid, home)
    assert session.execution_histories[0]["output"].startswith(f"[p8j-blob sha256:{digest}")
    assert session.conversation_history == [{"role": "user", "content": "after"}]
    (issue,) = report.issues
    assert issue.kind == ("missing-blob" if damage == "missing" else "bad-blob")
    assert issue.line == 2 and digest in issue.message
    result = CliRunner().invoke(cli, ["verify", sid])
    assert result.exit_code == 1
    assert issue.kind in result.output
    with SessionManager(home) as mgr:  # the session still resumes
        mgr.resume_session(sid)
        mgr.record_execution("find", 0, text)  # and the blob is written again, whole
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == digest
    assert load_session_with_report(sid, home)[1].issues == []


def test_blob_names_are_validated(home: Home) -> None:
    store = BlobStore(home.blobs_dir)
    for bad in ("../../etc/passwd", "A" * 64, "0" * 63, ""):
        with pytest.raises(Exception, match="not a blob name"):
            store.path(bad)


# -- kill -9 with 32 MiB payloads ----------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import os, sys
    from p8j.journal import SessionManager
    mgr = SessionManager(sys.argv[1])
    sid = mgr.start_session("kill").session_id
    print(sid, flush=True)
    i = 0
    while True:
        payload = (b"%08d" % i) * (4 << 20)  # 32 MiB, different each time
        mgr.record_message({"role": "tool", "content": payload.decode()})
        i += 1
        print(i, flush=True)
    """
)


@pytest.mark.slow
def test_kill_9_during_32_mib_payloads_leaves_no_torn_record(home: Home) -> None:
    for delay in (0.0, 0.15, 0.4):
        with subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(home.path)], stdout=subprocess.PIPE, text=True
        ) as child:
            assert child.stdout is not None
            sid = child.stdout.readline().strip()
            assert child.stdout.readline().strip() == "1"  # one whole record is in
            time.sleep(delay)  # lands the kill somewhere inside a later record
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        events, cursor = read_events(home.log_path(sid), session_id=sid)
        assert cursor.torn is None and cursor.issues == []  # not one torn line
        messages = [e for e in events if isinstance(e, MessageRecorded)]
        assert len(messages) >= 1
        for ev in messages:  # every record refers to a whole, fsynced blob
            (ref,) = ev.blobs
            assert ref.size == 32 << 20
            data = (home.blobs_dir / ref.sha256).read_bytes()
            assert hashlib.sha256(data).hexdigest() == ref.sha256
        session = load_session(sid, home)
        assert all(len(m["content"]) == 32 << 20 for m in session.conversation_history)
        with SessionManager(home) as mgr:
            mgr.resume_session(sid)  # resumes cleanly, nothing to repair
            assert mgr.current_session is not None
    # A kill can leave a half-written temporary file behind, never a damaged blob.
    for name in os.listdir(home.blobs_dir):
        if not name.startswith(".tmp-"):
            data = (home.blobs_dir / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == name
