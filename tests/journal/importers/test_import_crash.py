"""kill -9 an import at random points, run it again: the same result as one clean run."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fake_importers import CLAUDE_LIKE
from journal_helpers import kill_and_reap, read_line

from p8j.journal.events import SessionResumed
from p8j.journal.importers.base import event_origin
from p8j.journal.importers.engine import import_path
from p8j.journal.store.fs.store import FileStore

CHILD = Path(__file__).resolve().parents[2] / "import_child.py"


def make_source(root: Path, seed: int) -> None:
    """Three session files, with big payloads (blobs), inline sidechains and raw records."""
    rng = random.Random(seed)
    for n in range(3):
        lines = []
        for i in range(150):
            role = "user" if i % 2 == 0 else "assistant"
            text = f"s{n} m{i} " + "y" * rng.choice((10, 1000, 300_000 if i % 37 == 5 else 10))
            rec: dict[str, Any] = {
                "type": role,
                "uuid": f"{n}-{i}",
                "timestamp": f"2026-02-0{n + 1}T00:{i // 60:02d}:{i % 60:02d}Z",
                "message": {"role": role, "content": text},
            }
            if i % 11 == 3:
                rec.update(isSidechain=True, agentId=f"side{n}")
            if i % 13 == 7:
                rec = {"type": "progress", "i": i}
            lines.append(json.dumps(rec))
        path = root / f"p{n}" / f"s{n}.jsonl"
        path.parent.mkdir(parents=True)
        path.write_text("\n".join(lines) + "\n")


def imported(home: Path) -> dict[str, list[Any]]:
    """Per session: its imported events without the append-time envelope."""
    store = FileStore(home)
    out = {}
    for sid in store.session_ids():
        events = []
        for ev in store.open_cursor(sid).read():
            if event_origin(ev) is not None or type(ev).__name__ == "SessionStarted":
                d = msgspec.to_builtins(ev)
                for key in ("ts", "seq", "pid", "host", "p8j_version"):
                    d.pop(key, None)
                events.append(d)
        out[sid] = events
    return out


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_import_resumes_to_the_clean_result(seed: int, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_source(src, seed)
    clean = tmp_path / "clean"
    import_path(CLAUDE_LIKE, src, home=clean)
    home = tmp_path / "home"
    rng = random.Random(seed)
    kills = 0
    for _ in range(3):
        stop_at = rng.randrange(1, 450)
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(home), str(src)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            cwd=str(CHILD.parent),
        )
        try:
            seen = 0
            assert proc.stdout is not None
            while True:
                text = read_line(proc.stdout, timeout=60)
                if not text or text == "done\n":
                    break
                seen += 1
                if seen >= stop_at:
                    proc.kill()
                    kills += 1
                    break
        finally:
            kill_and_reap(proc)
    assert kills >= 1
    store = FileStore(home)
    # Sessions a kill left open (no pause after their last record): resumed as a crash.
    left_open = {
        sid for sid in store.session_ids() if "Paused" not in type(last_event(store, sid)).__name__
    }
    report = import_path(CLAUDE_LIKE, src, home=home)
    assert report.ok
    assert imported(home) == imported(clean)
    assert import_path(CLAUDE_LIKE, src, home=home).events == 0
    for sid in left_open:
        resumed = [e for e in store.open_cursor(sid).read() if isinstance(e, SessionResumed)]
        assert resumed and resumed[0].recovered, sid


def last_event(store: FileStore, sid: str) -> Any:
    """The last event of `sid`'s log (a torn tail is not an event)."""
    events = list(store.open_cursor(sid, skip_corrupt=True).read())
    return events[-1]
