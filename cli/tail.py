"""`p8j tail [ID ...]`: follow sessions as other processes append to them, like journalctl -f.

Following every session of a journal that does not exist yet creates it and waits for the
first session (the only command that creates a journal without writing a session);
``--no-follow`` there prints nothing and exits 0, as ``ls`` does.
Following sessions by id ends by itself once every one of them has ended (a completed
session prints its backlog and exits at once). ``--since TIME`` starts the backlog at
that time instead of the last ``-n`` events (with ``-n`` too: the last N since then).
Ctrl-C (SIGINT) ends it with exit 0 and nothing on stderr, wherever it lands.
"""

from __future__ import annotations

from datetime import datetime

import click
import msgspec

from p8j.journal import (
    AnyEvent,
    CommandRecorded,
    ExecutionRecorded,
    LinesRemoved,
    MessageRecorded,
    MetadataUpdated,
    RecordImported,
    SessionCompacted,
    SessionEnded,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    SessionTitled,
    UnknownEvent,
    UsageRecorded,
)
from p8j.journal.fidelity import event_time
from p8j.journal.housekeeping import resolve_in
from p8j.journal.store.base import is_home_store
from p8j.replay.content import content_parts
from p8j.replay.follow import FollowedEvent, Follower, FollowNotice, parse_event_types

from .options import SESSION_REF, SINCE, count, current_store, shared_options, stdout_style
from .render import (
    ID_CHARS,
    Style,
    cell_width,
    duration,
    escape,
    is_terminal,
    local_time,
    terminal_width,
    truncate,
)

__all__ = ["ROLE_COLORS", "event_summary", "human_line", "tail"]

ROLE_COLORS = {"user": "cyan", "assistant": "green", "system": "magenta", "tool": "yellow"}
_ENC = msgspec.json.Encoder()


TEXT_CHARS = 4000  # a one-line summary never needs more of a (possibly huge) text


def _short(text: str) -> str:
    return escape(text[:TEXT_CHARS] + ("…" if len(text) > TEXT_CHARS else ""))


def _message_text(event: MessageRecorded) -> str:
    pieces = []
    for part in content_parts(event.content):
        if part.kind == "thinking":
            pieces.append("(thinking) " + _short(part.text))
        elif part.kind == "tool_use":
            pieces.append(f"⚙ {_short(part.name or 'tool')}({_short(part.text)})")
        elif part.kind == "tool_result":
            pieces.append(("↳ error: " if part.is_error else "↳ ") + _short(part.text))
        else:
            pieces.append(_short(part.text))
    return "  ".join(pieces)


def _fidelity_summary(event: AnyEvent | UnknownEvent) -> tuple[str, str | None, str] | None:
    """The summary of the event types imported sessions add (None: not one of them)."""
    if isinstance(event, SessionCompacted):
        tokens = f" at {event.tokens_before:,} tokens" if event.tokens_before is not None else ""
        return "compacted", "magenta", f"{_short(event.trigger or 'compaction')}{tokens}"
    if isinstance(event, UsageRecorded):
        u = event.usage
        text = f"{u.input_tokens:,} in · {u.output_tokens:,} out"
        if u.cache_read_tokens or u.cache_write_tokens:
            text += f" · cache {u.cache_read_tokens:,} read {u.cache_write_tokens:,} written"
        return "usage", None, text
    if isinstance(event, RecordImported):
        return _short(event.kind or "record"), None, "(kept as imported)"
    return None


def event_summary(event: AnyEvent | UnknownEvent) -> tuple[str, str | None, str]:
    """(label, label colour, one-line text) of an event for people; log text escaped."""
    if isinstance(event, MessageRecorded):
        label = _short(event.role) + (" (injected)" if event.injected else "")
        if event.compaction_summary:
            label += " (compaction summary)"
        return label, ROLE_COLORS.get(event.role, "white"), _message_text(event)
    if isinstance(event, CommandRecorded):
        return "command", "blue", "$ " + _short(event.command)
    if isinstance(event, ExecutionRecorded):
        code = event.exit_code
        label = f"exit {code if code is not None else '?'}"
        took = f" ({duration(event.duration_s)})" if event.duration_s is not None else ""
        first = event.output.strip().split("\n", 1)[0] if event.output else ""
        text = f"$ {_short(event.command)}{took}" + (f"  → {_short(first)}" if first else "")
        return label, None if code is None else "green" if code == 0 else "red", text
    if isinstance(event, SessionStarted):
        return "started", "magenta", f"project {_short(event.project_name)}"
    if isinstance(event, SessionPaused):
        return "paused", "yellow", _short(event.reason or "")
    if isinstance(event, SessionResumed):
        text = "after a crash" if event.recovered else ""
        if event.repaired_bytes:
            text += f" ({event.repaired_bytes} torn bytes moved aside)"
        return "resumed", "magenta", text
    if isinstance(event, SessionEnded):
        return "ended", "magenta", _short(event.reason or "")
    if isinstance(event, MetadataUpdated):
        return "metadata", None, _short(_ENC.encode(event.changes).decode("utf-8", "replace"))
    if isinstance(event, LinesRemoved):
        lines = sum(r.lines for r in event.removed)
        return "repaired", "red", f"{lines} damaged line(s) moved aside by p8j repair"
    if isinstance(event, SessionTitled):
        return "titled", "magenta", _short(event.title)
    fidelity = _fidelity_summary(event)
    if fidelity is not None:
        return fidelity
    assert isinstance(event, UnknownEvent)
    return _short(event.type), None, "(an event type this p8j does not know)"


