"""Unsafe homes, hostile caches and odd values through every read-only command.

- A symlinked, group/world-writable or foreign-owned home: every read-only
  command exits 1 with one ``p8j: <home>: <why>`` line, and writes nothing.
- A FIFO or symlink where a cache should be (the catalog, a snapshot, ``cache/``,
  ``cache/snapshots/``): commands complete (a hang fails the test by its
  timeout), show what the logs say, and write nothing through a link.
- Integers beyond 64 bits in metadata and messages: listing, search, tail and
  replay all work, and the catalog still caches the session.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home, SessionManager
from p8j.journal.cache import snapshots
from p8j.journal.cache.snapshots import snapshot_path
from p8j.replay import list_sessions, load_session

from .cli_helpers import record_simple

# Every read-only command; SID stands for the session's id.
READ_ONLY: list[list[str]] = [
    ["ls"],
    ["ls", "--json"],
    ["info"],
    ["info", "--json"],
    ["search", "hello"],
    ["search", "--json", "hello"],
    ["tail", "--no-follow"],
    ["tail", "--no-follow", "SID"],
    ["tail"],  # following: refused before it starts waiting
    ["replay", "SID"],
    ["replay", "--json", "latest"],
    ["export", "SID"],
    ["verify"],
    ["verify", "SID"],
    ["scan"],
    ["scan", "--json", "SID"],
    ["pick"],
    ["pick", "--json"],
]
UNSAFE = ["symlink", "world-writable", "group-writable", "foreign", "file"]


def _args(args: list[str], sid: str) -> list[str]:
    return [sid if a == "SID" else a for a in args]


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under `root` with its size and mtime (symlinks not followed)."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def _make_unsafe(kind: str, home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make the home unsafe in way `kind`; return the words the error must hold."""
    if kind == "symlink":
        link = tmp_path / "link-home"
        link.symlink_to(home.path)
        monkeypatch.setenv("P8J_HOME", str(link))
        return f"{link}: is a symlink"
    if kind == "file":  # P8J_HOME pointing at a file (tail and index said "no journal here")
        plain = tmp_path / "not-a-dir"
        plain.write_text("hello\n")
        monkeypatch.setenv("P8J_HOME", str(plain))
        return f"{plain}: expected a directory, found a regular file"
    if kind == "foreign":
        if os.geteuid() == 0:
            os.chown(home.path, 4242, 4242)  # really another user's directory
        else:
            me = os.geteuid()
            monkeypatch.setattr(os, "geteuid", lambda: me + 4242)
        return f"{home.path}: is owned by uid"
    os.chmod(home.path, 0o757 if kind == "world-writable" else 0o770)
    return f"{home.path}: is group- or world-writable"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", UNSAFE)
def test_every_read_only_command_refuses_an_unsafe_home(
    runner: CliRunner,
    p8j_home: Home,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    sid = record_simple(p8j_home)
    shutil.rmtree(p8j_home.cache_dir)
    before = _tree(p8j_home.path)
    expected = _make_unsafe(kind, p8j_home, tmp_path, monkeypatch)
    for args in READ_ONLY:
        result = runner.invoke(cli, _args(args, sid))
        shown = " ".join(args)
        assert result.exit_code == 1, (shown, result.output)
        assert isinstance(result.exception, SystemExit), (shown, result.exception)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"p8j: {expected}"), (shown, lines)
        assert result.stdout == "", shown
    assert _tree(p8j_home.path) == before  # no catalog, no snapshot, nothing created


