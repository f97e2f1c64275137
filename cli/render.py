"""Terminal rendering: escaping untrusted text, colour, times, durations, aligned tables.

Contract:
- Everything a command prints that came from a log goes through `escape`
  (`p8j.replay.content.visible`): no control character, escape sequence, bidi
  override or bare CR reaches the terminal. ``--json`` output bypasses this
  module and stays exact.
- `Style` colours only when told to: ``--color always``, or ``auto`` (the
  default) when the stream is a terminal, ``NO_COLOR`` is unset or empty and
  ``TERM`` is not ``dumb``. ``--color always`` overrides ``NO_COLOR``.
- On a terminal, times are relative (``5m ago``); when piped, absolute local
  times (``2026-11-24 07:06``) so the output stays meaningful later.
- Widths are terminal cells: East Asian wide characters count 2, combining marks 0.
"""

from __future__ import annotations

import os
import shutil
import sys
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import IO, Any, Literal

import click

from p8j.replay.content import visible

__all__ = [
    "ColorMode",
    "Style",
    "cell_width",
    "duration",
    "escape",
    "is_terminal",
    "local_time",
    "relative_time",
    "table",
    "terminal_width",
    "truncate",
    "when",
]

ColorMode = Literal["auto", "always", "never"]


def escape(text: str, *, multiline: bool = False) -> str:
    """Untrusted text made safe for a terminal; one line unless `multiline`."""
    return visible(text, multiline=multiline)


def is_terminal(stream: IO[Any] | None = None) -> bool:
    """True if `stream` (default stdout) is an interactive terminal."""
    stream = sys.stdout if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def terminal_width(default: int = 100) -> int:
    """Columns of the terminal on stdout (or `default`)."""
    return shutil.get_terminal_size((default, 24)).columns


class Style:
    """ANSI styling that is a no-op when colour is off."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_stream(cls, mode: ColorMode = "auto", stream: IO[Any] | None = None) -> Style:
        """The style for `stream` under `mode` (see the module docstring)."""
        if mode == "always":
            return cls(True)
        if mode == "never" or os.environ.get("NO_COLOR"):
            return cls(False)
        if os.environ.get("TERM") == "dumb":
            return cls(False)
        return cls(is_terminal(stream))

    def __call__(
        self, text: str, fg: str | None = None, *, bold: bool = False, dim: bool = False
    ) -> str:
        """`text` styled (foreground colour name, bold, dim) when enabled."""
        if not self.enabled or not text or not (fg or bold or dim):
            return text
        return click.style(text, fg=fg, bold=bold or None, dim=dim or None)


def cell_width(text: str) -> int:
    """Terminal cells `text` takes."""
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def truncate(text: str, width: int) -> str:
    """`text` cut to at most `width` cells, with an ellipsis when cut."""
    if width <= 0:
        return ""
    if cell_width(text) <= width:
        return text
    out: list[str] = []
    used = 0
    for ch in text:
        w = cell_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def _utc(value: str | datetime) -> datetime | None:
    """`value` as a naive UTC datetime (naive arithmetic is several times faster)."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    if len(value) == 27 and value[-1] == "Z":
        # p8j's own fixed-width form: the C parser, ~10x faster than the general path.
        try:
            return datetime.fromisoformat(value[:-1])
        except ValueError:
            pass
    from p8j.journal.timefmt import parse_ts

    try:
        return parse_ts(value).replace(tzinfo=None)
    except ValueError:
        return None


_OFFSETS: dict[tuple[int, int, int, int], timedelta] = {}


def _local(utc: datetime) -> datetime:
    """Naive UTC `utc` in local time; the UTC offset is looked up once per hour of the day."""
    key = (utc.year, utc.month, utc.day, utc.hour)
    offset = _OFFSETS.get(key)
    if offset is None:
        offset = utc.replace(tzinfo=timezone.utc).astimezone().utcoffset() or timedelta(0)
        _OFFSETS[key] = offset
    return utc + offset


def _date(d: datetime) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def local_time(value: str | datetime | None, *, seconds: bool = False) -> str:
    """An absolute local time: ``2026-11-24 07:06`` (``:SS`` with `seconds`)."""
    if value is None:
        return "-"
    utc = _utc(value)
    if utc is None:
        return escape(str(value))
    spec = "seconds" if seconds else "minutes"
    try:
        shown = _local(utc)
    except (OverflowError, ValueError):  # local time would fall outside years 1..9999
        return utc.isoformat(" ", spec) + " UTC"
    # isoformat is C: twice as fast as formatting the fields (`ls --all` formats a time per row).
    return shown.isoformat(" ", spec)


def relative_time(value: str | datetime | None, now: datetime | None = None) -> str:
    """A short relative time: ``just now``, ``42s ago``, ``5m ago``, ``3h ago``, ``4d ago``."""
    if value is None:
        return "-"
    utc = _utc(value)
    if utc is None:
        return escape(str(value))
    current = _utc(now) if now is not None else datetime.now(timezone.utc).replace(tzinfo=None)
    assert current is not None
    seconds = (current - utc).total_seconds()
    if seconds < 0:
        return "in the future" if seconds < -60 else "just now"
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)}s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    if seconds < 86400 * 30:
        return f"{int(seconds // 86400)}d ago"
    try:
        return _date(_local(utc))
    except (OverflowError, ValueError):  # local time would fall outside years 1..9999
        return _date(utc)


def when(value: str | datetime | None, *, relative: bool, now: datetime | None = None) -> str:
    """Relative on a terminal, absolute local time otherwise."""
    return relative_time(value, now) if relative else local_time(value)


def duration(seconds: float | None) -> str:
    """A compact duration: ``0s``, ``42s``, ``4m12s``, ``1h03m``, ``2d04h``."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[int] = (),
    styles: Sequence[Callable[[str], str] | None] | None = None,
    header_style: Callable[[str], str] | None = None,
    width: int | None = None,
) -> list[str]:
    """Aligned columns, two spaces apart; the last column is cut to fit `width` if given.

    Cells must already be escaped; `styles` are applied after padding so colour
    codes never count as width.
    """
    ncol = len(headers)
    last = ncol - 1
    widths = [cell_width(h) for h in headers]
    # Widths of every column but the last (which is never padded); ASCII cells are the
    # common case, measured by len without a call per cell.
    cell_widths = [[len(c) if c.isascii() else cell_width(c) for c in row[:last]] for row in rows]
    for i, column in enumerate(zip(*cell_widths, strict=True)):
        widths[i] = max(widths[i], *column)
    last_room: int | None = None
    if width is not None:
        last_room = max(8, width - sum(widths[:-1]) - 2 * (ncol - 1))

    right_set = frozenset(right)

    def line(cells: Sequence[str], cws: Sequence[int], styler: Sequence[Any] | None) -> str:
        out: list[str] = []
        for i in range(last):
            text = cells[i]
            pad = " " * (widths[i] - cws[i])
            if styler is not None and text:
                style = styler[i]
                if style is not None:
                    text = style(text)
            out.append(pad + text if i in right_set else text + pad)
        text = cells[last] if last_room is None else truncate(cells[last], last_room)
        if styler is not None and text and styler[last] is not None:
            text = styler[last](text)
        out.append(text)
        return "  ".join(out).rstrip()

    result = [
        line(
            list(headers),
            [cell_width(h) for h in headers],
            [header_style] * ncol if header_style else None,
        )
    ]
    for row, cws in zip(rows, cell_widths, strict=True):
        result.append(line(row, cws, styles))
    return result
