"""`p8j index`: build or update the full-text index that makes `p8j search` fast."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
import msgspec

from p8j.replay.search import update_search_index

from .info import size
from .main import CliError
from .options import current_home, home_option, json_option
from .render import is_terminal

__all__ = ["index"]

PROGRESS_MIN = 8 << 20  # a progress bar is worth showing from this many bytes to read


@contextmanager
def _progress(show: bool) -> Iterator[Callable[[int, int], None] | None]:
    if not show:
        yield None
        return
    from rich.progress import Progress  # only on a terminal

    with Progress(transient=True) as bar:
        task = bar.add_task("indexing", total=None, visible=False)

        def advance(done: int, total: int) -> None:
            if total >= PROGRESS_MIN:
                bar.update(task, completed=done, total=total, visible=True)

        yield advance


@click.command(
    epilog="""\b
The index is a derived cache in <home>/cache/search.sqlite: safe to delete, rebuilt
by this command; `p8j search` also brings an existing index up to date (when little
was appended), and searches without one. Only what was appended since the last
update is read.
\b
Example:
  p8j index --json | jq .seconds
"""
)
@click.option("--rebuild", is_flag=True, help="Delete the index first and index everything.")
@json_option
@home_option
def index(rebuild: bool, as_json: bool) -> None:
    """Build or update the full-text search index."""
    home = current_home().check()  # a home that is a file is named as such, not as empty
    if not home.sessions_dir.is_dir():
        raise CliError(f"no journal at {home.path} (nothing has been recorded there)")
    if rebuild:
        from p8j.journal.cache.search_index import drop_index

        drop_index(home)
    with _progress(not as_json and is_terminal(sys.stderr)) as progress:
        stats = update_search_index(home, progress=progress)
    if stats is None:
        raise CliError(
            f"cannot write the index in {home.cache_dir} (unsafe or read-only; search still works)"
        )
    if as_json:
        click.echo(msgspec.json.encode(stats).decode("utf-8"))
        return
    ratio = stats.index_bytes / stats.log_bytes if stats.log_bytes else 0.0
    click.echo(
        f"indexed {stats.updated_sessions} of {stats.sessions} session(s), "
        f"read {size(stats.bytes_read)} in {stats.seconds:.2f} s; "
        f"index {size(stats.index_bytes)} ({ratio:.2f}x the logs' {size(stats.log_bytes)})"
    )
