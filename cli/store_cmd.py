"""`p8j store check` / `p8j store init`: a NATS JetStream store's settings, risks and set-up.

Contract: the store is ``--store URL`` (a ``nats://`` URL, see
journal/store/nats/config.py), else ``$P8J_STORE``; anything else is a usage
error (exit 2). `check` creates nothing; it prints the server, its JetStream
sync setting (``--monitor http://HOST:8222`` or ``?monitor=`` reads it; else
"unknown"), the stream's settings and one line per risk, and exits 1 when
there is any warning (0 when none), like `p8j verify`; it also lists the
sessions an interrupted rewrite left half done (each a warning), and with
``--repair`` completes or rolls them back. `init` creates the
stream and buckets (``--replicas N``) or brings an existing stream to the
recommended settings; running it again changes nothing. Both take --json.
"""

from __future__ import annotations

import os
from typing import Any

import click
import msgspec

from .main import CliUsageError
from .options import shared_options, stdout_style, store_choice

__all__ = ["store"]

_NS = 1_000_000_000


def _open(url: str | None, **overrides: Any) -> Any:
    from p8j.journal.store.select import ENV_VAR, open_store

    value = url or os.environ.get(ENV_VAR) or ""
    if not value.startswith(("nats://", "tls://")):
        if not value:
            raise CliUsageError(
                "p8j store needs a nats://host:port store: give --store nats://HOST:4222 "
                f"or set ${ENV_VAR}"
            )
        where = "--store" if url else f"${ENV_VAR}"
        raise CliUsageError(f"p8j store needs a nats://host:port store ({where} is {value!r})")
    if overrides:
        sep = "&" if "?" in value else "?"
        value += sep + "&".join(f"{k}={v}" for k, v in overrides.items())
    return open_store(value)


@click.group()
def store(as_json: bool = False) -> None:
    """Check or set up a NATS JetStream store (`p8j store check|init`)."""
    del as_json  # the subcommand's own --json reads it


def _show_check(report: Any) -> None:
    style = stdout_style()
    s = report.server
    click.echo(f"{style('store', bold=True)}      {report.url}")
    cluster = f", cluster {s['cluster']}" if s.get("cluster") else ""
    click.echo(
        f"{style('server', bold=True)}     nats-server {s.get('version')} "
        f"({s.get('server_name')}{cluster}), max payload {s.get('max_payload')} B"
    )
    js = report.jetstream
    if js is None:
        sync = "unknown (give --monitor http://HOST:8222)"
    elif js.get("sync_always"):
        sync = "always (fsync before every acknowledgement)"
    else:
        sync = f"every {(js.get('sync_interval') or 0) / _NS:g} s"
    click.echo(f"{style('sync', bold=True)}       {sync}")
    cfg = report.stream
    if cfg is not None:
        state = report.state or {}
        click.echo(
            f"{style('stream', bold=True)}     {cfg.get('name')}: {cfg.get('storage')} storage, "
            f"R{cfg.get('num_replicas')}, discard {cfg.get('discard')}, duplicate window "
            f"{(cfg.get('duplicate_window') or 0) / _NS:g} s, "
            f"{state.get('num_subjects', 0)} sessions, {state.get('messages', 0)} events"
        )
    for name, ok in report.buckets.items():
        click.echo(f"{style('bucket', bold=True)}     {name}: {'present' if ok else 'missing'}")
    for left in report.interrupted:
        if left["repaired"]:
            reads = "old" if left["state"] == "uncommitted" else "new"
            click.echo(
                f"{style('repaired', bold=True)}   session {left['session_id']}: its interrupted "
                f"rewrite ({left['state']}) now reads as the {reads} log, leftovers purged"
            )
    for w in report.warnings:
        click.echo(f"{style('warning', 'yellow', bold=True)}    {w}")
    if not report.warnings:
        click.echo("no settings that can lose acknowledged events")


@store.command()
@click.option("--monitor", metavar="URL", help="The server's monitoring URL (reads its sync).")
@click.option("--repair", is_flag=True, help="Complete or roll back interrupted rewrites.")
@shared_options
def check(monitor: str | None, repair: bool, as_json: bool) -> None:
    """Report a NATS store's settings; exit 1 if any can lose events."""
    from p8j.journal.store.nats.check import check_store

    nats_store = _open(store_choice(env=False))
    try:
        report = check_store(nats_store, monitor, repair)
    finally:
        nats_store.close()
    if as_json:
        click.echo(msgspec.json.encode(report).decode("utf-8"))
    else:
        _show_check(report)
    if report.warnings:
        click.get_current_context().exit(1)


@store.command()
@click.option(
    "--replicas", type=click.IntRange(1, 5), default=None, help="Stream replicas (3 in a cluster)."
)
@shared_options
def init(replicas: int | None, as_json: bool) -> None:
    """Create a NATS store's stream and buckets with the recommended settings."""
    from p8j.journal.store.nats.check import init_store

    nats_store = _open(store_choice(env=False), **({"replicas": replicas} if replicas else {}))
    try:
        report = init_store(nats_store)
    finally:
        nats_store.close()
    if as_json:
        click.echo(msgspec.json.encode(report).decode("utf-8"))
        return
    click.echo(f"created: {', '.join(report.created) or 'nothing (all present)'}")
    if report.updated:
        click.echo(f"updated: {', '.join(report.updated)}")
    for w in report.warnings:
        click.echo(f"warning: {w}")
