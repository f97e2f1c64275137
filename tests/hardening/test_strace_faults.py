"""Real system-call faults: strace injects ENOSPC/EIO into the writer's own write and fdatasync.

The storage-layer suite (test_faults.py) covers every call in-process; this one
checks the same promises against the kernel interface itself, where strace is
available and allowed to trace (it is skipped otherwise).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from p8j.journal import Home, SessionManager
from p8j.journal.store.fs import read_events
from p8j.replay import load_session

STRACE = shutil.which("strace")

_CHILD = textwrap.dedent(
    """
    import sys
    from p8j.journal import SessionManager, P8jError
    mgr = SessionManager(sys.argv[1], durability="fsync")
    sid = mgr.start_session("strace").session_id
    acked, errors = [0], []
    for i in range(6):
        try:
            acked.append(mgr.record_message({"role": "user", "content": f"m{i}"}))
        except P8jError as exc:
            errors.append(str(exc))
    try:
        mgr.close()
    except P8jError as exc:
        errors.append(str(exc))
    print(repr((sid, acked, errors)), flush=True)  # the only write not to the journal
    """
)


def _traced(home: Path, syscall: str, err: str, when: int) -> tuple[str, list[int], list[str]]:
    proc = subprocess.run(
        [
            str(STRACE),
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            f"trace={syscall}",
            "-e",
            f"inject={syscall}:error={err}:when={when}",
            sys.executable,
            "-c",
            _CHILD,
            str(home),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "ptrace" in proc.stderr and "not permitted" in proc.stderr:
        pytest.skip("ptrace is not permitted here")
    assert proc.returncode == 0, proc.stderr[-2000:]
    sid, acked, errors = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    return sid, acked, errors


@pytest.mark.slow
@pytest.mark.skipif(STRACE is None, reason="strace is not installed")
@pytest.mark.parametrize(("syscall", "err"), [("write", "ENOSPC"), ("fdatasync", "EIO")])
def test_injected_syscall_faults_never_lose_or_invent_an_event(
    tmp_path: Path, syscall: str, err: str
) -> None:
    # Calls made before start_session returned are left out (a failed start is tested in
    # test_faults.py), and so are calls after the journal's last one (the child's print).
    first = 2 if syscall == "write" else 3
    failed_runs = 0
    for when in range(first, 9):
        home = Home(tmp_path / f"{syscall}-{when}")
        sid, acked, errors = _traced(home.path, syscall, err, when)
        failed_runs += bool(errors)
        events, cursor = read_events(home.log_path(sid), session_id=sid)
        seqs = [e.seq for e in events]
        assert seqs == list(range(len(seqs)))  # no gap
        assert set(acked) <= set(seqs)  # every acknowledged event is in the file
        assert cursor.torn is None  # a failed write was rolled back to a line boundary
        if syscall == "fdatasync" and errors:
            # After a failed fsync the writer refused everything until reopened.
            assert all("fdatasync failed" in e or "stopped accepting" in e for e in errors)
            assert acked == list(range(len(acked)))  # nothing acknowledged after the failure
        if load_session(sid, home).status != "completed":
            with SessionManager(home) as mgr:  # reopening is the way on
                mgr.resume_session(sid)
                mgr.record_message({"role": "user", "content": "after"})
                mgr.end_session()
        events, cursor = read_events(home.log_path(sid), session_id=sid)
        assert [e.seq for e in events] == list(range(len(events))) and cursor.torn is None
    assert failed_runs >= 5  # the injected faults did reach the journal
