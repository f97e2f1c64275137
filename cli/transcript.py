"""Display lines of a conversation for `replay` and the picker's preview.

Contract:
- Every line is escaped (`render.escape`) and, given a `room` in cells, at most
  that wide: prose is wrapped between words, everything else (tool calls,
  thinking, tool results, commands, outputs) is cut with ``…``. ``room=None``
  (``replay --full``) shows every line whole.
- Long texts show their first lines only (`TEXT_LINES` of prose, `PREVIEW_LINES`
  of anything else) and say how many more there are, unless ``full``.
- A message the agent injected, a compaction summary and a sub-agent's message
  are labelled so after the role. Given `results` (call id -> its result), a
  tool call is shown with its result right under it, and a result whose call
  was shown (`paired`) is not shown again where it was logged.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from p8j.replay.content import ContentPart, content_parts

from .render import Style, cell_width, escape, plural, truncate

__all__ = [
    "PREVIEW_LINES",
    "TEXT_LINES",
    "clip_lines",
    "cut",
    "message_lines",
    "more_lines",
    "result_lines",
]

ROLE_COLORS = {"user": "cyan", "assistant": "green", "system": "magenta", "tool": "yellow"}
PREVIEW_LINES = 6
TEXT_LINES = 40


def cut(text: str, room: int | None) -> str:
    """`text` (escaped, one line) cut to `room` cells with an ellipsis; None: whole."""
    if room is None:
        return text
    room = max(room, 10)
    if len(text) <= room and text.isascii():
        return text
    head = text[: 4 * room]  # a cell is never more than 4 characters here: never measure 10 MB
    shown = truncate(head, room)
    if shown == head and len(head) < len(text):  # only zero-width characters past `room`
        shown = truncate(head, room - 1) + "…"
    return shown


def _wrap(line: str, room: int, limit: int | None) -> list[str]:
    """One long line of prose as lines of at most `room` cells, broken between words."""
    if len(line) <= room and cell_width(line) <= room:
        return [line]
    if limit is not None:
        line = line[: 4 * room * limit]  # no more than `limit` lines can be shown anyway
    pieces = textwrap.wrap(line, max(room, 10), break_on_hyphens=False) or [""]
    return [cut(piece, room) for piece in pieces]  # wide characters: cells, not characters


def clip_lines(
    text: str, limit: int | None, room: int | None, *, wrap: bool = False
) -> tuple[list[str], int]:
    """The first `limit` lines of `text` (None: all), each cut (or wrapped) to `room` cells.

    Returns the lines and how many lines of `text` were left out.
    """
    source = text.split("\n")
    out: list[str] = []
    used = 0
    for line in source:
        if limit is not None and len(out) >= limit:
            break
        pieces = _wrap(line, room, limit) if wrap and room is not None else [cut(line, room)]
        if limit is not None and len(pieces) > limit - len(out):
            pieces = pieces[: limit - len(out)]
            pieces[-1] = cut(pieces[-1] + " …", room)
        out.extend(pieces)
        used += 1
    return out, len(source) - used


def more_lines(n: int, style: Style, *, hint: bool = True) -> str:
    """``… 3 more lines (--full shows all)``, dimmed."""
    return style(f"… {plural(n, 'more line')}" + (" (--full shows all)" if hint else ""), dim=True)


_FLAGS = (
    ("injected", "injected"),
    ("compaction_summary", "compaction summary"),
    ("sidechain", "sub-agent"),
)


def message_lines(
    message: dict[str, Any],
    style: Style,
    *,
    full: bool = False,
    width: int | None = None,
    results: Mapping[str, ContentPart] | None = None,
    paired: frozenset[str] = frozenset(),
) -> list[str]:
    """A message as display lines: role, text, compact tool calls and results (escaped).

    `width`: the widest line in cells (None: no limit); `full`: every line of every text;
    `results` and `paired`: see the module docstring.
    """
    role = str(message.get("role", "?"))
    shown_role = escape(role)
    flags = [text for key, text in _FLAGS if message.get(key) is True]
    label = style(shown_role, ROLE_COLORS.get(role), bold=True)
    if flags:
        shown_role += f" ({', '.join(flags)})"
        label += style(f" ({', '.join(flags)})", "magenta", dim=True)
    parts = content_parts(message.get("content"))
    if paired:  # results shown with their calls (none in most sessions: no pass then)
        parts = [p for p in parts if not (p.kind == "tool_result" and p.id in paired)]
    if not parts:
        note = "(its results are shown with their calls)" if paired else "(no content)"
        return [f"{label}  " + style(note, dim=True)]
    room = None if width is None else width - 4  # the indent
    lead_cells = 2 + cell_width(shown_role)
    out: list[str] = []
    for i, part in enumerate(parts):
        lead = f"{label}  " if i == 0 else "    "
        first_room = None if width is None else width - (lead_cells if i == 0 else 4)
        if part.kind == "text":
            # The first line shares its row with the label: pad it so it wraps that much sooner.
            pad = " " * max(0, (lead_cells if i == 0 else 4) - 4)
            lines, more = clip_lines(
                pad + escape(part.text, multiline=True),
                None if full else TEXT_LINES,
                room,
                wrap=True,
            )
            out.append(lead + cut(lines[0][len(pad) :], first_room))
            out.extend("    " + ln for ln in lines[1:])
            if more:
                out.append("    " + more_lines(more, style))
        elif part.kind == "thinking":
            text = "thinking: " + escape(part.text, multiline=True)
            lines, more = clip_lines(text, None if full else PREVIEW_LINES, room)
            out.append(lead + style(cut(lines[0], first_room), dim=True))
            out.extend("    " + style(ln, dim=True) for ln in lines[1:])
            if more:
                out.append("    " + more_lines(more, style, hint=False))
        elif part.kind == "tool_use":
            name = escape(part.name or "tool")
            ident = f"  [{escape(part.id)}]" if part.id else ""
            call = escape(part.text)
            if first_room is not None:
                room_for_call = first_room - 2 - cell_width(name) - 2 - cell_width(ident)
                call = cut(call, max(room_for_call, 10))
            out.append(
                lead
                + style("⚙ ", "yellow")
                + style(name, "yellow", bold=True)
                + f"({call})"
                + style(ident, dim=True)
            )
            found = None if results is None or part.id is None else results.get(part.id)
            if found is not None:
                out.extend(result_lines(found, "    ", style, full, room, room))
        elif part.kind == "tool_result":
            out.extend(result_lines(part, lead, style, full, room, first_room))
        else:
            out.append(lead + style(cut(escape(part.text), first_room), dim=True))
    return out


def result_lines(
    part: ContentPart,
    lead: str,
    style: Style,
    full: bool,
    room: int | None,
    first_room: int | None,
) -> list[str]:
    """A tool result: ``↳ result [id]: first line`` and its next lines, indented."""
    tag = "error" if part.is_error else "result"
    ident = f" [{escape(part.id)}]" if part.id else ""
    head_text = f"↳ {tag}{ident}:"
    body = escape(part.text, multiline=True)
    lines, more = clip_lines(body, None if full else PREVIEW_LINES, room)
    first = ""
    if lines and lines[0]:
        head_room = None if first_room is None else first_room - cell_width(head_text) - 1
        first = " " + cut(lines[0], head_room)
    head = style(head_text, "red" if part.is_error else None, dim=not part.is_error)
    out = [lead + head + first]
    out.extend("      " + cut(ln, None if room is None else room - 2) for ln in lines[1:])
    if more:
        out.append("      " + more_lines(more, style))
    return out
