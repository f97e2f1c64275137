"""Content blocks as parts, search texts, and the terminal-safety of `visible`."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from p8j.replay.content import compact_input, content_parts, content_texts, visible

UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)


def test_plain_string() -> None:
    (part,) = content_parts("hello")
    assert (part.kind, part.text) == ("text", "hello")
    assert content_parts(None) == [] and content_parts([]) == []


def test_claude_code_blocks() -> None:
    parts = content_parts(
        [
            {"type": "text", "text": "Running."},
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "Bash",
                "input": {"command": "ls -la", "description": "list"},
            },
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": [{"type": "text", "text": "a\nb"}],
                "is_error": True,
            },
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": "..."},
            },
            {"type": "weird", "x": 1},
            "bare string",
            42,
        ]
    )
    assert [p.kind for p in parts] == [
        "text",
        "thinking",
        "tool_use",
        "tool_result",
        "image",
        "other",
        "text",
        "other",
    ]
    assert parts[2].name == "Bash" and parts[2].id == "toolu_1" and parts[2].text == "ls -la"
    assert parts[3].text == "a\nb" and parts[3].is_error and parts[3].id == "toolu_1"
    assert parts[4].text == "[image: image/png]"
    assert parts[5].text == '{"type":"weird","x":1}'
    assert parts[7].text == "42"


def test_openai_style_blocks() -> None:
    parts = content_parts(
        [
            {"type": "input_text", "text": "hi"},
            {
                "type": "function_call",
                "name": "shell",
                "call_id": "c1",
                "arguments": '{"cmd": ["ls", "-l"]}',
            },
            {"type": "function_call_output", "call_id": "c1", "output": "total 0"},
        ]
    )
    assert [p.kind for p in parts] == ["text", "tool_use", "tool_result"]
    assert parts[1].text == "ls -l" and parts[1].id == "c1"
    assert parts[2].text == "total 0"


def test_compact_input() -> None:
    assert compact_input({"file_path": "a.py", "old_string": "x"}) == "a.py"
    assert compact_input({"foo": 1}) == '{"foo":1}'
    assert compact_input("not json") == "not json"
    assert compact_input(None) == "null"


def test_content_texts_cover_tool_inputs_and_results() -> None:
    texts = content_texts(
        [
            {"type": "text", "text": "t"},
            {
                "type": "tool_use",
                "name": "Edit",
                "input": {"file_path": "f.py", "new_string": "NEW", "n": 3},
            },
            {"type": "tool_result", "content": "R"},
            {"type": "image", "source": {}},
        ]
    )
    assert texts == ["t", "Edit", "f.py", "NEW", "R"]


def test_visible_escapes_every_kind_of_trouble() -> None:
    assert visible("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert visible("x\ry") == "x\\ry"
    assert visible("x\r\ny") == "x\ny"
    assert visible("\u202eabc\u2066") == "\\u202eabc\\u2066"
    assert visible("\x9b1m\x85") == "\\x9b1m\\x85"
    assert visible("\x7f\x00") == "\\x7f\\x00"
    assert visible("l1\u2028l2") == "l1\\u2028l2"
    assert visible("a\tb\nc") == "a\tb\nc"
    assert visible("a\tb\nc", multiline=False) == "a b↵c"
    assert visible("ok: ünïcödé 漢字 🙂") == "ok: ünïcödé 漢字 🙂"


@given(st.text())
def test_visible_output_is_always_safe(text: str) -> None:
    for multiline in (True, False):
        shown = visible(text, multiline=multiline)
        assert UNSAFE.search(shown) is None
        assert visible(shown, multiline=multiline) == shown
        if not multiline:
            assert "\n" not in shown and "\t" not in shown
