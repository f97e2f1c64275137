"""`redact_session` (rewrite.py): secrets in logs already written, removed crash-safely."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from fakes import FAKES, leaky_session

from p8j.cli.main import cli
from p8j.journal import Home, SessionLockedError, SessionManager
from p8j.journal.cache.snapshots import snapshot_path
from p8j.journal.codec import decode_line
from p8j.journal.secrets.rewrite import redact_session
from p8j.journal.secrets.scan import scan_session
from p8j.journal.store.fs import read_events
from p8j.replay import load_session

CASES = FAKES.cases()


def test_redact_rewrites_keeping_seq_and_everything_else(home: Home) -> None:
    sid = leaky_session(home)
    path = home.log_path(sid)
    before_lines = path.read_bytes().split(b"\n")
    before, _ = read_events(path)
    inode = path.stat().st_ino
    report = redact_session(home, sid)
    assert report.changed_lines == 4 and report.lines == len(before_lines) - 1
    raw = path.read_bytes()
    for secret in (FAKES.github, FAKES.stripe, "hunter2", FAKES.anthropic[20:]):
        assert secret.encode() not in raw
    assert b"[REDACTED:" not in before_lines[4]  # what cannot be recognised stays
    assert path.stat().st_ino != inode  # a new file, renamed into place
    after, cursor = read_events(path, session_id=sid)  # every crc checks out
    assert cursor.issues == [] and cursor.torn is None
    assert [(type(e), e.seq, e.ts) for e in after] == [(type(e), e.seq, e.ts) for e in before]
    after_lines = raw.split(b"\n")
    for i, (old, new) in enumerate(zip(before_lines, after_lines, strict=True)):
        if i in (2, 4, 6, 7):  # clean events stay byte-identical
            assert old == new
    ex = after[3]
    assert getattr(ex, "output", None) == "STRIPE_KEY=[REDACTED:stripe-key]\nDEBUG=1\n"
    assert getattr(ex, "redactions", None) == ["stripe-key"]
    assert getattr(ex, "exit_code", None) == 0 and getattr(ex, "command", None) == "cat .env"
    # Running it again changes nothing; scanning finds nothing.
    assert redact_session(home, sid).changed_lines == 0
    assert scan_session(home, sid).findings == []
    # The session still resumes and carries on.
    with SessionManager(home) as mgr:
        mgr.resume_session(sid)
        mgr.record_message({"role": "user", "content": "after redaction"})
        mgr.end_session()
    assert load_session(sid, home).status == "completed"


def test_redact_refuses_while_a_live_writer_holds_the_session(home: Home) -> None:
    sid = leaky_session(home)
    before = home.log_path(sid).read_bytes()
    script = textwrap.dedent(
        f"""
        import sys
        from p8j.journal import SessionManager
        mgr = SessionManager({str(home.path)!r}, redact=False)
        mgr.resume_session({sid!r})
        print("ready", flush=True)
        sys.stdin.readline()
        mgr.close()
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        try:
            assert child.stdout.readline().strip() == "ready"
            with pytest.raises(SessionLockedError, match=f"pid {child.pid}"):
                redact_session(home, sid)
            result = CliRunner().invoke(cli, ["--home", str(home.path), "redact", sid])
            assert result.exit_code == 1
            assert "open for writing" in result.output
            during = home.log_path(sid).read_bytes()
            assert during.startswith(before)  # untouched (the writer appended its resume)
        finally:
            child.stdin.write("\n")
            child.stdin.flush()
            child.wait(timeout=30)
    assert redact_session(home, sid).changed_lines == 4


def test_redact_replaces_blobs_and_drops_stale_caches(home: Home) -> None:
    secret = FAKES.github
    big = ("ordinary build output line\n" * 20_000) + f"GITHUB_TOKEN={secret}\n"
    with SessionManager(home, redact=False) as mgr:
        sid = mgr.start_session("blob").session_id
        mgr.record_execution("make", 0, big)
        mgr.record_message({"role": "user", "content": "ok"})
    old_blobs = set(os.listdir(home.blobs_dir))
    assert len(old_blobs) == 1
    snap = snapshot_path(home, sid)
    snap.parent.mkdir(parents=True, exist_ok=True)
    snap.write_bytes(b"stale copy with " + secret.encode())
    report = redact_session(home, sid)
    assert report.blobs_removed == sorted(old_blobs)
    assert len(report.blobs_written) == 1 and report.blobs_written[0] not in old_blobs
    assert set(os.listdir(home.blobs_dir)) == set(report.blobs_written)
    assert not snap.exists()
    for p in home.path.rglob("*"):
        if p.is_file():
            assert secret.encode() not in p.read_bytes(), p
    session = load_session(sid, home)
    assert session.execution_histories[0]["output"].endswith(
        "GITHUB_TOKEN=[REDACTED:github-token]\n"
    )


def test_a_blob_shared_with_another_session_is_kept(home: Home) -> None:
    big = "x\n" * 200_000 + f"token {FAKES.github}\n"
    with SessionManager(home, redact=False) as mgr:
        a = mgr.start_session("a").session_id
        mgr.record_execution("cat", 0, big)
        b = mgr.start_session("b").session_id
        mgr.record_execution("cat", 0, big)
    (digest,) = os.listdir(home.blobs_dir)
    report = redact_session(home, a)
    assert report.blobs_removed == []  # session b still refers to it
    assert digest in os.listdir(home.blobs_dir)
    assert redact_session(home, b).blobs_removed == [digest]


