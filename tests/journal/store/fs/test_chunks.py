"""Chunked reads (journal/store/fs/chunks.py): lines split on b"\\n" only, bounded memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p8j.journal import JournalIOError
from p8j.journal.store.fs.chunks import iter_lines, read_all


def _fd(tmp_path: Path, data: bytes) -> int:
    path = tmp_path / "f"
    path.write_bytes(data)
    return os.open(path, os.O_RDONLY)


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=300).map(lambda b: b.replace(b"x", b"\n")),
    chunk=st.integers(min_value=1, max_value=40),
    offset=st.integers(min_value=0, max_value=50),
)
def test_lines_are_the_split_of_the_bytes(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, chunk: int, offset: int
) -> None:
    fd = _fd(tmp_path_factory.mktemp("c"), data)
    try:
        got = list(iter_lines(fd, offset, chunk_size=chunk))
    finally:
        os.close(fd)
    parts = data[offset:].split(b"\n")
    tail = parts.pop()
    expected = [(p, True) for p in parts] + ([(tail, False)] if tail else [])
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=12),
    tail=st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")),
    chunk=st.integers(min_value=1, max_value=16),
    max_line=st.integers(min_value=0, max_value=20),
)
def test_too_long_lines_are_dropped_whole(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[bytes],
    tail: bytes,
    chunk: int,
    max_line: int,
) -> None:
    fd = _fd(tmp_path_factory.mktemp("c"), b"".join(ln + b"\n" for ln in lines) + tail)
    try:
        got = list(iter_lines(fd, chunk_size=chunk, max_line=max_line))
    finally:
        os.close(fd)
    expected = [(ln, True) for ln in lines if len(ln) <= max_line]
    if tail and len(tail) <= max_line:
        expected.append((tail, False))
    assert got == expected


def test_cr_and_line_separators_do_not_split(tmp_path: Path) -> None:
    fd = _fd(tmp_path, "a\rb\u2028c\r\nd\n".encode())
    try:
        assert list(iter_lines(fd)) == [("a\rb\u2028c\r".encode(), True), (b"d", True)]
    finally:
        os.close(fd)


def test_read_all_reads_from_the_position_to_the_end(tmp_path: Path) -> None:
    fd = _fd(tmp_path, b"0123456789" * 300_000)
    try:
        os.lseek(fd, 5, os.SEEK_SET)
        data = read_all(fd)
    finally:
        os.close(fd)
    assert len(data) == 3_000_000 - 5 and data.startswith(b"56789")


def test_read_errors_name_the_path(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)  # a directory: reading it fails with EISDIR
    try:
        with pytest.raises(JournalIOError, match="read failed") as info:
            list(iter_lines(fd, path=tmp_path))
        assert info.value.path == str(tmp_path)
        assert isinstance(info.value.__cause__, OSError)
        with pytest.raises(JournalIOError, match="cannot read"):
            read_all(fd, tmp_path)
    finally:
        os.close(fd)
