"""`p8j replay ID`: rebuild a session from its log (optionally as of a seq or time) and show it.

Contract: every line fits the terminal (or `LINE_CHARS` when piped) unless
``--full``; the state is the one `p8j ls` shows (`live`, `crashed`, ...); a
time-travel bound outside the session says so (before its start: an error;
past its end: a note); long output goes through the pager on a terminal.
Times are effective times (an imported session's source times). Tool calls
are shown with their results (paired by id), changes of cwd / branch / model
and compactions where they happen, imported non-conversation records only
with ``--all``, child sessions (sub-agents) inline with ``--children``
(cli/replay_view.py). ``--context compacted`` shows only what the model saw
after the last compaction. ``--json`` adds ``usage_total`` and
``usage_by_model`` to the session's dict.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import msgspec

from p8j.journal import Session, SessionNotFoundError
from p8j.journal.fidelity import usage_dict
from p8j.replay.content import ContentPart
from p8j.replay.listing import session_state
from p8j.replay.load import CONTEXTS, LoadReport, load_session, load_session_with_report
from p8j.replay.timeline import child_sessions, imported_records

from .options import SESSION_REF, SINCE, count, current_store, shared_options, stdout_style
from .pager import paged
from .render import (
    ID_CHARS,
    Style,
    cell_width,
    duration,
    escape,
    is_terminal,
    local_time,
    plural,
    relative_time,
    terminal_width,
)
from .replay_view import (
    call_index,
    child_lines,
    markers,
    pair_results,
    shown_inline,
    usage_line,
)
from .transcript import PREVIEW_LINES, clip_lines, cut, message_lines, more_lines

__all__ = ["LINE_CHARS", "message_lines", "replay", "report_problems"]

LINE_CHARS = 2000  # the widest line shown when stdout is not a terminal (unless --full)
_BLOB_KINDS = ("missing-blob", "bad-blob")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _blob_problems(report: LoadReport) -> None:
    blobs = [i for i in report.issues if i.kind in _BLOB_KINDS]
    if not blobs:
        return
    hashes: list[str] = []
    for issue in blobs:
        found = _SHA256.search(issue.message)
        name = found.group() if found else "?"
        if name not in hashes:
            hashes.append(name)
    missing = sum(1 for i in blobs if i.kind == "missing-blob")
    what = "missing" if missing == len(blobs) else "missing or damaged"
    shown = ", ".join(h[:12] for h in hashes[:3]) + (", …" if len(hashes) > 3 else "")
    click.echo(
        f"p8j: warning: {plural(len(hashes), 'stored payload')} {what} in "
        f"{escape(str(Path(report.path).parent.parent / 'blobs'))} (sha256 {shown}); "
        f"shown as their [p8j-blob ...] placeholders; `p8j verify {report.session_id[:ID_CHARS]}` "
        "says more",
        err=True,
    )


def report_problems(report: LoadReport) -> None:
    """Warn on stderr, once each, about lines skipped, payloads missing and a torn tail."""
    problems = [i for i in report.issues if i.kind not in ("unknown-event", *_BLOB_KINDS)]
    if problems:
        first = problems[0]
        click.echo(
            f"p8j: warning: skipped {plural(len(problems), 'bad line')} "
            f"in {escape(report.path)} (first: line {first.line}, {escape(first.message)}); "
            f"`p8j verify {report.session_id[:ID_CHARS]}` says more",
            err=True,
        )
    _blob_problems(report)
    unknown = sum(1 for i in report.issues if i.kind == "unknown-event")
    if unknown:
        click.echo(
            f"p8j: warning: {plural(unknown, 'event')} of a type this p8j does not know "
            f"{'was' if unknown == 1 else 'were'} kept raw",
            err=True,
        )
    if report.torn is not None:
        click.echo(
            f"p8j: note: the log ends with an incomplete line at byte {report.torn.offset} "
            "(a write cut short, or one in progress); it was ignored",
            err=True,
        )


def _header(
    session: Session, state: str, style: Style, as_of: str | None, width: int | None
) -> list[str]:
    project = escape(session.project_name) or "(no project)"
    if width is not None:
        project = cut(project, max(10, width - len(session.session_id) - 3))
    lines = [f"{style(project, bold=True)} · {style(session.session_id, 'yellow')}"]
    facts = [
        f"state {state}",
        f"started {local_time(session.start_time, seconds=True, zone=True)} "
        f"({relative_time(session.start_time)})",
    ]
    if session.end_time is not None:
        facts.append(f"ended {local_time(session.end_time, seconds=True, zone=True)}")
        seconds = (session.end_time - session.start_time).total_seconds()
        facts.append(f"took {duration(seconds)}")
    elif session.last_event_time is not None:
        facts.append(f"last event {relative_time(session.last_event_time)}")
        if session.source is not None:  # an imported session never ends: say how long it ran
            seconds = (session.last_event_time - session.start_time).total_seconds()
            facts.append(f"spans {duration(seconds)}")
    plain = _joined(facts, width)
    counts = (
        f"{plural(session.message_count, 'message')} · {plural(session.command_count, 'command')}"
        f" · {plural(session.execution_count, 'execution')} · seq {session.last_seq}"
    )
    if session.host:
        counts += f" · host {escape(session.host)}"
    plain.append(counts)
    tokens = usage_line(session)
    if tokens:
        plain.append(tokens)
    if session.source is not None:
        plain.append(
            f"imported from {escape(session.source.agent)} session "
            f"{escape(session.source.source_id)}"
        )
    if session.parent_id is not None:
        call = f" (tool call {escape(session.parent_call_id)})" if session.parent_call_id else ""
        plain.append(f"child of {session.parent_id}{call}")
    if session.title:
        plain.append(f"title {escape(session.title)}")
    if session.forked_from is not None:
        plain.append(f"forked from {session.forked_from} at seq {session.forked_at_seq}")
    if session.cwd:
        plain.append(f"cwd {escape(session.cwd)}")
    if session.metadata:
        meta = msgspec.json.encode(session.metadata).decode("utf-8", "replace")
        plain.append("metadata " + escape(meta if len(meta) < 300 else meta[:299] + "…"))
    lines += [cut(line, width) for line in plain]
    if as_of:
        lines.append(style(cut(f"as of {as_of}", width), "magenta"))
    return lines


def _joined(facts: list[str], width: int | None) -> list[str]:
    """`facts` joined by `` · `` into as few lines as fit `width` (None: one line)."""
    lines = [facts[0]]
    for fact in facts[1:]:
        if width is not None and cell_width(lines[-1]) + 3 + cell_width(fact) > width:
            lines.append(fact)
        else:
            lines[-1] += " · " + fact
    return lines


def _earlier(n: int, noun: str, why: str = "--last") -> str:
    return f"… {plural(n, 'earlier ' + noun)} not shown ({why})"


def _hidden_by(session: Session, context: str, last: int | None) -> str:
    """Why earlier messages are left out: --last, the compaction (--context compacted), both."""
    if context != "compacted" or session.compacted_at is None:
        return "--last"
    return "before the last compaction" + (
        ", and --last" if last is not None else "; --context all"
    )


def _section(name: str, style: Style) -> str:
    return style(f"── {name} ──", dim=True)


def _execution_lines(ex: dict[str, Any], style: Style, full: bool, width: int | None) -> list[str]:
    code = ex.get("exit_code")
    if code is None:
        mark = style("•", dim=True)  # unknown: neither a success nor a failure
    else:
        mark = style("✔", "green") if code == 0 else style("✘", "red")
    took = duration(ex["duration_s"]) if ex.get("duration_s") is not None else "-"
    shown = code if code is not None else "?"
    head = f"exit {shown}  {took}  $ {escape(str(ex.get('command', '')))}"
    if ex.get("status"):
        head = f"{escape(str(ex['status']))}  " + head
    if ex.get("call_id"):
        head += f"  [{escape(str(ex['call_id']))}]"
    out = [f"{mark} {cut(head, None if width is None else width - 2)}"]
    output = str(ex.get("output") or "")
    if ex.get("stderr"):
        output = (output + "\n" if output else "") + "stderr: " + str(ex["stderr"])
    if output:
        room = None if width is None else width - 4
        lines, more = clip_lines(
            escape(output, multiline=True), None if full else PREVIEW_LINES, room
        )
        out.extend("    " + ln for ln in lines)
        if more:
            out.append("    " + more_lines(more, style))
    return out


def _body(
    session: Session,
    style: Style,
    full: bool,
    width: int | None,
    inline: dict[int, list[str]] | None = None,
    results: dict[str, ContentPart] | None = None,
    hidden_by: str = "--last",
) -> list[str]:
    """The conversation (with `inline` markers before the messages they precede), then the
    commands and executions not already shown in it (tool calls with their `results`)."""
    out = [_section("conversation", style)]
    if session.conversation_omitted:
        earlier = _earlier(session.conversation_omitted, "message", hidden_by)
        out.append(style(earlier, dim=True))
    elif not session.conversation_history and not inline:
        out.append(style("(no messages)", dim=True))
    inline = inline or {}
    results = pair_results(session) if results is None else results
    paired = frozenset(results)
    first = session.conversation_omitted
    for i, message in enumerate(session.conversation_history, first):
        out.extend(inline.get(i, ()))
        out.extend(
            message_lines(message, style, full=full, width=width, results=results, paired=paired)
        )
    for index in sorted(i for i in inline if i >= first + len(session.conversation_history)):
        out.extend(inline[index])
    skip = shown_inline(session)
    commands = [
        (i, c)
        for i, c in enumerate(session.command_history, session.commands_omitted)
        if i not in skip
    ]
    if commands or session.commands_omitted:
        out += ["", _section("commands", style)]
        if session.commands_omitted:
            out.append(style(_earlier(session.commands_omitted, "command"), dim=True))
        room = None if width is None else width - 7
        for i, command in commands:
            out.append(f"{style(f'{i + 1:>3}', dim=True)}  $ {cut(escape(command), room)}")
    executions = [ex for ex in session.execution_histories if ex.get("call_id") not in paired]
    if executions or session.executions_omitted:
        out += ["", _section("executions", style)]
        if session.executions_omitted:
            out.append(style(_earlier(session.executions_omitted, "execution"), dim=True))
        for ex in executions:
            out.extend(_execution_lines(ex, style, full, width))
    return out


def _as_of(session: Session, at_seq: int | None, until: datetime | None) -> str | None:
    """What the header says about a time-travel bound (None: the whole session)."""
    if at_seq is not None:
        if at_seq > session.last_seq:
            click.echo(
                f"p8j: note: the log ends at seq {session.last_seq}, before seq {at_seq}; "
                "showing its last state",
                err=True,
            )
            return f"seq {session.last_seq} (the last; --at {at_seq} asked for more)"
        return f"seq {at_seq}"
    if until is not None:
        if until < session.start_time:
            raise SessionNotFoundError(
                f"session {session.session_id} did not exist yet at "
                f"{local_time(until, seconds=True, zone=True)}: it started at "
                f"{local_time(session.start_time, seconds=True, zone=True)}"
            )
        return f"{local_time(until, seconds=True, zone=True)} (seq {session.last_seq})"
    return None


@click.command(
    epilog="""\b
