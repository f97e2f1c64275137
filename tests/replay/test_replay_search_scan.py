"""Narrowed reading: only lines that may match are handed on, never a torn tail."""

from __future__ import annotations

from pathlib import Path

import pytest

from p8j.journal import Home, SessionManager
from p8j.journal.codec import decode_line
from p8j.journal.store.fs.blobs import BlobStore
from p8j.replay import search_scan
from p8j.replay.search import event_fields, search
from p8j.replay.search_scan import blob_line_may_match, candidate_lines, need_test


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


def test_blocks_without_the_pieces_are_not_split(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _log(home, [f"filler line {i}" for i in range(5000)] + ["needle"])
    monkeypatch.setattr(search_scan, "BLOCK", 4096)
    splits = 0
    real = search_scan._lines

    def counting(*args: object) -> object:
        nonlocal splits
        splits += 1
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(search_scan, "_lines", counting)
    found = list(candidate_lines(path, need_test("needle", False)))
    assert len(found) == 1 and splits == 1  # one block of ~100 was looked into


def test_long_lines_and_torn_tails(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_scan, "BLOCK", 256)
    path = _log(home, ["x" * 3000 + " needle", "needle short"])
    with open(path, "ab") as f:
        f.write(b'{"needle": "a torn tail has no newline')
    found = [ln for _, ln in candidate_lines(path, need_test("needle", False))]
    assert len(found) == 2 and found[0].count(b"x") >= 3000


def test_lines_with_blobs_are_always_candidates(home: Home) -> None:
    path = _log(home, ["needle", "y" * 300_000])  # the second goes to a blob
    found = [ln for _, ln in candidate_lines(path, need_test("zebra", False))]
    assert len(found) == 1 and b'"blobs":[' in found[0]


def test_a_bad_candidate_sends_the_session_to_the_reader(home: Home) -> None:
    path = _log(home, ["needle one", "needle two"])
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"needle two", b"needle TWO")  # checksum no longer matches
    path.write_bytes(b"\n".join(lines))
    narrowed = search(home, "needle", use_index=False)
    plain = search(home, "needle", narrow=False)
    assert narrowed.hits == plain.hits and narrowed.issues == plain.issues
    assert "corrupt" in [i.kind for i in narrowed.issues]


def test_blob_values_decide_whether_a_blob_line_is_read(home: Home) -> None:
    mgr = SessionManager(home)
    sid = mgr.start_session("p").session_id
    image = {"type": "base64", "media_type": "image/png", "data": "iVBORw0K" * 50_000}
    mgr.record_message({"role": "user", "content": [{"type": "image", "source": image}]})
    mgr.record_execution("make", output="compiling needle.c\n" * 20_000)
    mgr.end_session()
    store = BlobStore(home.blobs_dir)
    lines = [ln for ln in home.log_path(sid).read_bytes().split(b"\n") if b'"blobs":[' in ln]
    assert len(lines) == 2
    image_line, output_line = lines

    def may(ln: bytes, piece: str) -> bool:
        event = decode_line(ln)
        texts = [t for _, _, _, parts in event_fields(event) for t in parts]
        return blob_line_may_match(event, ln, need_test(piece, False), texts, store)

    assert not may(image_line, "iVBORw0K")  # an image's bytes are not searched text
    assert may(output_line, "needle.c") and not may(output_line, "zebra")
    for blob in home.blobs_dir.iterdir():
        blob.write_bytes(b"damaged")
    assert may(output_line, "zebra")  # the reader must report the damage
    plain = search(home, "zebra", narrow=False)
    assert search(home, "zebra", use_index=False).issues == plain.issues
    assert {i.kind for i in plain.issues} == {"bad-blob"}
