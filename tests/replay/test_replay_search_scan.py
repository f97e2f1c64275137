"""Narrowed reading: only lines that may match are handed on, never a torn tail."""

from __future__ import annotations

from pathlib import Path

from p8j.journal import Home, SessionManager
from p8j.journal.codec import decode_line
from p8j.journal.store.fs.blobs import BlobStore
from p8j.replay.search import event_fields, search
from p8j.replay.search_scan import blob_line_may_match, need_test


def _log(home: Home, texts: list[str]) -> Path:
    mgr = SessionManager(home)
    sid = mgr.start_session("p").session_id
    for text in texts:
        mgr.record_message({"role": "user", "content": text})
    mgr.end_session()
    return home.log_path(sid)


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
