"""Message content as parts: plain strings and content blocks, decoded for people and search.

Contract: `content_parts` turns any message content (a string, a list of content
blocks in the Anthropic or OpenAI style, or any other JSON value) into a flat list
of `ContentPart`s without losing text: ``text``/``input_text``/``output_text``
blocks become ``text`` parts, ``thinking`` blocks ``thinking``, ``tool_use`` /
``function_call`` blocks ``tool_use`` (tool name, id and input), ``tool_result`` /
``function_call_output`` blocks ``tool_result`` (their nested content flattened to
text), images ``image``, and anything else ``other`` (its compact JSON). The text
is returned exactly as logged: escaping for a terminal is the renderer's job.
`content_texts` gives the strings a search should look at. Pure functions.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

__all__ = [
    "ContentPart",
    "PartKind",
    "compact_input",
    "content_parts",
    "content_texts",
    "string_leaves",
    "visible",
]

PartKind = Literal["text", "thinking", "tool_use", "tool_result", "image", "other"]

_TEXT_TYPES = frozenset({"text", "input_text", "output_text", "summary_text"})
_TOOL_USE_TYPES = frozenset({"tool_use", "server_tool_use", "function_call", "custom_tool_call"})
_TOOL_RESULT_TYPES = frozenset(
    {"tool_result", "function_call_output", "custom_tool_call_output", "web_search_tool_result"}
)
_IMAGE_TYPES = frozenset({"image", "input_image", "document"})
# The input key that best says what a tool call does, in order of preference.
_SALIENT_KEYS = (
    "command",
    "cmd",
    "file_path",
    "path",
    "pattern",
    "query",
    "url",
    "description",
    "prompt",
)
_ENC = msgspec.json.Encoder()


class ContentPart(msgspec.Struct, frozen=True):
    """One piece of a message: its kind, its text, and for tool calls the tool and id."""

    kind: PartKind
    text: str
    name: str | None = None
    id: str | None = None
    input: Any = None
    is_error: bool = False


def _json(value: Any) -> str:
    try:
        return _ENC.encode(value).decode("utf-8")
    except (TypeError, ValueError, UnicodeError):
        return repr(value)


def compact_input(value: Any) -> str:
    """A one-glance rendering of a tool call's input: its salient field, else compact JSON."""
    if isinstance(value, str):
        text: str = value
        try:  # OpenAI function calls carry their arguments as a JSON string
            value = msgspec.json.decode(text)
        except msgspec.DecodeError:
            return text
    if isinstance(value, dict):
        for key in _SALIENT_KEYS:
            field = value.get(key)
            if isinstance(field, str) and field:
                return field
            if isinstance(field, list) and field and all(isinstance(x, str) for x in field):
                return " ".join(field)
    return _json(value)


def _nested_text(value: Any) -> str:
    """Flatten a tool result's content (a string or blocks) to text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        pieces = []
        for part in content_parts(value):
            pieces.append(part.text if part.kind != "image" else "[image]")
        return "\n".join(p for p in pieces if p)
    if isinstance(value, dict):
        return "\n".join(p.text for p in content_parts([value]) if p.text)
    return _json(value)


def _block(block: dict[str, Any]) -> ContentPart:
    kind = block.get("type")
    text = block.get("text")
    if kind in _TEXT_TYPES or (kind is None and isinstance(text, str)):
        return ContentPart("text", text if isinstance(text, str) else _json(text))
    if kind in ("thinking", "reasoning", "redacted_thinking"):
        thought = block.get("thinking")
        if not isinstance(thought, str):
            summary = block.get("summary")
            thought = _nested_text(summary) if summary is not None else ""
        return ContentPart("thinking", thought)
    if kind in _TOOL_USE_TYPES:
        name = block.get("name")
        tool_input = block.get("input", block.get("arguments"))
        ident = block.get("id", block.get("call_id"))
        return ContentPart(
            "tool_use",
            compact_input(tool_input),
            name=name if isinstance(name, str) else None,
            id=ident if isinstance(ident, str) else None,
            input=tool_input,
        )
    if kind in _TOOL_RESULT_TYPES:
        ident = block.get("tool_use_id", block.get("call_id"))
        body = block.get("content", block.get("output"))
        return ContentPart(
            "tool_result",
            _nested_text(body),
            id=ident if isinstance(ident, str) else None,
            is_error=block.get("is_error") is True,
        )
    if kind in _IMAGE_TYPES:
        source = block.get("source")
        media = source.get("media_type") if isinstance(source, dict) else None
        return ContentPart("image", f"[{kind}{': ' + media if isinstance(media, str) else ''}]")
    return ContentPart("other", _json(block))


def content_parts(content: Any) -> list[ContentPart]:
    """Split message content into parts (see the module docstring)."""
    if content is None or content is msgspec.UNSET:
        return []
    if isinstance(content, str):
        return [ContentPart("text", content)]
    if isinstance(content, list):
        parts: list[ContentPart] = []
        for block in content:
            if isinstance(block, str):
                parts.append(ContentPart("text", block))
            elif isinstance(block, dict):
                parts.append(_block(block))
            else:
                parts.append(ContentPart("other", _json(block)))
        return parts
    if isinstance(content, dict):
        return [_block(content)]
    return [ContentPart("other", _json(content))]


def _string_leaves(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _string_leaves(v, out)
    elif isinstance(value, list):
        for v in value:
            _string_leaves(v, out)


def string_leaves(value: Any) -> list[str]:
    """Every string inside a JSON value (keys not included), in order."""
    out: list[str] = []
    _string_leaves(value, out)
    return out


def content_texts(content: Any) -> list[str]:
    """The strings of `content` worth searching: texts, thoughts, tool names, inputs, results."""
    out: list[str] = []
    for part in content_parts(content):
        if part.kind == "tool_use":
            if part.name:
                out.append(part.name)
            _string_leaves(part.input, out)
        elif part.kind != "image" and part.text:
            out.append(part.text)
    return out


_UNSAFE = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but tab/newline, DEL, C1
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides
    "\u2028\u2029"  # line and paragraph separators
    "\ud800-\udfff"  # lone surrogates (unencodable)
)
_UNSAFE_MULTI = re.compile(f"[{_UNSAFE}]")
_UNSAFE_SINGLE = re.compile(f"[{_UNSAFE}\t\n]")


def _escape_char(m: re.Match[str]) -> str:
    ch = m.group()
    if ch == "\n":
        return "↵"
    if ch == "\t":
        return " "
    if ch == "\r":
        return "\\r"
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, multiline: bool = True) -> str:
    """`text` with everything that could act on a terminal made visible (module docstring)."""
    if multiline:
        if "\r\n" in text:
            text = text.replace("\r\n", "\n")
        regex = _UNSAFE_MULTI
    else:
        regex = _UNSAFE_SINGLE
    if regex.search(text) is None:
        return text
    return regex.sub(_escape_char, text)
