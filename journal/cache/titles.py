"""Session titles: one line of a message's text, and which message names a session.

Contract: a title is the first non-blank line of a text, stripped, at most
`TITLE_MAX` characters. The first human-written user message names a session
(see `title_from_message`); a `SessionTitled` overrides it (the catalog's job).
"""

from __future__ import annotations

from typing import Any, Protocol

from ..events import MessageRecorded

__all__ = ["TITLE_MAX", "Titled", "first_line", "title_from_message", "title_of"]

TITLE_MAX = 120


class Titled(Protocol):
    """What holds a title and where it came from (a `SessionSummary`)."""

    title: str
    title_source: str


def first_line(text: str) -> str:
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped:
            return stripped[:TITLE_MAX]
    return ""


def title_of(content: Any) -> str:
    """A one-line title from message content (a string or content blocks)."""
    if isinstance(content, str):
        return first_line(content)
    if isinstance(content, list):
        for block in content:
            if isinstance(block, str):
                title = first_line(block)
            elif isinstance(block, dict) and block.get("type") in (None, "text", "input_text"):
                text = block.get("text")
                title = first_line(text) if isinstance(text, str) else ""
            else:
                continue
            if title:
                return title
    return ""


def title_from_message(s: Titled, ev: MessageRecorded) -> None:
    """The first user text names a session; until one comes, the first text of any role.

    A session that starts with a tool result (a resumed agent session) or holds no
    user text at all still gets a title people recognise. Text a person did not
    write (injected, a compaction summary) names nothing.
    """
    if ev.injected or ev.compaction_summary:
        return
    title = title_of(ev.content)
    if not title:
        return
    if ev.role == "user":
        s.title, s.title_source = title, "user"
    elif not s.title:
        s.title, s.title_source = title, "other"
