"""`p8j sync --to STORE`: push this journal's sessions to another store, e.g. a team's NATS server.

Contract (the engine is p8j.journal.store.sync; this command parses and renders):
- The source is ``--from STORE`` if given, else the journal files at the home
  (``--home``; ``$P8J_STORE`` is an embedder's choice, not read here); the
  target is ``--to STORE`` (``nats://host:4222``, ``file:///path``, a path).
  Naming the same store twice is a usage error.
- Every session is pushed verbatim and only what the target lacks is sent;
  a session the target holds differently is reported and left alone. Marks
  of what was pushed are kept in the home's cache (only when the source is a
  journal home) so an unchanged session costs two stat-like calls next time.
- Without ``--follow``: one pass; one line per session that was copied or has
  a problem, then a summary (``--json``: one object). With ``--follow``: the
  same after every pass that did something (``--json``: one object per line),
  until Ctrl-C or SIGTERM; a target that cannot be reached is retried every
  second (one ``p8j: ...`` line on stderr each time).
- Exit 1 (with one ``p8j: ...`` line) if a session diverged or failed; busy
  sessions (someone is writing them on the target) are retried by the next
  run and do not fail it.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click
import msgspec

from p8j.journal.cache.sync_marks import load_marks, save_marks
from p8j.journal.errors import P8jError
from p8j.journal.store import FileStore, SessionStore, open_store
from p8j.journal.store.sync import Mark, SessionPush, SyncReport, push_store
from p8j.journal.store.sync_follow import follow_push

from .main import CliError
from .options import current_home, home_option, json_option
from .render import escape, plural

__all__ = ["sync"]

_ENC = msgspec.json.Encoder()


def _line(push: SessionPush) -> str:
    if push.status == "copied":
        made = " (new)" if push.created else ""
        extra = f", {plural(push.blobs, 'blob')}" if push.blobs else ""
        return f"copied {push.session_id}{made}: {plural(push.events, 'event')}{extra}"
    where = f" at seq {push.seq}" if push.seq is not None else ""
    return f"{push.status} {push.session_id}{where}: {escape(push.message)}"


def _emit(report: SyncReport, target: str, as_json: bool, quiet_if_idle: bool) -> None:
    shown = [s for s in report.sessions if s.status != "up-to-date"]
    if quiet_if_idle and not shown:
        return
    if as_json:
        doc = {
            "target": target,
            "events": report.events,
            "blobs": report.blobs,
            "sessions": msgspec.to_builtins(shown if quiet_if_idle else report.sessions),
        }
        click.echo(_ENC.encode(doc))
        return
    for push in shown:
        click.echo(_line(push))
    if not quiet_if_idle:
        n = len(report.sessions)
        click.echo(
            f"{plural(n, 'session')}: {report.count('copied')} copied "
            f"({plural(report.events, 'event')}, {plural(report.blobs, 'blob')}), "
            f"{report.count('up-to-date')} up to date"
            + "".join(
                f", {report.count(k)} {k}"
                for k in ("busy", "diverged", "failed")
                if report.count(k)
            )
        )


def _follow(
    source: SessionStore, target: SessionStore, marks: dict[str, Mark], as_json: bool
) -> list[SessionPush]:
    stop = threading.Event()
    problems: dict[str, SessionPush] = {}

    def on_term(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    def on_report(report: SyncReport) -> None:
        for s in report.sessions:
            if s.status in ("diverged", "failed"):
                problems[s.session_id] = s
            else:
                problems.pop(s.session_id, None)
        _save(source, target, marks)
        _emit(report, target.url, as_json, quiet_if_idle=True)

    def on_error(exc: P8jError) -> None:
        click.echo(f"p8j: {escape(str(exc))} (trying again)", err=True)

    click.echo(f"p8j: pushing to {escape(target.url)} as sessions grow (Ctrl-C stops)", err=True)
    old = signal.signal(signal.SIGTERM, on_term)
    try:
        follow_push(source, target, marks, stop=stop, on_report=on_report, on_error=on_error)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, old)
        _save(source, target, marks)
    return list(problems.values())


def _save(source: SessionStore, target: SessionStore, marks: dict[str, Mark]) -> None:
    if isinstance(source, FileStore):
        save_marks(source.home, target.url, marks)


@click.command(
    epilog="""\b
Examples:
  p8j sync --to nats://team-nats:4222          push every session once
  p8j sync --to nats://team-nats:4222 -f       and keep pushing as they grow
  p8j sync --from ~/old-home --to ~/.local/share/p8j
"""
)
@click.option("--to", "to", required=True, metavar="STORE", help="Where to push: nats://, a path.")
@click.option(
    "--from",
    "from_",
    metavar="STORE",
    help="Where to push from (default: the journal files at the home).",
)
@click.option("-f", "--follow", is_flag=True, help="Keep pushing as sessions grow (Ctrl-C stops).")
@click.option("--full", is_flag=True, help="Compare every session again, ignoring earlier marks.")
@json_option
@home_option
def sync(to: str, from_: str | None, follow: bool, full: bool, as_json: bool) -> None:
    """Push sessions to another store (a team's NATS server), verbatim and incrementally."""
    source = open_store(from_) if from_ is not None else FileStore(current_home())
    target = open_store(to)
    if source.url == target.url and source.url != "memory:":
        raise click.UsageError(f"--to names the store synced from: {to!r}")
    marks: dict[str, Mark] = {}
    if isinstance(source, FileStore) and not full:
        marks = load_marks(source.home, target.url)
    try:
        if follow:
            problems = _follow(source, target, marks, as_json)
        else:
            report = push_store(source, target, marks)
            _save(source, target, marks)
            _emit(report, target.url, as_json, quiet_if_idle=False)
            problems = [s for s in report.sessions if s.status in ("diverged", "failed")]
    finally:
        for store in (source, target):
            close = getattr(store, "close", None)  # a network store's connection
            if callable(close):
                close()
    if problems:
        first = problems[0]
        raise CliError(
            f"{plural(len(problems), 'session')} not synced: {first.session_id}: {first.message}"
        )
