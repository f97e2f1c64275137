"""The picker, driven in a real pseudo-terminal (pexpect): filter, move, choose, cancel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect  # type: ignore[import-untyped]
import pytest

from p8j.cli.picker import SESSION_COMMANDS, NoTerminalError, handle_session_command, matches
from p8j.cli.render import cell_width
from p8j.journal import Home, SessionManager
from p8j.replay import list_sessions

from .cli_helpers import hostile_session

READY = "Enter choose"  # in the status line once the picker is drawn


def _env(home: Home) -> dict[str, str]:
    return dict(os.environ, P8J_HOME=str(home.path), TERM="xterm-256color")


def _spawn(home: Home, *args: str, shell: str | None = None) -> pexpect.spawn:
    if shell is not None:
        return pexpect.spawn(
            "bash", ["-c", shell], env=_env(home), dimensions=(30, 140), timeout=20
        )
    return pexpect.spawn(
        sys.executable,
        ["-m", "p8j.cli", "pick", *args],
        env=_env(home),
        dimensions=(30, 140),
        timeout=20,
    )


def _finish(child: pexpect.spawn) -> tuple[int, bytes]:
    child.expect(pexpect.EOF)
    out: bytes = child.before
    child.close()
    return child.exitstatus, out


def test_filter_and_choose_prints_the_id(p8j_home: Home, demo_ids: list[str]) -> None:
    child = _spawn(p8j_home)
    child.expect(READY)
    child.send("api\r")
    code, out = _finish(child)
    assert code == 0
    assert out.rstrip().endswith(demo_ids[1].encode())


def test_arrow_keys_move(p8j_home: Home, demo_ids: list[str], tmp_path: Path) -> None:
    target = tmp_path / "picked"
    # stdout captured, as in mycli --resume "$(p8j pick)": the UI still reaches the terminal.
    child = _spawn(p8j_home, shell=f"{sys.executable} -m p8j.cli pick > {target}")
    child.expect(READY)
    child.send("\x1b[B\x1b[B\x1b[A\x1b[B\r")  # down, down, up, down: the third newest
    code, _ = _finish(child)
    assert code == 0
    assert target.read_text() == demo_ids[0] + "\n"


def test_filter_by_conversation_content(
    p8j_home: Home, demo_ids: list[str], tmp_path: Path
) -> None:
    target = tmp_path / "picked"
    child = _spawn(p8j_home, shell=f"{sys.executable} -m p8j.cli pick > {target}")
    child.expect(READY)
    child.send("sliding window\r")  # only in api-server's second user message
    code, _ = _finish(child)
    assert code == 0 and target.read_text() == demo_ids[1] + "\n"


def test_initial_query_and_json(p8j_home: Home, demo_ids: list[str], tmp_path: Path) -> None:
    target = tmp_path / "picked"
    child = _spawn(p8j_home, shell=f"{sys.executable} -m p8j.cli pick docs --json > {target}")
    child.expect(READY)
    child.send("\r")
    code, _ = _finish(child)
    assert code == 0 and target.read_text() == f'{{"session_id":"{demo_ids[2]}"}}\n'


def test_escape_cancels_with_exit_1(p8j_home: Home, demo_ids: list[str], tmp_path: Path) -> None:
    target = tmp_path / "picked"
    child = _spawn(p8j_home, shell=f"{sys.executable} -m p8j.cli pick > {target}")
    child.expect(READY)
    child.send("\x1b")
    code, out = _finish(child)
    assert code == 1 and target.read_text() == ""
    assert b"no session chosen" in out


def test_project_option(p8j_home: Home, demo_ids: list[str], tmp_path: Path) -> None:
    target = tmp_path / "picked"
    child = _spawn(p8j_home, shell=f"{sys.executable} -m p8j.cli pick --project web* > {target}")
    child.expect(READY)
    child.send("\r")
    code, _ = _finish(child)
    assert code == 0 and target.read_text() == demo_ids[0] + "\n"


def test_no_match_then_enter_chooses_nothing(p8j_home: Home, demo_ids: list[str]) -> None:
    child = _spawn(p8j_home, "--status", "paused")
    child.expect(READY)
    child.send("zzzz-nothing\r")
    code, _ = _finish(child)
    assert code == 1


def test_hostile_text_never_reaches_the_screen(p8j_home: Home) -> None:
    sid = hostile_session(p8j_home)
    child = _spawn(p8j_home)
    child.expect(READY)
    child.send("evil\r")  # filters on the escaped project name
    code, out = _finish(child)
    assert code == 0 and out.rstrip().endswith(sid.encode())
    for payload in (b"\x1b]0;", b"\x1b]52;", b"\xc2\x9b", "\u202e".encode(), b"\x07"):
        assert payload not in out, payload


def test_no_terminal(p8j_home: Home, demo_ids: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "p8j.cli", "pick"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=_env(p8j_home),
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == b"p8j: p8j pick needs a terminal (none of stdin, stdout, stderr is one)\n"


def test_empty_journal(p8j_home: Home) -> None:
    child = _spawn(p8j_home)
    code, out = _finish(child)
    assert code == 1 and b"no sessions to pick from" in out


HOST = """
import sys
from p8j.cli.picker import handle_session_command
from p8j.journal import SessionManager
mgr = SessionManager(sys.argv[1])
session = handle_session_command(sys.argv[2], mgr)
print("RESUMED", session and session.session_id, session and session.status, flush=True)
mgr.close()
"""


@pytest.mark.parametrize("command", SESSION_COMMANDS)
def test_host_session_command_picks_and_resumes(
    p8j_home: Home, demo_ids: list[str], tmp_path: Path, command: str
) -> None:
    script = tmp_path / "host.py"
    script.write_text(HOST)
    child = pexpect.spawn(
        sys.executable,
        [str(script), str(p8j_home.path), command],
        env=_env(p8j_home),
        dimensions=(30, 140),
        timeout=20,
    )
    child.expect(READY)
    child.send("\r")  # the newest resumable session: docs-site (crashed)
    code, out = _finish(child)
    assert code == 0, out
    assert f"RESUMED {demo_ids[2]} active".encode() in out
    events = p8j_home.log_path(demo_ids[2]).read_bytes().splitlines()
    assert b'"recovered":true' in events[-2] or b'"recovered":true' in events[-1]


def test_host_session_command_with_an_id_needs_no_terminal(
    p8j_home: Home, demo_ids: list[str]
) -> None:
    mgr = SessionManager(p8j_home)
    try:
        session = handle_session_command(f"/sess {demo_ids[1][:13]}", mgr)
        assert session is not None and session.session_id == demo_ids[1]
        assert session.status == "active"
    finally:
        mgr.close()
    with pytest.raises(ValueError, match="not a session command"):
        handle_session_command("/help", mgr)


def test_host_session_command_without_terminal_raises(
    p8j_home: Home, demo_ids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    for name in ("stdin", "stdout", "stderr"):
        monkeypatch.setattr(sys, name, io.StringIO())
    mgr = SessionManager(p8j_home)
    with pytest.raises(NoTerminalError):
        handle_session_command("/resume", mgr)
    mgr.close()


def test_matches(p8j_home: Home, demo_ids: list[str]) -> None:
    rows = {r.project_name: r for r in list_sessions(p8j_home)}
    web = rows["webshop"]
    assert matches(web, ["webshop"]) and matches(web, ["checkout", "coupon"])
    assert matches(web, [web.session_id[:8]]) and matches(web, ["completed"])
    assert not matches(web, ["checkout", "zebra"])
    assert matches(web, ["zebra"], content="a zebra crossing")


@pytest.mark.parametrize(
    ("keys", "row"),
    [
        ("\x0e\x0e\x10", 1),  # Ctrl-N, Ctrl-N, Ctrl-P: the second newest
        ("\x1b[6~", 2),  # PageDown: clamped to the last (oldest) row
        ("\x1b[6~\x1b[5~\x0e", 1),  # PageDown, PageUp (back to the top), Ctrl-N
    ],
)
def test_ctrl_keys_and_pages_move(
    p8j_home: Home, demo_ids: list[str], tmp_path: Path, keys: str, row: int
) -> None:
    target = tmp_path / "picked"
    child = _spawn(p8j_home, shell=f"{sys.executable} -m p8j.cli pick > {target}")
    child.expect(READY)
    for key in keys.split("\x1b"):  # one escape sequence at a time, as a terminal sends them
        child.send(("\x1b" + key) if key.startswith("[") else key)
    child.send("\r")
    code, _ = _finish(child)
    newest_first = demo_ids[::-1]
    assert code == 0 and target.read_text() == newest_first[row] + "\n"


def test_picker_state_without_a_terminal(p8j_home: Home, demo_ids: list[str]) -> None:
    from p8j.cli.picker import _Picker

    rows = list_sessions(p8j_home)  # newest first: docs-site, api-server, webshop
    picker = _Picker(p8j_home, rows, "")
    picker.index.build()
    picker.refilter()
    assert picker.choice() == demo_ids[2] and len(picker.shown) == 3
    picker.move(10)
    assert picker.choice() == demo_ids[0]  # clamped to the last row
    picker.move(-1)
    assert picker.choice() == demo_ids[1]
    picker.buffer.text = "sliding window"  # only in api-server's conversation
    assert [r.session_id for r in picker.shown] == [demo_ids[1]] and picker.selected == 0
    assert "1/3 sessions" in picker.status_fragments()[0][1]
    head, body = picker.preview_fragments()
    assert demo_ids[1] in head[1] and "sliding window" in body[1].lower()
    assert list(picker.previews) == [demo_ids[1]]
    picker.buffer.text = "zebra-nothing"
    assert picker.shown == [] and picker.choice() is None
    assert picker.list_fragments() == [("class:dim", "  no session matches")]
    assert picker.preview_fragments() == []
    picker.move(1)
    assert picker.selected == 0


def test_escape_is_not_delayed(p8j_home: Home, demo_ids: list[str]) -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from p8j.cli.picker import ESC_DELAY, _Picker

    with create_pipe_input() as pipe:
        app = _Picker(p8j_home, list_sessions(p8j_home), "").make_app(pipe, DummyOutput())
        # prompt_toolkit waits ttimeoutlen (0.5 s by default) after Esc for a sequence.
        assert app.ttimeoutlen == ESC_DELAY <= 0.05


def test_preview_shows_the_end_wrapped_between_words(p8j_home: Home) -> None:
    from p8j.cli.picker import _Picker

    mgr = SessionManager(p8j_home)
    s = mgr.start_session("long-talk")
    words = [f"word{i:03d}" for i in range(120)]
    for i in range(100):
        mgr.record_message({"role": "user", "content": f"message {i} " + " ".join(words)})
    mgr.pause_session()
    picker = _Picker(p8j_home, list_sessions(p8j_home), "")
    picker.refilter()
    head, body = picker.preview_fragments()
    lines = body[1].split("\n")
    assert s.session_id in head[1]
    # The end of the last message, not the start of the first.
    assert lines[-1].split()[-1] == "word119" and "message 0 " not in body[1]
    assert "long-talk · paused · 100 messages" in lines[0]
    width = picker.preview_width()
    assert max(cell_width(ln) for ln in lines) <= width
    for line in lines[2:]:
        for token in line.split():
            assert token in words or token in ("user", "message", "…") or token.isdigit(), line
    assert len(lines) <= picker.size()[1]  # what fits: the end stays visible


def test_divider_does_not_move(p8j_home: Home, demo_ids: list[str]) -> None:
    from prompt_toolkit.layout import VSplit, Window

    from p8j.cli.picker import _Picker

    picker = _Picker(p8j_home, list_sessions(p8j_home), "")
    picker.refilter()
    root = picker.layout().container
    body = next(c for c in root.get_children() if isinstance(c, VSplit) and len(c.children) == 3)
    listing, _divider, preview = body.children
    assert isinstance(listing, Window) and isinstance(preview, Window)
    widths = set()
    for _ in range(3):
        picker.preview_fragments()
        lw, pw = listing.preferred_width(200), preview.preferred_width(200)
        assert lw.min == lw.max and pw.min == pw.max  # exact: content cannot push it
        widths.add((lw.preferred, pw.preferred))
        picker.move(1)
    assert len(widths) == 1


def test_preview_says_the_state_ls_shows(p8j_home: Home, demo_ids: list[str]) -> None:
    from p8j.cli.picker import _Picker

    picker = _Picker(p8j_home, list_sessions(p8j_home), "")
    picker.refilter()  # newest first: docs-site, left active with no writer
    _head, body = picker.preview_fragments()
    assert body[1].startswith("docs-site · crashed · 3 messages · 1 command")


def test_cwd_option_and_activity_order(p8j_home: Home, tmp_path: Path) -> None:
    here = tmp_path / "here"
    here.mkdir()
    mgr = SessionManager(p8j_home)
    older = mgr.start_session("older-here", cwd=str(here)).session_id
    mgr.pause_session()
    newer = mgr.start_session("newer-here", cwd=str(here)).session_id
    mgr.end_session()
    mgr.start_session("elsewhere", cwd=str(tmp_path))  # more recently active than `newer`
    mgr.end_session()
    mgr.resume_session(older)  # the most recently active of those started here
    mgr.record_message({"role": "user", "content": "touched last"})
    mgr.pause_session()
    target = tmp_path / "picked"
    for keys, expected in (("\r", older), ("\x1b[B\r", newer)):
        # One down: without the filter it would be "elsewhere".
        shell = f"cd {here} && {sys.executable} -m p8j.cli pick --cwd . > {target}"
        child = _spawn(p8j_home, shell=shell)
        child.expect(READY)
        child.send(keys)
        code, _ = _finish(child)
        assert code == 0 and target.read_text() == expected + "\n"


def test_the_picker_reads_any_store() -> None:
    from p8j.cli.picker import _Picker
    from p8j.journal import MemoryStore

    store = MemoryStore()
    with SessionManager(store=store) as mgr:
        first = mgr.start_session("kept-in-memory").session_id
        mgr.record_message({"role": "user", "content": "the sliding window bug"})
        mgr.end_session()
        second = mgr.start_session("other").session_id
        mgr.record_message({"role": "user", "content": "nothing to see"})
    picker = _Picker(store, list_sessions(store), "")
    picker.index.build()  # the conversation text, read through the store's cursors
    picker.refilter()
    assert [r.session_id for r in picker.shown] == [second, first]
    picker.buffer.text = "sliding window"
    assert [r.session_id for r in picker.shown] == [first]
    head, body = picker.preview_fragments()  # loaded with load_session(store=...)
    assert first in head[1] and "sliding window" in body[1]
    assert "kept-in-memory · completed · 1 message" in body[1]
