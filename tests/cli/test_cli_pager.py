"""The pager, for real: `p8j` in a pseudo-terminal (pexpect) with less and with small programs."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pexpect  # type: ignore[import-untyped]
import pytest

from p8j.cli.pager import pager_command
from p8j.journal import Home, SessionManager

from .cli_helpers import SGR, run_p8j

LAST_LINE = "the very last line of the output"


def _env(home: Home, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PAGER", "P8J_PAGER", "LESS", "LV")}
    env.update(P8J_HOME=str(home.path), TERM="xterm-256color", **extra)
    return env


def _spawn(home: Home, *args: str, **env: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "p8j.cli", *args],
        env=_env(home, **env),
        dimensions=(24, 100),
        timeout=20,
    )


def _finish(child: pexpect.spawn) -> tuple[int, bytes]:
    child.expect(pexpect.EOF)
    out: bytes = child.before
    child.close()
    return child.exitstatus, out


def _long_session(home: Home) -> str:
    mgr = SessionManager(home)
    s = mgr.start_session("pager")
    for i in range(60):
        mgr.record_message({"role": "user", "content": f"message number {i}"})
    mgr.record_command(f"echo {LAST_LINE}")
    mgr.end_session()
    return s.session_id


@pytest.mark.parametrize(
    "args",
    [["replay"], ["export", "-f", "md"], ["search", "message number"]],
    ids=["replay", "export-md", "search"],
)
def test_long_output_goes_to_the_pager_on_a_terminal(
    p8j_home: Home, tmp_path: Path, args: list[str]
) -> None:
    _long_session(p8j_home)
    paged = tmp_path / "paged"
    child = _spawn(p8j_home, *args, P8J_PAGER=f"cat > {paged}")
    code, screen = _finish(child)
    assert code == 0, screen
    text = paged.read_text()
    assert "message number 59" in SGR.sub("", text)  # everything went to the pager ...
    assert b"message number" not in screen  # ... and none of it to the terminal
    if args[0] != "export":
        assert "\x1b[" in text  # colour is kept for the pager (less -R shows it)


def test_p8j_pager_wins_over_pager_and_cat_means_none(p8j_home: Home, tmp_path: Path) -> None:
    _long_session(p8j_home)
    first, second = tmp_path / "first", tmp_path / "second"
    code, _ = _finish(
        _spawn(p8j_home, "replay", P8J_PAGER=f"cat > {first}", PAGER=f"cat > {second}")
    )
    assert code == 0 and first.exists() and not second.exists()
    code, _ = _finish(_spawn(p8j_home, "replay", PAGER=f"cat > {second}"))
    assert code == 0 and second.exists()
    code, screen = _finish(_spawn(p8j_home, "replay", P8J_PAGER="cat", PAGER="false"))
    assert code == 0 and LAST_LINE.encode() in screen


def test_no_pager_and_json_and_pipes_are_never_paged(p8j_home: Home, tmp_path: Path) -> None:
    sid = _long_session(p8j_home)
    paged = tmp_path / "paged"
    pager = f"cat > {paged}"
    code, screen = _finish(_spawn(p8j_home, "replay", "--no-pager", P8J_PAGER=pager))
    assert code == 0 and LAST_LINE.encode() in screen
    code, screen = _finish(_spawn(p8j_home, "--no-pager", "replay", P8J_PAGER=pager))
    assert code == 0 and LAST_LINE.encode() in screen
    code, screen = _finish(_spawn(p8j_home, "replay", "--json", P8J_PAGER=pager))
    assert code == 0 and sid.encode() in screen
    assert not paged.exists()
    # stdout a pipe, stdin and stderr still the test's: no pager either.
    piped = run_p8j("replay", home=p8j_home.path, env=_env(p8j_home, P8J_PAGER=pager))
    assert piped.returncode == 0 and LAST_LINE in piped.stdout.decode()
    assert not paged.exists()


def test_a_pager_quit_early_ends_quietly(p8j_home: Home, tmp_path: Path) -> None:
    mgr = SessionManager(p8j_home)
    mgr.start_session("big")
    for i in range(3000):
        mgr.record_message({"role": "user", "content": f"line {i} " + "y" * 200})
    mgr.end_session()
    got = tmp_path / "got"
    code, screen = _finish(_spawn(p8j_home, "replay", P8J_PAGER=f"head -c 100 > {got}"))
    assert code == 0, screen
    assert len(got.read_bytes()) == 100
    assert b"Traceback" not in screen and b"line 2999" not in screen  # nothing leaks after it


@pytest.mark.skipif(shutil.which("less") is None, reason="less is not installed")
def test_less_shows_a_screenful_and_q_quits(p8j_home: Home) -> None:
    _long_session(p8j_home)
    child = _spawn(p8j_home, "replay")  # no P8J_PAGER, no PAGER: less with LESS=FRX
    child.expect("message number 1")
    started = time.monotonic()
    # One screenful, then less waits for a key: the end is not shown (without a pager it
    # would be printed at once).
    assert child.expect([LAST_LINE, pexpect.TIMEOUT], timeout=1.5) == 1
    assert b"message number 40" not in child.before
    child.send("G")  # to the end
    child.expect(LAST_LINE)
    child.send("q")
    code, _ = _finish(child)
    assert code == 0
    assert time.monotonic() - started < 20


@pytest.mark.skipif(shutil.which("less") is None, reason="less is not installed")
def test_less_quits_at_once_when_it_all_fits(p8j_home: Home) -> None:
    mgr = SessionManager(p8j_home)
    mgr.start_session("short")
    mgr.record_message({"role": "user", "content": "only a few lines"})
    mgr.end_session()
    code, screen = _finish(_spawn(p8j_home, "replay"))  # LESS=FRX: F quits, X keeps it shown
    assert code == 0 and b"only a few lines" in screen


def test_pager_command(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("P8J_PAGER", "PAGER"):
        monkeypatch.delenv(var, raising=False)
    assert pager_command() == "less"
    monkeypatch.setenv("PAGER", "more")
    assert pager_command() == "more"
    monkeypatch.setenv("P8J_PAGER", " ")
    assert pager_command() is None  # an empty P8J_PAGER turns paging off, as git's does
    monkeypatch.setenv("P8J_PAGER", "cat")
    assert pager_command() is None