def human_line(item: FollowedEvent, style: Style, width: int | None) -> str:
    """One event as one line: time, session, project, label, text (cut to `width`)."""
    event = item.event
    label, color, text = event_summary(event)
    # An imported event's source time; one whose record had none shows no time (not the import's).
    found = event_time(event)
    stamp = "--:--:--" if found is None else local_time(found, seconds=True)[11:]
    project = truncate(_short(item.project_name[:100]), 20)
    plain_head = f"{stamp} {item.session_id[:ID_CHARS]} {project}  {label}  "
    if width is not None:
        text = truncate(text, max(20, width - cell_width(plain_head)))
    return (
        f"{style(stamp, dim=True)} {style(item.session_id[:ID_CHARS], 'yellow')} {project}  "
        f"{style(label, color, bold=True)}  {text}"
    )


@click.command(
    epilog="""\b
Examples:
  p8j tail                      every session, new ones too (Ctrl-C stops)
  p8j tail latest -n 50         one session, its last 50 events first
  p8j tail --type message,command --project 'web*'
  p8j tail --json | jq -c 'select(.type == "ExecutionRecorded" and .exit_code != 0)'
"""
)
@click.argument("refs", metavar="[ID]...", nargs=-1, type=SESSION_REF)
@click.option(
    "-n",
    "--lines",
    "backlog",
    type=count(0),
    default=None,
    help="Show the last N matching events first (default 10; with --since: all since then).",
)
@click.option(
    "--since",
    type=SINCE,
    default=None,
    help="Start from a time: events since 2h, 2026-11-24T09:30 (then follow).",
)
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="TYPE[,TYPE]",
    help="Only these event types: message, command, execution, metadata, start, pause, "
    "resume, end, lifecycle.",
)
@click.option("--project", metavar="NAME", help="Only sessions of this project (wildcards work).")
@click.option("--no-follow", is_flag=True, help="Print the last events and exit.")
@click.option("--poll", is_flag=True, help="Poll for changes instead of using inotify (NFS etc.).")
@shared_options
def tail(
    refs: tuple[str, ...],
    backlog: int | None,
    since: datetime | None,
    types: tuple[str, ...],
    project: str | None,
    no_follow: bool,
    poll: bool,
    as_json: bool,
) -> None:
    """Follow sessions live as they are written."""
    try:
        _tail(refs, backlog, since, types, project, no_follow, poll, as_json)
    except KeyboardInterrupt:
        # Ctrl-C is how a tail ends, wherever it lands (startup, backlog, output, the
        # sleep between polls): exit 0, no traceback. The follower's own cleanup (closing
        # the watch) ran as the interrupt passed through it.
        return
    except Exception as exc:
        if not _from_interrupt(exc):
            raise
        # Raised by code the interrupt cut in two (a lock-based wait that Ctrl-C left
        # with its lock released, as threading.Condition.wait can be): still Ctrl-C's end.
        return


def _from_interrupt(exc: BaseException) -> bool:
    """True if `exc` was raised while a KeyboardInterrupt was being handled."""
    seen: set[int] = set()
    context = exc.__context__
    while context is not None and id(context) not in seen:
        if isinstance(context, KeyboardInterrupt):
            return True
        seen.add(id(context))
        context = context.__context__
    return False


def _tail(
    refs: tuple[str, ...],
    backlog: int | None,
    since: datetime | None,
    types: tuple[str, ...],
    project: str | None,
    no_follow: bool,
    poll: bool,
    as_json: bool,
) -> None:
    store = current_store()
    home = store.home if is_home_store(store) else None
    if home is not None and no_follow and not refs and not home.check().exists():
        # As `ls` says it: nothing recorded here yet is an empty journal, not an error.
        click.echo(f"No sessions in {escape(str(home.path))} yet. Try `p8j demo`.", err=True)
        return
    if home is not None and not no_follow and not refs and not home.exists():
        # Following everything on a fresh machine: wait for the first session.
        home.ensure()
        click.echo(
            f"p8j: no sessions in {escape(str(home.path))} yet; waiting for the first", err=True
        )
    try:
        wanted = parse_event_types(types) if types else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--type") from None
    ids = [resolve_in(store, r) for r in refs] if refs else None
    follower = Follower(
        store,
        ids,
        types=wanted,
        project=project,
        backlog=(10 if since is None else None) if backlog is None else backlog,
        since=since,
        follow=not no_follow,
        force_polling=poll,
        stop_when_ended=ids is not None,
    )
    style = stdout_style()
    width = terminal_width() if is_terminal() else None
    for item in follower:
        if isinstance(item, FollowNotice):
            click.echo(f"p8j: {escape(item.message)}", err=True)
        elif as_json:
            click.echo(item.line, nl=False)
        else:
            click.echo(human_line(item, style, width))
    if ids is not None and not no_follow:
        done = "it has" if len(ids) == 1 else f"all {len(ids)} have"
        click.echo(f"p8j: {done} ended", err=True)
