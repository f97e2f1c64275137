"""`p8j usage`: tokens (input, output, cache read, cache write) summed over sessions.

Contract: a table per group (``--by day|project|model``; default one total row),
from the catalog when it is fresh; ``--json`` is the list of rows
(`p8j.replay.usage.UsageRow`). Days are UTC days.
"""

from __future__ import annotations

from datetime import datetime

import click
import msgspec

from p8j.journal.cache.catalog import list_summaries
from p8j.replay.usage import GROUPS, usage_report

from .options import SINCE, current_store, shared_options, stdout_style

__all__ = ["usage"]

_HEADERS = ("INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE", "SESSIONS")


@click.command(
    epilog="""\b
Examples:
  p8j usage                     all tokens of every session
  p8j usage --by day --since 7d
  p8j usage --by model --json
"""
)
@click.option(
    "--by",
    type=click.Choice(GROUPS),
    default="total",
    show_default=True,
    help="Group by UTC day, project or model.",
)
@click.option("--since", type=SINCE, default=None, help="Only usage since: 2h, 7d, 2026-11-01.")
@shared_options
def usage(by: str, since: datetime | None, as_json: bool) -> None:
    """Show token usage summed over sessions."""
    from .render import escape, table

    rows = usage_report(list_summaries(current_store()), by=by, since=since)
    if as_json:
        click.echo(msgspec.json.encode(rows).decode("utf-8"))
        return
    if not rows:
        click.echo("No token usage recorded.", err=True)
        return
    style = stdout_style()
    first = {"day": "DAY", "project": "PROJECT", "model": "MODEL", "total": ""}[by]
    cells = [
        [
            escape(r.key) or "(unknown)",
            f"{r.input_tokens:,}",
            f"{r.output_tokens:,}",
            f"{r.cache_read_tokens:,}",
            f"{r.cache_write_tokens:,}",
            f"{r.sessions:,}",
        ]
        for r in rows
    ]
    lines = table(
        [first, *_HEADERS],
        cells,
        right=(1, 2, 3, 4, 5),
        header_style=(lambda s: style(s, bold=True)) if style.enabled else None,
    )
    click.echo("\n".join(lines))
