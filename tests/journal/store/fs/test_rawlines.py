"""Raw line scans of a log: only lines that may pass the test are handed on, never a torn tail."""

from __future__ import annotations

from pathlib import Path

import pytest

from p8j.journal import Home, SessionManager
from p8j.journal.errors import InvalidSessionIdError
from p8j.journal.store.fs import rawlines
from p8j.journal.store.fs.archive import archive_session
from p8j.journal.store.fs.archived import open_log_readonly
from p8j.journal.store.fs.rawlines import candidate_lines
from p8j.journal.store.fs.store import FileStore
from p8j.replay.search_scan import NeedTest, need_test


def _log(home: Home, texts: list[str]) -> Path:
    mgr = SessionManager(home)
    sid = mgr.start_session("p").session_id
    for text in texts:
        mgr.record_message({"role": "user", "content": text})
    mgr.end_session()
    return home.log_path(sid)


def test_only_lines_with_the_pieces(home: Home) -> None:
    path = _log(home, ["alpha", "beta needle", "gamma", "NEEDLE upper", "needle\\u and more"])
    found = [ln for _, ln in candidate_lines(path, need_test("needle", False))]
    assert len(found) == 2 and b"beta needle" in found[0] and b"needle\\\\u" in found[1]
    folded = [ln for _, ln in candidate_lines(path, need_test("needle", True))]
    assert len(folded) == 3
    data = path.read_bytes()
    for off, ln in candidate_lines(path, need_test("needle", True)):
        assert data[off : off + len(ln) + 1] == ln + b"\n"  # offsets name the line


def test_only_the_lines_around_candidates_are_tested(home: Home) -> None:
    path = _log(home, [f"filler line {i}" for i in range(5000)] + ["needle", "more filler"])
    tested: list[bytes] = []

    class Counting(NeedTest):
        def __call__(self, block: bytes | bytearray, start: int, end: int) -> bool:
            tested.append(bytes(block[start:end]))
            return super().__call__(block, start, end)

    found = list(candidate_lines(path, Counting("needle", False)))
    assert len(found) == 1 and b'"content":"needle"' in found[0][1]
    assert tested == [found[0][1]]  # the finder jumped to it: no other line was tested


def test_a_plain_test_skips_blocks_without_the_pieces(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _log(home, [f"filler line {i}" for i in range(5000)] + ["needle"])
    monkeypatch.setattr(rawlines, "BLOCK", 4096)
    splits = 0
    real = rawlines._lines

    def counting(*args: object) -> object:
        nonlocal splits
        splits += 1
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(rawlines, "_lines", counting)
    plain = need_test("needle", False)
    found = list(candidate_lines(path, lambda b, s, e: plain(b, s, e)))  # no finder
    assert len(found) == 1 and splits == 1  # one block of ~100 was looked into
    assert found == list(candidate_lines(path, plain))


@pytest.mark.parametrize("block", [256, 1 << 20])
def test_long_lines_and_torn_tails(home: Home, monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(rawlines, "BLOCK", block)
    path = _log(home, ["x" * 3000 + " needle", "needle short"])
    with open(path, "ab") as f:
        f.write(b'{"needle": "a torn tail has no newline')
    found = [ln for _, ln in candidate_lines(path, need_test("needle", False))]
    assert len(found) == 2 and found[0].count(b"x") >= 3000
    data = path.read_bytes()
    assert [
        data[off : off + len(ln)] for off, ln in candidate_lines(path, need_test("needle", False))
    ] == found


def test_lines_with_blobs_are_always_candidates(home: Home) -> None:
    path = _log(home, ["needle", "y" * 300_000])  # the second goes to a blob
    found = [ln for _, ln in candidate_lines(path, need_test("zebra", False))]
    assert len(found) == 1 and b'"blobs":[' in found[0]


def test_the_file_store_scans_and_reads_lines_by_session(home: Home) -> None:
    path = _log(home, ["alpha", "beta needle", "gamma"])
    store = FileStore(home)
    sid = path.name.removesuffix(".jsonl")
    found = list(store.scan_lines(sid, need_test("needle", False)))
    assert found == list(candidate_lines(path, need_test("needle", False)))
    [(off, ln)] = found
    assert list(store.lines_at(sid, [(off, len(ln))])) == [(off, ln)]


def test_log_file_names_the_log_as_home_does(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _log(home, ["alpha"])
    sid = path.name.removesuffix(".jsonl")
    assert rawlines.log_file(home, sid) == str(home.log_path(sid))
    with pytest.raises(InvalidSessionIdError):
        rawlines.log_file(home, "../" + sid)  # checked as log_path checks it
    # The file store's scan builds no Path per log: it opens the str.
    opened: list[object] = []
    real = open_log_readonly

    def spy(p: str | Path) -> int:
        opened.append(p)
        return real(p)

    monkeypatch.setattr(rawlines, "open_log_readonly", spy)
    assert list(FileStore(home).scan_lines(sid, need_test("alpha", False)))
    assert opened == [str(path)]


def test_an_archived_log_is_scanned_by_its_str_path(home: Home) -> None:
    path = _log(home, ["alpha needle"])
    sid = path.name.removesuffix(".jsonl")
    before = list(FileStore(home).scan_lines(sid, need_test("needle", False)))
    archive_session(home, sid)
    assert not path.exists()
    assert list(FileStore(home).scan_lines(sid, need_test("needle", False))) == before
