"""`p8j ls`: sessions newest first, with filters; a table for people, JSON for scripts."""

from __future__ import annotations

from datetime import datetime

import click
import msgspec

from p8j.replay.listing import SessionListing, list_sessions

from .options import SINCE, STATE_LIST, current_home, home_option, json_option, stdout_style
from .render import Style, duration, escape, is_terminal, table, terminal_width, when

__all__ = ["ls", "short_ids"]

_STATE_COLORS = {"live": "green", "crashed": "red", "paused": "yellow", "active": "cyan"}
_ENC = msgspec.json.Encoder()


def short_ids(ids: list[str], minimum: int = 8) -> int:
    """The shortest prefix length (at least `minimum`) that tells every id apart."""
    ordered = sorted(ids)
    length = minimum
    for a, b in zip(ordered, ordered[1:], strict=False):
        common = 0
        for x, y in zip(a, b, strict=False):
            if x != y:
                break
            common += 1
        length = max(length, common + 1)
    return min(length, 36)


def _rows(rows: list[SessionListing], style: Style, relative: bool, prefix: int) -> list[list[str]]:
    out = []
    for r in rows:
        title = escape(r.title)
        if r.problems:
            title = f"[{r.problems} problem{'s' if r.problems != 1 else ''}] {title}"
        out.append(
            [
                r.session_id[:prefix],
                escape(r.project_name) or "-",
                r.state,
                when(r.start_time, relative=relative),
                duration(r.duration_s),
                str(r.message_count),
                str(r.command_count),
                title,
            ]
        )
    return out


@click.command()
@click.option("--project", metavar="NAME", help="Only this project (shell-style wildcards work).")
@click.option(
    "--status",
    "states",
    type=STATE_LIST,
    default=None,
    help="Only these states: active (= live or crashed), live, crashed, paused, completed.",
)
@click.option("--since", type=SINCE, default=None, help="Only sessions active since: 2h, 3d, 2026-11-01.")
@click.option("-n", "--limit", type=click.IntRange(min=0), default=None, help="At most N sessions.")
@click.option("-q", "--quiet", is_flag=True, help="Print only full session ids, one a line.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="One JSON object a line instead of an array.")
@json_option
@home_option
def ls(
    project: str | None,
    states: tuple[str, ...] | None,
    since: datetime | None,
    limit: int | None,
    quiet: bool,
    as_jsonl: bool,
    as_json: bool,
) -> None:
    """List sessions, newest first."""
    home = current_home()
    rows = list_sessions(home, project=project, states=states, since=since, limit=limit)
    if as_json:
        click.echo(_ENC.encode(rows).decode("utf-8"))
        return
    if as_jsonl:
        for row in rows:
            click.echo(_ENC.encode(row).decode("utf-8"))
        return
    if quiet:
        for row in rows:
            click.echo(row.session_id)
        return
    if not rows:
        filtered = project or states or since or limit == 0
        if filtered:
            click.echo("No sessions match.", err=True)
        else:
            click.echo(
                f"No sessions in {escape(str(home.path))} yet. Try `p8j demo`.", err=True
            )
        return
    tty = is_terminal()
    style = stdout_style()
    prefix = short_ids(home.session_ids()) if len(rows) < 50_000 else 13

    def state_style(text: str) -> str:
        return style(text, _STATE_COLORS.get(text))

    lines = table(
        ["ID", "PROJECT", "STATE", "STARTED", "DURATION", "MSGS", "CMDS", "TITLE"],
        _rows(rows, style, tty, prefix),
        right=(4, 5, 6),
        styles=[
            lambda s: style(s, "yellow"),
            lambda s: style(s, bold=True),
            state_style,
            lambda s: style(s, dim=True),
            None,
            None,
            None,
            None,
        ],
        header_style=lambda s: style(s, bold=True),
        width=terminal_width() if tty else None,
    )
    click.echo("\n".join(lines))
