"""`p8j demo`: record a few realistic agent sessions through the library, then say what to try.

The sessions are written by `SessionManager` exactly as an embedding agent CLI
would write them: messages with content blocks (text, thinking, tool_use,
tool_result, as Claude Code logs them), commands, executions, metadata, a pause
and a resume, one session ended, one paused, and one left active with its
writer gone (what a killed agent leaves behind). ``--live`` keeps appending to
one session so `p8j tail` has something to watch.
"""

from __future__ import annotations

import math
import shlex
from typing import Any

import click
import msgspec

from p8j.journal import Home, SessionManager
from p8j.journal.store.fs.store import FileStore

from .demo_sessions import MODEL, record_demo_sessions, record_live
from .ls import short_ids, title_cell
from .options import current_home, home_option, json_option, stdout_style
from .render import ID_CHARS, escape, truncate

__all__ = ["demo", "record_demo_sessions"]

MAX_DURATION = 7 * 86400.0  # a week: longer is a mistake (0 already means "until Ctrl-C")
MAX_INTERVAL = 3600.0


class _Seconds(click.FloatRange):
    """Seconds from 0 to a maximum: NaN and infinities are usage errors (FloatRange lets NaN by)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """A finite number of seconds in range, or a usage error."""
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        return number


def _live(home: Home, duration: float, interval: float, as_json: bool) -> None:
    mgr = SessionManager(store=FileStore(home))  # the CLI's home, whatever $P8J_STORE says
    session = mgr.start_session("pairing", {"model": MODEL, "demo": "live"})
    sid = session.session_id
    if not as_json:
        forever = "until Ctrl-C" if duration <= 0 else f"for {duration:g}s"
        click.echo(
            f"Recording into session {sid} (project pairing), one event every {interval:g}s "
            f"{forever}.\nWatch it from another terminal:  p8j tail {sid[:ID_CHARS]}"
        )
    count, _ = record_live(mgr, duration, interval)
    if as_json:
        click.echo(msgspec.json.encode({"session_id": sid, "events": count}).decode())
    else:
        click.echo(f"Ended session {sid} after {count} events.")


def _next_steps(home: Home, ids: list[str]) -> str:
    n = short_ids(home.session_ids(), ID_CHARS)
    web, api, docs = (i[:n] for i in ids)
    where = shlex.quote(str(home.path))
    home_flag = "" if home.path == Home().path else f" --home {where}"
    rows = [
        ("p8j ls", "sessions, newest first"),
        (f"p8j replay {web}", "rebuild the webshop session and show it"),
        (f"p8j replay {web} --at 3", "... as it was at event 3"),
        ("p8j search 'coupon|shipping'", "search messages, commands and outputs"),
        (f"p8j export {web} -f md", "a Markdown transcript (tool calls included)"),
        ("p8j verify", "check every log's integrity"),
        ("p8j pick", "choose a session interactively; prints its id"),
        ("p8j tail", "follow sessions live; run `p8j demo --live` in another terminal"),
        ("p8j info", "where the journal lives and how big it is"),
    ]
    width = max(len(cmd) for cmd, _ in rows) + 2
    lines = ["", "Try next:"]
    lines += [f"  {cmd:<{width}}{what}" for cmd, what in rows]
    lines.append("")
    lines.append(f"The api-server session ({api}) is paused and can be resumed; docs-site ({docs})")
    lines.append("was left active with no process writing it, so `p8j ls` shows it as crashed.")
    lines.append("The raw logs are plain JSON lines, one event a line:")
    lines.append(
        f"  jq -c 'select(.type==\"CommandRecorded\") | .command' {where}/sessions/*.jsonl"
    )
    if home_flag:
        lines.append(f"(Add{home_flag} to each command, or export P8J_HOME={where}.)")
    return "\n".join(lines)


@click.command()
@click.option(
    "--live",
    is_flag=True,
    help="Keep appending to one session so `p8j tail` has something to watch.",
)
@click.option(
    "--duration",
    type=_Seconds(min=0, max=MAX_DURATION),
    default=60.0,
    show_default=True,
    help="With --live: seconds to keep recording (0: until Ctrl-C).",
)
@click.option(
    "--interval",
    type=_Seconds(min=0, max=MAX_INTERVAL),
    default=1.0,
    show_default=True,
    help="With --live: seconds between events.",
)
@json_option
@home_option
def demo(live: bool, duration: float, interval: float, as_json: bool) -> None:
    """Record realistic demo sessions and show what to try."""
    home = current_home()
    if live:
        _live(home, duration, interval, as_json)
        return
    ids = record_demo_sessions(home)
    from p8j.replay.listing import list_sessions

    rows = {r.session_id: r for r in list_sessions(home) if r.session_id in set(ids)}
    if as_json:
        click.echo(
            msgspec.json.encode(
                [
                    {"session_id": i, "project_name": rows[i].project_name, "state": rows[i].state}
                    for i in ids
                ]
            ).decode()
        )
        return
    style = stdout_style()
    click.echo(f"Recorded {len(ids)} demo sessions in {escape(str(home.path))}:")
    n = short_ids(home.session_ids(), ID_CHARS)
    for i in ids:
        r = rows[i]
        project = truncate(escape(r.project_name), 11)
        click.echo(
            f"  {style(i[:n], 'yellow')}  {project:<11} {r.state:<10} {title_cell(r.title, 60)}"
        )
    click.echo(_next_steps(home, ids))
