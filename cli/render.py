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
  times (``2026-11-24 07:06``) so the output stays meaningful later. Where a
  time stands alone (a header, a bound) it carries its zone (``... 07:06 CET``).
  ``--utc`` (`UTC_KEY` in the click context) shows every time in UTC instead.
- Counts of things are pluralised (`plural`); durations have one form everywhere
  (`duration`); session ids are shown `ID_CHARS` long (longer only if needed).
- Widths are terminal cells: East Asian wide characters count 2, combining marks 0.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import IO, Any, Literal

import click

from p8j.replay.content import visible

__all__ = [
    "ID_CHARS",
    "UTC_KEY",
    "ColorMode",
    "Style",
    "cell_width",
    "duration",
    "escape",
    "is_terminal",
    "local_time",
    "plural",
    "relative_time",
    "table",
    "terminal_width",
    "truncate",
    "use_utc",
    "when",
]

ColorMode = Literal["auto", "always", "never"]
# The 48-bit millisecond timestamp of a UUIDv7 and its dash: distinct unless started together.
ID_CHARS = 13
UTC_KEY = "p8j.utc"  # ctx.meta key set by --utc


def use_utc() -> bool:
    """True when the running command was given ``--utc``."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(UTC_KEY))


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """``1 command``, ``2 commands`` (`plural_form` for irregular nouns)."""
    return f"{n:,} {noun if n == 1 else (plural_form or noun + 's')}"


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
    import shutil  # here: its import pulls in bz2 and lzma, which `p8j ls --json` never needs

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


def _zone_name(utc: datetime) -> str:
    name = utc.replace(tzinfo=timezone.utc).astimezone().tzname()
    return name or "local"


def local_time(
    value: str | datetime | None,
    *,
    seconds: bool = False,
    zone: bool = False,
    utc: bool | None = None,
) -> str:
    """An absolute time: ``2026-11-24 07:06`` (``:SS`` with `seconds`, `` CET`` with `zone`).

    Local time unless `utc` (None: as ``--utc`` says); a local time outside years
    1..9999 is shown in UTC and marked so.
    """
    if value is None:
        return "-"
    as_utc = _utc(value)
    if as_utc is None:
        return escape(str(value))
    spec = "seconds" if seconds else "minutes"
    if utc is None:
        utc = use_utc()
    if utc:
        return as_utc.isoformat(" ", spec) + (" UTC" if zone else "")
    try:
        shown = _local(as_utc)
    except (OverflowError, ValueError):  # local time would fall outside years 1..9999
        return as_utc.isoformat(" ", spec) + " UTC"
    # isoformat is C: twice as fast as formatting the fields (`ls --all` formats a time per row).
    text = shown.isoformat(" ", spec)
    return f"{text} {_zone_name(as_utc)}" if zone else text


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
    if use_utc():
        return _date(utc)
    try:
        return _date(_local(utc))
    except (OverflowError, ValueError):  # local time would fall outside years 1..9999
        return _date(utc)


def when(value: str | datetime | None, *, relative: bool, now: datetime | None = None) -> str:
    """Relative on a terminal, absolute local time otherwise."""
    return relative_time(value, now) if relative else local_time(value)


def duration(seconds: float | None) -> str:
    """A compact duration: ``0.3s``, ``4.2s``, ``42s``, ``4m12s``, ``1h03m``, ``2d04h``."""
    if seconds is None or seconds != seconds:  # None or NaN
        return "-"
    if seconds < 10:
        # Tenths for short ones (a command's 0.3s); never "-0.0s" for a clock step back.
        return f"{max(0.0, int(seconds * 10) / 10):.1f}s"
    s = int(min(seconds, 1e15))
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