def test_corrupt_lines_and_torn_sidecars_are_redacted_as_text(home: Home) -> None:
    sid = leaky_session(home)
    path = home.log_path(sid)
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"nothing else", b"nothing else " + FAKES.aws.encode())  # bad crc
    path.write_bytes(b"\n".join(lines))
    home.torn_dir.mkdir(exist_ok=True)
    side = home.torn_dir / f"{sid}.123.torn"
    side.write_bytes(b'{"type":"MessageRecorded","content":"' + FAKES.openai.encode())
    report = redact_session(home, sid)
    assert report.sidecars_rewritten == [side.name]
    assert FAKES.aws.encode() not in path.read_bytes()
    assert FAKES.openai.encode() not in side.read_bytes()
    assert b"[REDACTED:aws-access-key]" in path.read_bytes().split(b"\n")[2]
    fields = {f.field for f in report.findings}
    assert "undecodable line" in fields and f"torn sidecar {side.name}" in fields


def test_an_unknown_event_type_is_redacted_and_re_checksummed(home: Home) -> None:
    sid = leaky_session(home)
    path = home.log_path(sid)
    seq = len(path.read_bytes().split(b"\n")) - 1
    body = json.dumps(
        {
            "type": "FutureThing",
            "v": 2,
            "session_id": sid,
            "seq": seq,
            "ts": "2026-11-24T08:00:00.000000Z",
            "note": f"uses {FAKES.huggingface}",
        },
        separators=(",", ":"),
    ).encode()
    import zlib

    line = body[:-1] + b',"crc":"%08x"}' % zlib.crc32(body)
    with open(path, "ab") as f:
        f.write(line + b"\n")
    redact_session(home, sid)
    last = path.read_bytes().split(b"\n")[-2]
    assert FAKES.huggingface.encode() not in last
    event = decode_line(last)
    assert type(event).__name__ == "UnknownEvent"
    assert msgspec.json.decode(last)["note"] == "uses [REDACTED:huggingface-token]"


def test_redact_refuses_a_hard_linked_log(home: Home, tmp_path: Path) -> None:
    sid = leaky_session(home)
    os.link(home.log_path(sid), tmp_path / "other-name")
    with pytest.raises(Exception, match="hard links"):
        redact_session(home, sid)


def _everywhere(mgr: SessionManager, t: str) -> str:
    """One session with `t` in every place a recording call takes a string, keys too."""
    sid = mgr.start_session(t, {t: t, "n": [{t: 1}]}, cwd=t).session_id
    mgr.record_message({"role": t, "content": [{"type": "text", t: t}], t: {t: t}})
    mgr.record_command(t, cwd=t)
    mgr.record_execution(t, 0, t)  # started_at must be a time: it cannot hold text
    mgr.update_metadata({t: t})
    mgr.pause_session(t)
    mgr.resume_session(sid)
    mgr.end_session(t)
    return sid


_ENVELOPE = ("session_id", "ts", "host", "pid", "p8j_version")


def _comparable(events: list[Any]) -> list[dict[str, Any]]:
    out = []
    for e in events:
        d = msgspec.structs.asdict(e)
        out.append({k: v for k, v in d.items() if k not in _ENVELOPE} | {"type": type(e)})
    return out


@pytest.mark.parametrize(("text", "secret", "rule"), CASES, ids=[c[2] for c in CASES])
def test_scan_and_redact_replace_what_the_writer_would_have(
    tmp_path: Path, text: str, secret: str, rule: str
) -> None:
    """Keys, labels and texts of a log written with redaction off, as redaction on writes them."""
    on, off = Home(tmp_path / "on"), Home(tmp_path / "off")
    with SessionManager(on) as mgr:
        sid_on = _everywhere(mgr, text)
    with SessionManager(off, redact=False) as mgr:
        sid_off = _everywhere(mgr, text)
    written, _ = read_events(on.log_path(sid_on))
    expected = {e.seq: getattr(e, "redactions", []) for e in written}
    report = scan_session(off, sid_off)
    found: dict[int, set[str]] = {}
    for f in report.findings:
        assert f.seq is not None
        found.setdefault(f.seq, set()).update(f.rules)
        assert secret not in f.preview
    assert {seq: sorted(r) for seq, r in found.items()} == {
        seq: r for seq, r in expected.items() if r
    }
    assert any(f.field.endswith("(key)") for f in report.findings)
    redacted = redact_session(off, sid_off)
    assert redacted.changed_lines == sum(1 for r in expected.values() if r) == len(written) - 1
    assert secret.encode() not in off.log_path(sid_off).read_bytes()
    assert json.dumps(secret)[1:-1].encode() not in off.log_path(sid_off).read_bytes()
    rewritten, _ = read_events(off.log_path(sid_off))
    assert _comparable(rewritten) == _comparable(written)
    assert scan_session(off, sid_off).findings == []
