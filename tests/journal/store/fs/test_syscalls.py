"""The shared write helpers of the storage layer: short writes and crash-safe replaces."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from p8j.journal.store.fs.syscalls import Storage, replace_file, write_all


class _Trickle(Storage):
    """Writes at most `n` bytes a call; then writes nothing once `budget` is spent."""

    def __init__(self, n: int, budget: int | None = None) -> None:
        self.n = n
        self.budget = budget
        self.calls = 0

    def write(self, fd: int, data: Any) -> int:
        self.calls += 1
        if self.budget is not None and self.budget <= 0:
            return 0
        chunk = bytes(data[: self.n])
        written = os.write(fd, chunk)
        if self.budget is not None:
            self.budget -= written
        return written


class _FailingFsync(Storage):
    def fsync(self, fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")


def test_write_all_loops_over_short_writes(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT, 0o600)
    trickle = _Trickle(3)
    try:
        write_all(trickle, fd, b"0123456789")
    finally:
        os.close(fd)
    assert (tmp_path / "f").read_bytes() == b"0123456789"
    assert trickle.calls == 4


def test_write_all_turns_a_write_of_nothing_into_enospc(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(OSError) as info:
            write_all(_Trickle(4, budget=4), fd, b"0123456789")
    finally:
        os.close(fd)
    assert info.value.errno == errno.ENOSPC


def test_replace_file_is_0600_under_umask_000_and_leaves_no_temp(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        replace_file(tmp_path, "data.bin", b"new")
    finally:
        os.umask(old)
    assert (tmp_path / "data.bin").read_bytes() == b"new"
    assert (tmp_path / "data.bin").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_a_failed_replace_keeps_the_old_file_whole_and_removes_the_temp(tmp_path: Path) -> None:
    (tmp_path / "data.bin").write_bytes(b"old")
    with pytest.raises(OSError):
        replace_file(tmp_path, "data.bin", b"new", storage=_FailingFsync())
    assert (tmp_path / "data.bin").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_replace_file_writes_parts_in_order_and_a_failing_part_changes_nothing(
    tmp_path: Path,
) -> None:
    replace_file(tmp_path, "f", iter([b"ab", b"", b"cd" * 1000]))
    assert (tmp_path / "f").read_bytes() == b"ab" + b"cd" * 1000

    def parts() -> Any:
        yield b"new"
        raise OSError(errno.EIO, "the source went away")

    with pytest.raises(OSError, match="went away"):
        replace_file(tmp_path, "f", parts())
    assert (tmp_path / "f").read_bytes() == b"ab" + b"cd" * 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
