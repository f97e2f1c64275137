"""`p8j export ID`: the session as Markdown, its JSON snapshot, or its raw verified events."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import IO

import click
import msgspec
from click.core import ParameterSource

from p8j.journal.errors import P8jError
from p8j.journal.events import AnyEvent, UnknownEvent
from p8j.journal.housekeeping import resolve_in
from p8j.journal.importers.registry import native_records
from p8j.journal.session import fold
from p8j.journal.store.base import is_home_store
from p8j.replay.export import markdown, raw_lines, read_session_events, snapshot_json
from p8j.replay.load import load_report

from .export_target import check_target, is_stdout, write_target
from .main import CliError
from .options import SESSION_REF, current_store, shared_options
from .pager import paged
from .render import escape
from .replay import report_problems

__all__ = ["export"]


def native_lines(events: list[AnyEvent | UnknownEvent]) -> Iterator[bytes]:
    """The source records of an imported session, one JSON per line (CliError if not imported)."""
    try:
        records = native_records(events)
    except P8jError as exc:
        raise CliError(exc.message) from exc
    enc = msgspec.json.Encoder()
    return (enc.encode(record) + b"\n" for record in records)


def _write_all(chunks: Iterable[bytes], out: IO[bytes]) -> None:
    for chunk in chunks:
        out.write(chunk)


@click.command(
    epilog="""\b
Examples:
  p8j export 01a2c3 > session.md
  p8j export latest -f json -o snapshot.json
  p8j export latest -f jsonl | jq -c 'select(.type == "CommandRecorded")'
  p8j export 01a2c3 -f native > rollout.jsonl   # an imported session, as its agent wrote it
"""
)
@click.argument("ref", metavar="[ID]", type=SESSION_REF, default="latest")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["md", "json", "jsonl", "native"]),
    default="md",
    show_default=True,
    help="md: a readable transcript (paged on a terminal); json: the snapshot (= --json); "
    "jsonl: raw events; native: an imported session's source records, one JSON per line.",
)
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="Write to FILE instead of stdout (- is stdout); a regular file is replaced "
    "atomically, keeping its mode; links are written through; never a file of the journal.",
)
@click.option("--strict", is_flag=True, help="Fail on the first bad line instead of skipping it.")
@click.option(
    "--all",
    "all_records",
    is_flag=True,
    help="Markdown: also imported records that are not conversation, and usage reports.",
)
@shared_options
def export(
    ref: str, fmt: str, output: str | None, strict: bool, all_records: bool, as_json: bool
) -> None:
    """Export a session as Markdown, JSON, raw JSONL or its source's format (ID: default latest)."""
    ctx = click.get_current_context()
    if as_json:
        if ctx.get_parameter_source("fmt") is not ParameterSource.DEFAULT and fmt != "json":
            raise click.UsageError(f"--json asks for JSON, -f {fmt} for {fmt}: give one of them")
        fmt = "json"
    store = current_store()
    home = store.home if is_home_store(store) else None
    if output is not None and is_stdout(output):
        output = None
    target = check_target(output, home) if output is not None else None  # before any reading
    chunks: Iterable[bytes]
    if fmt == "jsonl":
        sid = resolve_in(store, ref, archived=True)
        lines, cursor = raw_lines(None, sid, strict=strict, store=store)
        chunks = lines
    else:
        events, report = read_session_events(None, ref, strict=strict, store=store)
        sid = report.session_id
        report_problems(report)  # now: not in the middle of what a pager shows
        if fmt == "native":
            chunks = native_lines(events)
        elif fmt == "json":
            chunks = [snapshot_json(fold(events))]
        else:
            pieces = markdown(events, home, all_records=all_records)
            chunks = (piece.encode("utf-8") for piece in pieces)
    if output is not None and target is not None:
        write_target(output, target, chunks)
        click.echo(f"p8j: wrote the {fmt} export of {sid} to {escape(output)}", err=True)
    else:
        with paged() if fmt == "md" else contextlib.nullcontext():
            # Not click.get_binary_stream: deprecated since click 8.5 (removed in 9).
            sys.stdout.flush()
            out = sys.stdout.buffer
            _write_all(chunks, out)
            out.flush()
    if fmt == "jsonl":
        report_problems(load_report(sid, cursor, 0))
