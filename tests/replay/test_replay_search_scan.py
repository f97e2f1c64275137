"""Narrowed reading: only lines that may match are handed on, never a torn tail."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from p8j.journal import Home, SessionManager
from p8j.journal.codec import decode_line
from p8j.journal.store.fs.blobs import BlobStore
from p8j.journal.store.fs.rawlines import candidate_lines
from p8j.replay.search import event_fields, search
from p8j.replay.search_pattern import PatternError, SearchPattern
from p8j.replay.search_scan import blob_line_may_match, need_test

from .search_corpus import real_logs


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


def test_each_blob_is_read_once_per_search(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    mgr = SessionManager(home)
    mgr.start_session("p")
    image = {"type": "base64", "media_type": "image/png", "data": "iVBORw0K" * 50_000}
    for _ in range(5):  # the same screenshot, again and again
        mgr.record_message({"role": "user", "content": [{"type": "image", "source": image}]})
    mgr.end_session()
    reads: list[str] = []
    real = BlobStore.get

    def counting(self: BlobStore, sha256: str, size: int | None = None) -> bytes:
        reads.append(sha256)
        return real(self, sha256, size)

    monkeypatch.setattr(BlobStore, "get", counting)
    result = search(home, "zebra", use_index=False)
    assert result.hits == [] and result.issues == []
    assert len(reads) == 1  # checked intact once, not once per line


# -- the prefilter never drops a line the full match finds ------------------------------

_PLANTED = [
    'He said "hello" and left',
    "a path C:\\Users\\me\\file.txt and a regex \\d+",
    "naïve café, Straße, ΣΊΣΥΦΟΣ, 日本語のテキスト, emoji 😀 here",
    "tab\there, line\nbreak, bell\x07, nul-free control \x1f end",
    "separators \u2028 and \u2029, nbsp\u00a0, BOM \ufeff, soft\u00ad hyphen",
    'JSON in text: {"key": [1, 2, "three"]} and <html>&amp;</html>',
    "Kelvin \u212a and long s \u017f fold like k and s; KILL the process",
    "metachars .^$|?*+()[]{} all in a row",
]
_META = set(".^$|?*+()[]{}\\")


def _escape(text: str) -> str:
    return "".join("\\" + c if c in _META else c for c in text)


def _texts() -> list[str]:
    out = list(_PLANTED)
    for path in real_logs()[:12]:
        for raw in path.read_bytes().split(b"\n"):
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            msg = obj.get("message") or obj.get("payload") if isinstance(obj, dict) else None
            content = msg.get("content") if isinstance(msg, dict) else None
            if isinstance(content, str):
                out.append(content)
            elif isinstance(content, list):
                for block in content:
                    if isinstance(block, dict):
                        out += [v for v in block.values() if isinstance(v, str) and len(v) > 3]
    return out


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[bytes, list[str]]]]:
    """A log of real and planted texts, and each line with the texts search looks at."""
    home = Home(tmp_path_factory.mktemp("prefilter") / "home")
    mgr = SessionManager(home, max_record_bytes=8 << 20)
    sid = mgr.start_session("p").session_id
    for i, text in enumerate(_texts()[:3000]):
        mgr.record_message({"role": "user" if i % 2 else "assistant", "content": text})
    mgr.record_command('grep -n "needle\\\\b" src/*.py')
    mgr.end_session()
    path = home.log_path(sid)
    out = []
    for ln in path.read_bytes().split(b"\n")[:-1]:
        event = decode_line(ln)
        out.append((ln, [t for _, _, _, parts in event_fields(event) for t in parts]))
    return path, out


# Characters JSON escapes (quote, backslash, controls) or writes as more than one byte.
_ODD: dict[str, Callable[[str], bool]] = {
    "quote": lambda c: c == '"',
    "backslash": lambda c: c == "\\",
    "control": lambda c: ord(c) < 0x20,
    "non-ascii": lambda c: not c.isascii(),
}


def _pattern(data: st.DataObject, texts: list[str]) -> str:
    kind = data.draw(st.sampled_from([*_ODD, "any"]))
    odd_texts = [t for t in texts if any(map(_ODD[kind], t))] if kind in _ODD else texts
    text = data.draw(st.sampled_from(odd_texts))
    odd_at = [i for i, c in enumerate(text) if _ODD[kind](c)] if kind in _ODD else []
    if odd_at:  # a piece around such a character
        center = data.draw(st.sampled_from(odd_at))
        start = max(0, center - data.draw(st.integers(0, 8)))
    else:
        start = data.draw(st.integers(0, max(0, len(text) - 1)))
    piece = text[start : start + data.draw(st.integers(1, 14))]
    odd = data.draw(st.sampled_from(['"', "\\", "é", "ß", "😀", "\u2028", "\t", "{", "K", ""]))
    at = data.draw(st.integers(0, len(piece)))
    literal = _escape(piece[:at] + odd + piece[at:]) if data.draw(st.booleans()) else _escape(piece)
    other = _escape(data.draw(st.sampled_from(texts))[:6])
    shapes = [
        literal,
        f"{literal}|{other}",
        f"(?:{literal})+\\w*",
        f"{literal[:3]}.{literal[4:]}",
        f"\\b{literal}",
        f"{literal}\\s?{other}",
        f"(?i){literal}",
        f"[{_escape(piece[:1]) or 'x'}]{literal}",
        f"{literal}\\x{{{ord(odd or 'a'):x}}}",
        f'"{literal}',
    ]
    return data.draw(st.sampled_from(shapes))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), ignore_case=st.booleans())
def test_the_prefilter_keeps_every_line_that_matches(
    lines: tuple[Path, list[tuple[bytes, list[str]]]], data: st.DataObject, ignore_case: bool
) -> None:
    path, decoded = lines
    texts = [t for _, ts in decoded for t in ts if t]
    try:
        pattern = SearchPattern(_pattern(data, texts), ignore_case)
    except PatternError:
        pattern = None
    assume(pattern is not None)
    assert pattern is not None
    assume(pattern.need is not None)
    assert pattern.need is not None
    test = need_test(pattern.need, pattern.fold)
    kept = {ln for _, ln in candidate_lines(path, test)}
    for ln, line_texts in decoded:
        if pattern.first_and_count(line_texts) is not None:
            assert ln in kept, (pattern.text, pattern.need, ln[:300])