Examples:
  p8j replay                    the newest session
  p8j replay 01a2c3 --at 12     as it was at event 12
  p8j replay 01a2c3 --last 20   only the end of a long session
  p8j replay latest --until 2026-11-24T09:30 --json
"""
)
@click.argument("ref", metavar="[ID]", type=SESSION_REF, default="latest")
@click.option("--at", "at_seq", type=count(0), default=None, help="State as of event seq SEQ.")
@click.option(
    "--until", type=SINCE, default=None, help="State as of a time: 2026-11-24T07:00, 2h (ago)."
)
@click.option(
    "--last",
    type=count(0),
    default=None,
    metavar="N",
    help="Only the last N messages, commands and executions.",
)
@click.option("--full", is_flag=True, help="Show long texts, outputs and lines whole.")
@click.option("--strict", is_flag=True, help="Fail on the first bad line instead of skipping it.")
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Also show imported records that are not conversation (progress, hooks...).",
)
@click.option(
    "--children", is_flag=True, help="Show child sessions (sub-agents) inline where spawned."
)
@click.option(
    "--context",
    type=click.Choice(CONTEXTS),
    default="all",
    show_default=True,
    help="The whole history, or what the model saw after the last compaction.",
)
@shared_options
def replay(
    ref: str,
    at_seq: int | None,
    until: datetime | None,
    last: int | None,
    full: bool,
    strict: bool,
    show_all: bool,
    children: bool,
    context: str,
    as_json: bool,
) -> None:
    """Rebuild a session from its log and show it (ID: default latest)."""
    if at_seq is not None and until is not None:
        raise click.UsageError("--at and --until are two bounds for one thing: give one of them")
    store = current_store()
    session, report = load_session_with_report(
        ref,
        None,
        store=store,
        upto_seq=at_seq,
        until=until,
        skip_corrupt=not strict,
        history=last,
        context=context,
    )
    report_problems(report)
    if as_json:
        _as_of(session, at_seq, until)  # the same notes and errors as the human form
        out_dict = session.to_dict()
        if session.usage is not None:
            out_dict["usage_total"] = usage_dict(session.usage.total())
            out_dict["usage_by_model"] = {
                m: usage_dict(u) for m, u in sorted(session.usage.by(1).items())
            }
        click.echo(msgspec.json.encode(out_dict).decode("utf-8"))
        return
    style = stdout_style()
    as_of = _as_of(session, at_seq, until)
    state = session_state(store, session.session_id, session.status)[0]
    if state == "crashed" and session.source is not None:
        state = "imported"  # as `p8j ls` says: nobody imports it now, nothing crashed
    if as_of is not None and state in ("live", "crashed", "imported"):
        state = session.status  # the lock says what is true now, not then
    width = None if full else (terminal_width() if is_terminal() else LINE_CHARS)
    records = (
        imported_records(session.session_id, upto_seq=at_seq, until=until, store=store)
        if show_all
        else []
    )
    results = pair_results(session)
    inline = markers(session, style, records, width, full=full, results=results)
    if children:
        _add_children(inline, session, style, full, width)
    out = _header(session, state, style, as_of, width)
    hidden_by = _hidden_by(session, context, last)
    out += ["", *_body(session, style, full, width, inline, results, hidden_by)]
    with paged(color=style.enabled):
        click.echo("\n".join(out))


def _add_children(
    inline: dict[int, list[str]], session: Session, style: Style, full: bool, width: int | None
) -> None:
    """Put each child session after the message that spawned it (else after the conversation)."""
    store = current_store()
    end = session.message_count
    for summary in child_sessions(store, session.session_id):
        child = load_session(summary.session_id, store=store, skip_corrupt=True)
        spawned = call_index(session, child.parent_call_id)
        place = end if spawned is None else spawned + 1
        inline.setdefault(place, []).extend(child_lines(child, style, full=full, width=width))
