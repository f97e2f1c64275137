"""`p8j import --follow` as a real process while another process appends, `p8j tail` watching."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from p8j.journal import Home

from .cli_helpers import wait_until

TESTS = Path(__file__).resolve().parents[1]


class Proc:
    """A subprocess whose stdout and stderr lines are collected by threads."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.out: list[str] = []
        self.err: list[str] = []
        self.threads = [
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True)
            for stream, sink in ((self.p.stdout, self.out), (self.p.stderr, self.err))
        ]
        for t in self.threads:
            t.start()

    @staticmethod
    def _pump(stream: Any, sink: list[str]) -> None:
        for raw in iter(stream.readline, b""):
            sink.append(raw.decode("utf-8", "replace"))

    def wait_out(self, pred: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        """The first stdout line matching `pred` (fails if the process exits first)."""

        def found() -> bool:
            return any(pred(x) for x in list(self.out)) or self.p.poll() is not None

        wait_until(found, timeout, what)
        for line in list(self.out):
            if pred(line):
                return line
        raise AssertionError(f"exited ({self.p.returncode}) before {what}: {''.join(self.err)}")

    def finish(self, sig: int = signal.SIGINT) -> int:
        """Send `sig` and reap; return the exit code."""
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            return self.p.wait(timeout=20)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()
            for t in self.threads:
                t.join(20)
            for stream in (self.p.stdout, self.p.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture
def env(p8j_home: Home, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment with the fake importers registered as entry points (a real dist-info)."""
    site = tmp_path / "site"
    info = site / "fake_agents-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-agents\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[p8j.importers]\n"
        "fakeclaude = fake_importers:CLAUDE_LIKE\n"
        "fakecodex = fake_importers:CODEX_LIKE\n"
    )
    p8j_home.ensure()
    path = os.pathsep.join([str(site), str(TESTS)])
    yield dict(os.environ, P8J_HOME=str(p8j_home.path), PYTHONPATH=path, PYTHONUNBUFFERED="1")


def claude(i: int, text: str, **extra: Any) -> dict[str, Any]:
    """A Claude-shaped record."""
    role = "user" if i % 2 == 0 else "assistant"
    return {
        "type": role,
        "uuid": f"u{i}",
        "timestamp": f"2026-03-01T00:00:{i:02d}Z",
        "message": {"role": role, "content": text},
        **extra,
    }


def codex(i: int, text: str, **extra: Any) -> dict[str, Any]:
    """A Codex-shaped record."""
    role = "user" if i % 2 == 0 else "assistant"
    payload = {"type": "message", "role": role, "content": text}
    return {"timestamp": f"2026-03-01T00:00:{i:02d}Z", "type": "response_item", "payload": payload}


def append(path: Path, data: bytes) -> None:
    """Append `data` from another process (as the agent would)."""
    code = "import sys; f = open(sys.argv[1], 'ab'); f.write(sys.stdin.buffer.read()); f.close()"
    subprocess.run([sys.executable, "-c", code, str(path)], input=data, check=True, timeout=30)


def line(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode() + b"\n"


@pytest.mark.slow
@pytest.mark.parametrize(("agent", "make"), [("fakeclaude", claude), ("fakecodex", codex)])
def test_follow_imports_lines_as_they_are_written(
    env: dict[str, str],
    tmp_path: Path,
    agent: str,
    make: Callable[..., dict[str, Any]],
) -> None:
    src = tmp_path / "src" / "proj"
    src.mkdir(parents=True)
    main = src / "s1.jsonl"
    main.write_bytes(line(make(0, "first prompt")))
    tail = Proc([sys.executable, "-m", "p8j.cli", "tail", "--json", "-n", "1000000"], env)
    follow = Proc(
        [sys.executable, "-m", "p8j.cli", "import", agent, str(tmp_path / "src"), "--follow",
         "--json"],
        env,
    )  # fmt: skip
    try:
        # The first pass's summary: the watch was registered before it.
        follow.wait_out(lambda x: '"events":1' in x, "the first pass")
        tail.wait_out(lambda x: "first prompt" in x, "the first record in tail")
        n_passes = len(follow.out)
        # Half a line: the agent is writing it; it must not be imported yet.
        whole = line(make(1, "the answer, written in two parts"))
        append(main, whole[:25])
        other = src / "s2.jsonl"
        append(other, line(make(0, "another session")))
        tail.wait_out(lambda x: "another session" in x, "the second session in tail")
        assert not any("the answer" in x for x in tail.out)
        append(main, whole[25:])
        got = tail.wait_out(lambda x: "the answer" in x, "the completed line in tail")
        assert json.loads(got)["content"] == "the answer, written in two parts"
        # Each pass reports the sessions it wrote to (new in the pass, or updated).
        passes = [json.loads(x) for x in list(follow.out)[n_passes:]]
        assert sum(p["sessions_new"] for p in passes) == 1
        assert all(p["sessions_new"] + p["sessions_updated"] >= 1 for p in passes)
        if agent == "fakeclaude":
            sub = src / "s1" / "subagents" / "agent-1.jsonl"
            sub.parent.mkdir(parents=True)
            append(sub, line(make(0, "sub-agent at work")))
            got = tail.wait_out(lambda x: "sub-agent at work" in x, "the sub-agent in tail")
        # The archiver keeps a session its agent deleted.
        other.unlink()
        append(main, line(make(2, "after the delete")))
        tail.wait_out(lambda x: "after the delete" in x, "a record after the delete")
    finally:
        code = follow.finish(signal.SIGINT)
        tail.finish(signal.SIGINT)
    assert code == 0, "".join(follow.err)
    assert "Traceback" not in "".join(follow.err)
    started = [json.loads(x) for x in tail.out if '"SessionStarted"' in x]
    names = {s["source"]["source_id"]: s for s in started}
    assert {"s1", "s2"} <= set(names)
    if agent == "fakeclaude":
        assert names["agent-1"]["parent_id"] == names["s1"]["session_id"]
    # Nothing twice: every imported line appears once in tail.
    contents = [json.loads(x).get("content") for x in tail.out if '"MessageRecorded"' in x]
    assert len(contents) == len(set(contents))


FIXTURES = TESTS / "fixtures"
REAL = {
    "claude": (
        FIXTURES / "claude" / "projects" / "-src-experiments-claude_p",
        "29ccd257-68b1-427f-ae5f-6524b7cb6f20.jsonl",
    ),
    "codex": (
        FIXTURES / "codex",
        "rollout-2026-01-22T10-15-23-019be37c-2706-70c0-8e0e-51985de49079.jsonl",
    ),
}


def _imported(follow: Proc) -> int:
    return sum(json.loads(x)["events"] for x in list(follow.out) if x.startswith("{"))


@pytest.mark.slow
@pytest.mark.parametrize("agent", sorted(REAL))
def test_follow_with_the_real_importers(env: dict[str, str], tmp_path: Path, agent: str) -> None:
    folder, name = REAL[agent]
    lines = (folder / name).read_bytes().splitlines(keepends=True)
    src = tmp_path / "src" / folder.name
    src.mkdir(parents=True)
    main = src / name
    main.write_bytes(lines[0])
    total = len(lines)
    tail = Proc([sys.executable, "-m", "p8j.cli", "tail", "--json", "-n", "1000000"], env)
    follow = Proc(
        [sys.executable, "-m", "p8j.cli", "import", agent, str(tmp_path / "src"), "--follow",
         "--json"],
        env,
    )  # fmt: skip
    try:
        follow.wait_out(lambda x: '"events":1' in x, "the first pass")
        rest = b"".join(lines[1:])
        cut = len(rest) - len(lines[-1]) // 2  # the last line in two writes
        append(main, rest[:cut])
        wait_until(lambda: _imported(follow) >= total - 1, 30, "all but the last line")
        assert _imported(follow) == total - 1  # the half line waits
        append(main, rest[cut:])
        if agent == "claude":
            sub = folder / name.removesuffix(".jsonl") / "subagents" / "agent-a2271d1.jsonl"
            target = src / name.removesuffix(".jsonl") / "subagents" / sub.name
            target.parent.mkdir(parents=True)
            append(target, sub.read_bytes())
            total += len(sub.read_bytes().splitlines())
        wait_until(lambda: _imported(follow) >= total, 30, "every line")
        wait_until(
            lambda: sum('"origin"' in x for x in list(tail.out)) >= total, 30, "tail showing all"
        )
    finally:
        code = follow.finish(signal.SIGINT)
        tail.finish(signal.SIGINT)
    assert code == 0, "".join(follow.err)
    assert "skipped" not in "".join(follow.err)
    starts = [json.loads(x) for x in tail.out if '"SessionStarted"' in x]
    mine = next(s for s in starts if s["source"]["path"] == str(main))
    out = subprocess.run(
        [sys.executable, "-m", "p8j.cli", "export", mine["session_id"], "-f", "native"],
        env=env, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert [json.loads(x) for x in out.stdout.splitlines()] == [json.loads(x) for x in lines]
    if agent == "claude":
        sub_start = next(s for s in starts if s is not mine)
        assert sub_start["parent_id"] == mine["session_id"]
