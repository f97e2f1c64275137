"""Fuzzing the reader: random and mutated logs raise nothing but P8jError subclasses."""

from __future__ import annotations

import contextlib
import os
import tempfile
import zlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p8j.journal import P8jError, SessionManager
from p8j.journal.store.fs import read_events
from p8j.journal.store.fs.cursor import LogCursor


def _valid_log() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        with SessionManager(tmp, blob_threshold=None) as mgr:
            sid = mgr.start_session("fuzz", {"k": [1, 2.5, None, True]}).session_id
            mgr.record_message({"role": "user", "content": "héllo \u2028 wörld"})
            mgr.record_message({"role": "assistant", "content": [{"type": "text", "text": "x"}]})
            mgr.record_command("ls")
            mgr.record_execution("ls", 0, "a\nb\n", duration_s=0.25)
            mgr.update_metadata(tag="t")
            mgr.pause_session()
            mgr.resume_session(sid)
            mgr.end_session()
        return next(Path(tmp, "sessions").iterdir()).read_bytes()


VALID = _valid_log()
LINES = VALID.split(b"\n")[:-1]


def _recrc(line: bytes) -> bytes:
    """Re-frame a (mutated) line with a crc that matches, so the decoder sees it."""
    i = line.rfind(b',"crc":"')
    body = (line[:i] + b"}") if i > 0 else line
    return body[:-1] + b',"crc":"%08x"}' % zlib.crc32(body) if body.endswith(b"}") else body


def _read_all(data: bytes) -> None:
    fd, name = tempfile.mkstemp(suffix=".jsonl")
    try:
        os.write(fd, data)
        os.close(fd)
        for skip in (False, True):
            with contextlib.suppress(P8jError):
                read_events(name, skip_corrupt=skip)
        cursor = LogCursor(name, skip_corrupt=True, chunk_size=97)  # odd chunk edges
        try:
            for _ in cursor.read(final=False):
                pass
            for _ in cursor.read(final=True):
                pass
        except P8jError:
            pass
    finally:
        os.unlink(name)


_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    _read_all(data)


_SNIPPETS = [
    b"[" * 5000,
    b"{" * 3000,
    b"1e999999",
    b"\xff\xfe",
    b"\xed\xa0\x80",
    b'"\\ud800"',
    b"null",
    b"-0",
    b"9" * 400,
    b'"type":"SessionEnded"',
    b'"seq":-1',
    b'"seq":99999999999999999999999',
    b'"blobs":[{"path":["content"],"sha256":"' + b"0" * 64 + b'","size":1}]',
    b'"blobs":[{"path":[],"sha256":"x","size":-1}]',
    b"\n",
    b"\r\n",
    b"\x00",
]


@_SETTINGS
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(LINES) - 1),
            st.integers(0, 400),
            st.one_of(st.sampled_from(_SNIPPETS), st.binary(max_size=16)),
            st.sampled_from(["insert", "replace", "delete", "truncate"]),
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),
)
def test_mutated_logs(mutations: list[tuple[int, int, bytes, str, bool]], shuffle: bool) -> None:
    lines = list(LINES)
    for index, at, snippet, how, fix_crc in mutations:
        line = lines[index]
        at = min(at, len(line))
        if how == "insert":
            line = line[:at] + snippet + line[at:]
        elif how == "replace":
            line = line[:at] + snippet + line[at + len(snippet) :]
        elif how == "delete":
            line = line[:at] + line[at + len(snippet) :]
        else:
            line = line[:at]
        lines[index] = _recrc(line) if fix_crc else line
    if shuffle:
        lines = lines[1:] + lines[:1]
    _read_all(b"\n".join(lines) + b"\n")
