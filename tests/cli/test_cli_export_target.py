"""`p8j export -o PATH`: what is at PATH is written as `>` would, never replaced blindly.

FIFOs, device nodes, symlinks and hard links are written through; a file keeps its
mode; the journal's own files are refused; a planted symlink cannot redirect the
write; ``-o -`` is stdout. The device test uses a null device made with mknod in
tmp_path, never /dev/null itself, so a regression cannot damage the machine.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home

from .cli_helpers import record_simple


def _expected(runner: CliRunner, sid: str, *fmt: str) -> bytes:
    result = runner.invoke(cli, ["export", sid, *fmt])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def _export_to(runner: CliRunner, sid: str, target: Path | str, *fmt: str) -> str:
    result = runner.invoke(cli, ["export", sid, *fmt, "-o", str(target)])
    assert result.exit_code == 0, result.output
    return result.stderr


def _leftovers(directory: Path, *keep: str) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n not in keep)


def test_fifo_is_written_to_its_reader(
    runner: CliRunner, demo_ids: list[str], tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        _export_to(runner, demo_ids[0], fifo)
        got, _ = reader.communicate(timeout=30)
    finally:
        if reader.poll() is None:  # the export never opened the FIFO: stop the reader
            reader.kill()
            reader.wait()
    assert got == _expected(runner, demo_ids[0])
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not a regular file
    assert _leftovers(tmp_path, "pipe", "p8j-home") == []


def test_character_device_is_written_not_replaced(
    runner: CliRunner, demo_ids: list[str], tmp_path: Path
) -> None:
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is on Linux
    except (PermissionError, AttributeError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    before = os.lstat(null)
    for fmt in ("md", "json", "jsonl"):
        _export_to(runner, demo_ids[0], null, "-f", fmt)
        after = os.lstat(null)
        assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev, fmt
        assert after.st_ino == before.st_ino
    assert _leftovers(tmp_path, "null", "p8j-home") == []


def test_symlink_is_written_through(runner: CliRunner, demo_ids: list[str], tmp_path: Path) -> None:
    real_dir = tmp_path / "elsewhere"
    real_dir.mkdir()
    real = real_dir / "real.md"
    real.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    dangling = tmp_path / "dangling.md"
    dangling.symlink_to(real_dir / "new.md")
    _export_to(runner, demo_ids[0], link)
    _export_to(runner, demo_ids[1], dangling)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == _expected(runner, demo_ids[0])
    assert dangling.is_symlink() and (real_dir / "new.md").read_bytes() == _expected(
        runner, demo_ids[1]
    )
    assert _leftovers(real_dir, "real.md", "new.md") == []


def test_hard_link_is_written_through(
    runner: CliRunner, demo_ids: list[str], tmp_path: Path
) -> None:
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text("old")
    os.link(a, b)
    _export_to(runner, demo_ids[0], a)
    assert os.stat(a).st_ino == os.stat(b).st_ino and os.stat(a).st_nlink == 2
    assert b.read_bytes() == _expected(runner, demo_ids[0])
    assert _leftovers(tmp_path, "a.md", "b.md", "p8j-home") == []


def test_existing_file_keeps_its_mode_and_a_new_one_follows_the_umask(
    runner: CliRunner, demo_ids: list[str], tmp_path: Path
) -> None:
    private = tmp_path / "private.md"
    private.write_text("old")
    private.chmod(0o600)
    _export_to(runner, demo_ids[0], private)
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert private.read_bytes() == _expected(runner, demo_ids[0])
    old_mask = os.umask(0o027)
    try:
        _export_to(runner, demo_ids[0], tmp_path / "new.md")
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE(os.stat(tmp_path / "new.md").st_mode) == 0o640


def test_paths_in_the_journal_home_are_refused(
    runner: CliRunner, demo_ids: list[str], p8j_home: Home, tmp_path: Path
) -> None:
    log = p8j_home.log_path(demo_ids[0])
    before = log.read_bytes()
    outside_link = tmp_path / "looks-harmless.md"
    outside_link.symlink_to(log)
    hard = tmp_path / "hard.jsonl"
    os.link(log, hard)
    via_dots = p8j_home.path / "sessions" / ".." / "sessions" / log.name
    for target in (
        log,
        via_dots,
        outside_link,
        hard,
        p8j_home.path / "notes.md",
        p8j_home.path,
    ):
        for fmt in ("md", "jsonl"):
            result = runner.invoke(cli, ["export", demo_ids[0], "-f", fmt, "-o", str(target)])
            assert result.exit_code == 2, (target, result.output)
            assert "journal home" in result.stderr and result.stderr.count("\n") == 1
    assert log.read_bytes() == before
    assert not (p8j_home.path / "notes.md").exists()
    assert runner.invoke(cli, ["verify", demo_ids[0]]).exit_code == 0


def test_planted_symlink_at_the_old_temp_name_cannot_redirect(
    runner: CliRunner, demo_ids: list[str], tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    target = tmp_path / "out.md"
    # The names the old code used (`<FILE>.p8j-tmp-<pid>`); the test runs in-process.
    for pid in {os.getpid(), os.getppid()}:
        Path(f"{target}.p8j-tmp-{pid}").symlink_to(victim)
    _export_to(runner, demo_ids[0], target)
    assert victim.read_text() == "precious"
    assert target.read_bytes() == _expected(runner, demo_ids[0])
    assert not target.is_symlink()


def test_dash_is_stdout(
    runner: CliRunner, demo_ids: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for fmt in ("md", "jsonl"):
        result = runner.invoke(cli, ["export", demo_ids[0], "-f", fmt, "-o", "-"])
        assert result.exit_code == 0
        assert result.stdout_bytes == _expected(runner, demo_ids[0], "-f", fmt)
    assert not (tmp_path / "-").exists()


def test_unwritable_targets_fail_in_one_line(
    runner: CliRunner, demo_ids: list[str], tmp_path: Path
) -> None:
    for target in (tmp_path, tmp_path / "missing" / "x.md"):
        result = runner.invoke(cli, ["export", demo_ids[0], "-o", str(target)])
        assert result.exit_code == 1, (target, result.output)
        assert result.stderr.startswith("p8j: ") and "cannot write the export" in result.stderr
        assert result.stderr.count("\n") == 1
    empty = runner.invoke(cli, ["export", demo_ids[0], "-o", ""])
    assert empty.exit_code == 2 and "empty" in empty.stderr


def test_a_failed_export_leaves_the_target_as_it_was(
    runner: CliRunner, p8j_home: Home, tmp_path: Path
) -> None:
    sid = record_simple(p8j_home, "p", ["a", "b"])
    log = p8j_home.log_path(sid)
    lines = log.read_bytes().split(b"\n")
    log.write_bytes(b"\n".join([*lines[:2], b"garbage", *lines[2:]]))
    out = tmp_path / "out"
    out.mkdir()
    single, a, b = out / "single.jsonl", out / "a.jsonl", out / "b.jsonl"
    single.write_text("old")
    a.write_text("old")
    os.link(a, b)
    for target in (single, a):
        for fmt in ("md", "jsonl"):
            result = runner.invoke(cli, ["export", sid, "-f", fmt, "--strict", "-o", str(target)])
            assert result.exit_code == 1 and "garbage" in result.stderr, (target, fmt)
            assert target.read_text() == "old", (target, fmt)
    assert b.read_text() == "old" and os.stat(a).st_ino == os.stat(b).st_ino
    assert _leftovers(out, "single.jsonl", "a.jsonl", "b.jsonl") == []
