"""Simulated power loss: every crash state a recorded run could leave recovers to a good prefix.

The model (what a power loss may keep of a file): everything a completed
fsync/fdatasync covered, plus any prefix of the later writes in order, the last
of them possibly torn. A rename is kept once its directory was fsynced; before
that, the old or the new name binding may survive. For each crash state the
log is recovered the way p8j does it (read, then resume, which repairs a torn
tail) and must hold a gap-free prefix with every event acknowledged as durable.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fakes import FAKES

from p8j.journal import Home, SessionManager
from p8j.journal.secrets.rewrite import redact_session
from p8j.journal.store.fs import read_events
from p8j.journal.store.fs.writer import Durability

from .storages import Op, RecordingStorage

TORN = (1, 2)  # torn writes keep 1 byte, or half (see _cuts)


def _scenario(home: Home, durability: Durability, rec: RecordingStorage) -> str:
    mgr = SessionManager(
        home,
        durability=durability,
        storage=rec,
        batch_max_events=3,
        batch_interval_ms=10_000,  # batch syncs come from the count, so runs repeat exactly
        redact=False,  # leave a secret in the log for the rewrite below
    )
    sid = mgr.start_session("power").session_id
    rec.note(("ack", 0, True))
    for i in range(7):
        seq = mgr.record_message({"role": "user", "content": f"message {i}"})
        rec.note(("ack", seq, durability == "fsync"))
    seq = mgr.record_execution("cat big", 0, "b" * (300 * 1024))  # a blob
    rec.note(("ack", seq, durability == "fsync"))
    seq = mgr.record_message({"role": "user", "content": f"token {FAKES.github}"})
    rec.note(("ack", seq, durability == "fsync"))
    mgr.save_session()
    rec.note(("ack", seq, True))  # save_session returned: all so far is durable
    for i in range(4):
        seq = mgr.record_command(f"cmd {i}")
        rec.note(("ack", seq, durability == "fsync"))
    session = mgr.end_session()
    rec.note(("ack", session.last_seq, True))
    rec.note(("redact",))
    redact_session(home, sid, storage=rec)
    rec.note(("redacted",))
    return sid


def _apply(content: bytes, op: Op, torn: int | None = None) -> bytes:
    if op.kind == "write":
        data = op.data if torn is None else op.data[:torn]
        return content + data
    if op.kind == "ftruncate":
        return content[: op.size]
    return content


def _states(ops: list[Op], path: str, cut: int) -> set[bytes]:
    """Every content `path` (a file, by its inode's history) may have after a crash at `cut`."""
    mine = [(i, op) for i, op in enumerate(ops[:cut]) if op.path == path]
    covered = max((op.size for i, op in mine if op.kind == "fsync"), default=0)
    durable = b""
    pending: list[Op] = []
    for i, op in mine:
        if op.kind in ("write", "ftruncate"):
            if i < covered:
                durable = _apply(durable, op)
            else:
                pending.append(op)
    states = set()
    content = durable
    states.add(content)
    for op in pending:
        if op.kind == "write" and len(op.data) > 1:
            for t in (1, len(op.data) // 2, len(op.data) - 1):
                states.add(_apply(content, op, t))
        content = _apply(content, op)
        states.add(content)
    return states


def _recover(tmp: Path, sid: str, content: bytes, blobs: Path) -> list[int]:
    """Write `content` as the log of a fresh home, recover it; return the seqs it yields."""
    home = Home(tmp)
    home.ensure()
    log = home.log_path(sid)
    log.write_bytes(content)
    for name in os.listdir(blobs):
        if not name.startswith("."):
            os.link(blobs / name, home.blobs_dir / name)
    events, cursor = read_events(log, session_id=sid)  # raises on anything but a torn tail
    seqs = [e.seq for e in events]
    assert seqs == list(range(len(seqs)))
    assert cursor.issues == []
    if events and type(events[-1]).__name__ != "SessionEnded":
        mgr = SessionManager(home, redact=False)
        mgr.resume_session(sid)  # repairs a torn tail, appends SessionResumed
        mgr.record_message({"role": "user", "content": "after the crash"})
        mgr.close()
        again, cursor = read_events(log, session_id=sid)
        assert [e.seq for e in again] == list(range(len(again))) and cursor.torn is None
    return seqs


@pytest.mark.parametrize("durability", ["fsync", "batch"])
def test_every_crash_state_recovers_a_prefix_with_every_durable_event(
    tmp_path: Path, durability: Durability
) -> None:
    home = Home(tmp_path / "home")
    rec = RecordingStorage()
    sid = _scenario(home, durability, rec)
    ops = rec.ops
    log = str(home.log_path(sid))
    blobs = home.blobs_dir
    redact_at = next(i for i, op in enumerate(ops) if op.note == ("redact",))
    start_ack = next(i for i, op in enumerate(ops) if op.kind == "note")
    seen: dict[bytes, list[int]] = {}
    checked = 0
    for cut in range(start_ack, redact_at + 1):
        acked = {
            op.note[1]
            for op in ops[:cut]
            if op.kind == "note" and op.note[0] == "ack" and op.note[2]
        }
        for content in _states(ops, log, cut):
            key = hashlib.sha256(content).digest()
            if key not in seen:
                checked += 1
                seen[key] = _recover(tmp_path / f"s{checked}", sid, content, blobs)
            missing = acked - set(seen[key])
            assert not missing, f"crash at op {cut} lost acknowledged seqs {sorted(missing)}"
    assert checked > 20
    # A blob is renamed into place and its directory fsynced before its event is written.
    for i, op in enumerate(ops):
        if op.kind == "write" and op.path == log and b'"blobs":[' in op.data:
            digest = msgspec.json.decode(op.data)["blobs"][0]["sha256"]
            renamed = max(
                j for j, o in enumerate(ops[:i]) if o.kind == "replace" and o.dest.endswith(digest)
            )
            assert any(o.kind == "fsync_dir" and o.path == str(blobs) for o in ops[renamed:i])
            tmp_name = ops[renamed].path
            assert any(o.kind == "fsync" and o.path == tmp_name for o in ops[:renamed])


@pytest.mark.parametrize("durability", ["fsync", "batch"])
def test_a_crash_during_a_redact_rewrite_leaves_the_old_or_the_new_log_whole(
    tmp_path: Path, durability: Durability
) -> None:
    home = Home(tmp_path / "home")
    rec = RecordingStorage()
    sid = _scenario(home, durability, rec)
    ops = rec.ops
    log = str(home.log_path(sid))
    begin = next(i for i, op in enumerate(ops) if op.note == ("redact",))
    end = next(i for i, op in enumerate(ops) if op.note == ("redacted",))
    old = b"".join(_apply(b"", op) for op in ops[:begin] if op.path == log and op.kind == "write")
    (rename,) = [i for i in range(begin, end) if ops[i].kind == "replace"]
    tmp = ops[rename].path
    assert ops[rename].dest == log
    new_options: list[tuple[int, bytes]] = []
    seen_old = seen_new = 0
    for cut in range(begin, end + 1):
        candidates: list[bytes] = []
        if cut <= rename:
            candidates.append(old)
        else:
            synced = any(o.kind == "fsync_dir" for o in ops[rename:cut])
            new = b"".join(o.data for o in ops[begin:rename] if o.path == tmp and o.kind == "write")
            # The temporary file was fsynced before the rename: the new log is whole.
            assert any(o.kind == "fsync" and o.path == tmp for o in ops[begin:rename])
            candidates.append(new)
            if not synced:
                candidates.append(old)
            new_options.append((cut, new))
        for content in candidates:
            seqs = _recover(tmp_path / f"r{cut}-{len(content)}", sid, content, home.blobs_dir)
            assert seqs == list(range(len(old.split(b"\n")) - 1))
            if content == old:
                seen_old += 1
            else:
                seen_new += 1
                assert FAKES.github.encode() not in content
    assert seen_old and seen_new and new_options


def test_the_recorder_sees_the_syncs_it_claims(tmp_path: Path) -> None:
    # The model above is only as good as the recording: check it saw the real thing.
    home = Home(tmp_path / "home")
    rec = RecordingStorage()
    sid = _scenario(home, "fsync", rec)
    log = str(home.log_path(sid))
    writes = [op for op in rec.ops if op.path == log and op.kind == "write"]
    syncs = [op for op in rec.ops if op.path == log and op.kind == "fsync"]
    assert len(syncs) >= len(writes)  # fsync mode: a sync per record
    redacted = Path(log).read_bytes()
    recorded: Any = b"".join(
        op.data
        for op in rec.ops
        if op.kind == "write"
        and op.path.endswith(".tmp")
        and op.path.startswith(str(home.sessions_dir))
    )
    assert recorded == redacted