@pytest.mark.parametrize("args", [["index"], ["index", "--json"], ["demo"]])
def test_a_home_that_is_a_file_is_named_by_commands_that_write_too(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    plain = tmp_path / "not-a-dir"
    plain.write_text("hello\n")
    monkeypatch.setenv("P8J_HOME", str(plain))
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert result.stderr == f"p8j: {plain}: expected a directory, found a regular file\n"
    assert plain.read_text() == "hello\n"


def test_the_unsafe_home_given_by_option_is_refused_too(
    runner: CliRunner, p8j_home: Home, tmp_path: Path
) -> None:
    record_simple(p8j_home)
    link = tmp_path / "elsewhere"
    link.symlink_to(p8j_home.path)
    result = runner.invoke(cli, ["ls", "--home", str(link)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"p8j: {link}: is a symlink")


def test_a_home_that_does_not_exist_yet_lists_empty(runner: CliRunner, p8j_home: Home) -> None:
    assert runner.invoke(cli, ["ls", "--json"]).stdout.strip() == "[]"
    assert json.loads(runner.invoke(cli, ["info", "--json"]).stdout)["exists"] is False
    assert list_sessions(p8j_home) == []
    assert not p8j_home.path.exists()


# -- hostile caches ---------------------------------------------------------------------------

HOSTILE = ["catalog-fifo", "snapshot-fifo", "cache-symlink", "snapshots-symlink"]
COMPLETES: list[list[str]] = [
    ["ls"],
    ["ls", "--json"],
    ["info", "--json"],
    ["search", "hello"],
    ["tail", "--no-follow"],
    ["replay", "SID"],
    ["replay", "--last", "1", "SID"],
    ["export", "SID"],
    ["verify", "SID"],
]


def _plant(kind: str, home: Home, sid: str, outside: Path) -> None:
    snaps = home.cache_dir / "snapshots"
    snaps.mkdir(mode=0o700, exist_ok=True)
    if kind == "catalog-fifo":
        os.mkfifo(home.cache_dir / "catalog.msgpack")
    elif kind == "snapshot-fifo":
        os.mkfifo(snapshot_path(home, sid))
    else:
        linked = home.cache_dir if kind == "cache-symlink" else snaps
        shutil.move(linked, outside)
        linked.symlink_to(outside)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_caches_never_block_mislead_or_get_written_through(
    runner: CliRunner,
    p8j_home: Home,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    monkeypatch.setattr(snapshots, "MIN_EVENTS", 1)  # every replay would write a snapshot
    sid = record_simple(p8j_home, messages=["hello", "world"])
    session = load_session(sid, p8j_home)
    shutil.rmtree(p8j_home.cache_dir)
    p8j_home.cache_dir.mkdir(mode=0o700)
    outside = tmp_path / "outside"
    _plant(kind, p8j_home, sid, outside)
    before = _tree(outside) if outside.exists() else None
    for args in COMPLETES:
        result = runner.invoke(cli, _args(args, sid))
        assert result.exit_code == 0, (args, result.output)
    replay = json.loads(runner.invoke(cli, ["replay", "--json", sid]).stdout)
    assert replay["conversation_history"] == session.conversation_history
    listed = json.loads(runner.invoke(cli, ["ls", "--json"]).stdout)
    assert [r["title"] for r in listed] == ["hello"]
    assert load_session(sid, p8j_home) == session
    if before is not None:
        assert _tree(outside) == before  # nothing written, read or renamed through the link
    if kind == "cache-symlink":
        assert json.loads(runner.invoke(cli, ["info", "--json"]).stdout)["cache_bytes"] == 0


# -- values msgpack cannot hold ---------------------------------------------------------------


@pytest.mark.timeout(60)
def test_integers_beyond_64_bits_break_no_command(runner: CliRunner, p8j_home: Home) -> None:
    with SessionManager(p8j_home) as mgr:
        sid = mgr.start_session("b", {"build_id": 2**64, "huge": 2**200}).session_id
        mgr.record_message({"role": "user", "content": "hello", "n": 2**200})
        mgr.record_execution("make", 0, "ok", duration_s=0.1)
        mgr.update_metadata(low=-(2**63) - 1)
        mgr.end_session()
    other = record_simple(p8j_home)
    for _ in range(2):  # the first listing writes the catalog, the second reads it
        result = runner.invoke(cli, ["ls", "--json"])
        assert result.exit_code == 0, result.output
        rows = {r["session_id"]: r for r in json.loads(result.stdout)}
        assert rows[sid]["metadata"] == {"build_id": 2**64, "huge": 2**200, "low": -(2**63) - 1}
        assert set(rows) == {sid, other}
    assert (p8j_home.cache_dir / "catalog.msgpack").is_file()
    for args in (["ls"], ["info"], ["search", "hello"], ["tail", "--no-follow"], ["replay", sid]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, (args, result.output)
        assert "Traceback" not in result.output
    hits = runner.invoke(cli, ["search", "--json", "hello"]).stdout
    assert sid in hits and other in hits
    assert "18446744073709551616" in runner.invoke(cli, ["tail", "--no-follow", "--json"]).stdout
    rows_lib = list_sessions(p8j_home)
    assert {r.session_id for r in rows_lib} == {sid, other}
    assert next(r for r in rows_lib if r.session_id == sid).metadata["huge"] == 2**200
