"""`p8j search PATTERN`: regular-expression search over messages, commands and outputs."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime

import click
import msgspec

from p8j.journal.store.fs import resolve_session_ref
from p8j.replay.search import SearchHit, search

from .options import SESSION_REF, SINCE, count, current_home, shared_options, stdout_style
from .pager import paged
from .render import Style, escape, is_terminal, local_time, truncate

__all__ = ["search_cmd"]

_ENC = msgspec.json.Encoder()


def _hit_line(hit: SearchHit, style: Style, color: bool) -> str:
    where = f"{hit.session_id[:13]}:{hit.seq}"
    what = hit.role if hit.kind == "message" and hit.role else hit.kind
    if hit.kind == "execution":
        what = f"{hit.kind} {hit.field}"
    before = escape(hit.snippet[: hit.match_start])
    match = escape(hit.snippet[hit.match_start : hit.match_end])
    after = escape(hit.snippet[hit.match_end :])
    shown = before + (style(match, "red", bold=True) if color else match) + after
    more = style(f"  (+{hit.matches - 1} more)", dim=True) if hit.matches > 1 else ""
    project = truncate(escape(hit.project_name), 20)
    return (
        f"{style(where, 'yellow')} {style(local_time(hit.ts), dim=True)} {project} "
        f"{style(escape(what or ''), 'cyan')}: {shown}{more}"
    )


@click.command(
    "search",
    epilog="""\b
Examples:
  p8j search 'rate.?limit' -i
  p8j search 'Traceback' --kind execution --since 1d
  p8j search 'def \\w+' --role assistant --json | jq -r '.[].session_id' | sort -u
""",
)
@click.argument("pattern")
@click.option("-i", "--ignore-case", is_flag=True, help="Match regardless of case.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="ROLE",
    help="Only messages of this role (repeatable).",
)
@click.option(
    "--kind",
    "kinds",
    type=click.Choice(["message", "command", "execution"]),
    multiple=True,
    help="Only this kind of record (repeatable).",
)
@click.option("--project", metavar="NAME", help="Only sessions of this project (wildcards work).")
@click.option("--since", type=SINCE, default=None, help="Only events since: 2h, 3d, 2026-11-01.")
@click.option(
    "-s",
    "--session",
    "refs",
    type=SESSION_REF,
    multiple=True,
    help="Only this session (repeatable).",
)
@click.option("-n", "--limit", type=count(1), default=None, help="Stop after N hits.")
@shared_options
def search_cmd(
    pattern: str,
    ignore_case: bool,
    roles: tuple[str, ...],
    kinds: tuple[str, ...],
    project: str | None,
    since: datetime | None,
    refs: tuple[str, ...],
    limit: int | None,
    as_json: bool,
) -> None:
    """Search messages, commands and outputs (regex)."""
    try:
        regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise click.BadParameter(
            f"not a valid regular expression: {exc}", param_hint="PATTERN"
        ) from None
    home = current_home()
    ids = [resolve_session_ref(home, r) for r in refs] if refs else None
    result = search(
        home,
        regex,
        roles=roles or None,
        kinds=kinds or None,
        project=project,
        since=since,
        session_ids=ids,
        limit=limit,
    )
    if as_json:
        click.echo(_ENC.encode(result.hits).decode("utf-8"))
    else:
        style = stdout_style()
        with paged(color=style.enabled) if result.hits else contextlib.nullcontext():
            for hit in result.hits:
                click.echo(_hit_line(hit, style, style.enabled))
        if not result.hits and is_terminal():
            click.echo(f"No matches in {result.sessions_searched} session(s).", err=True)
    for issue in result.issues[:5]:
        click.echo(f"p8j: warning: skipped {escape(issue.describe())}", err=True)
    if len(result.issues) > 5:
        click.echo(f"p8j: warning: ... and {len(result.issues) - 5} more bad lines", err=True)
    for error in result.errors:
        click.echo(f"p8j: warning: {escape(error)}", err=True)
