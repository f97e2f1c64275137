"""`p8j replay ID`: rebuild a session from its log (optionally as of a seq or time) and show it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
import msgspec

from p8j.journal import Session
from p8j.replay.content import content_parts
from p8j.replay.load import LoadReport, load_session_with_report

from .options import SESSION_REF, SINCE, count, current_home, shared_options, stdout_style
from .render import Style, duration, escape, local_time, relative_time

__all__ = ["message_lines", "replay", "report_problems"]

ROLE_COLORS = {"user": "cyan", "assistant": "green", "system": "magenta", "tool": "yellow"}
PREVIEW_LINES = 6


LINE_CHARS = 2000


def _clip_lines(text: str, limit: int | None) -> tuple[list[str], int]:
    """Split into lines, keeping the first `limit` (None: all) and cutting very long lines."""
    lines = text.split("\n")
    more = 0
    if limit is not None and len(lines) > limit:
        lines, more = lines[:limit], len(lines) - limit
    if limit is not None:
        lines = [
            ln
            if len(ln) <= LINE_CHARS
            else f"{ln[:LINE_CHARS]}… ({len(ln) - LINE_CHARS} more chars)"
            for ln in lines
        ]
    return lines, more


def message_lines(
    message: dict[str, Any], style: Style, *, full: bool = False, width: int | None = None
) -> list[str]:
    """A message as display lines: role, text, compact tool calls and results (escaped)."""
    role = str(message.get("role", "?"))
    label = style(escape(role), ROLE_COLORS.get(role), bold=True)
    limit = None if full else PREVIEW_LINES
    out: list[str] = []
    parts = content_parts(message.get("content"))
    if not parts:
        return [f"{label}  " + style("(no content)", dim=True)]
    first = True
    for part in parts:
        lead = f"{label}  " if first else "    "
        first = False
        if part.kind == "text":
            lines, more = _clip_lines(escape(part.text, multiline=True), None if full else 40)
            out.append(lead + lines[0])
            out.extend("    " + ln for ln in lines[1:])
            if more:
                out.append("    " + style(f"… {more} more lines (--full shows all)", dim=True))
        elif part.kind == "thinking":
            lines, more = _clip_lines(escape(part.text, multiline=True), limit)
            out.append(lead + style("thinking: " + lines[0], dim=True))
            out.extend("    " + style(ln, dim=True) for ln in lines[1:])
            if more:
                out.append("    " + style(f"… {more} more lines", dim=True))
        elif part.kind == "tool_use":
            name = escape(part.name or "tool")
            call = escape(part.text)
            if width is not None and len(call) > width:
                call = call[: max(10, width - 1)] + "…"
            ident = style(f"  [{escape(part.id)}]", dim=True) if part.id else ""
            out.append(
                lead
                + style("⚙ ", "yellow")
                + style(name, "yellow", bold=True)
                + f"({call})"
                + ident
            )
        elif part.kind == "tool_result":
            lines, more = _clip_lines(escape(part.text, multiline=True), limit)
            tag = "error" if part.is_error else "result"
            ident = f" [{escape(part.id)}]" if part.id else ""
            head = style(
                f"↳ {tag}{ident}:", "red" if part.is_error else None, dim=not part.is_error
            )
            out.append(lead + head + (" " + lines[0] if lines and lines[0] else ""))
            out.extend("      " + ln for ln in lines[1:])
            if more:
                out.append("      " + style(f"… {more} more lines (--full shows all)", dim=True))
        else:
            out.append(lead + style(escape(part.text), dim=True))
    return out


def report_problems(report: LoadReport) -> None:
    """Warn on stderr about lines skipped and a torn tail met while loading."""
    problems = [i for i in report.issues if i.kind != "unknown-event"]
    if problems:
        first = problems[0]
        click.echo(
            f"p8j: warning: skipped {len(problems)} bad line{'s' if len(problems) != 1 else ''} "
            f"in {escape(report.path)} (first: line {first.line}, {escape(first.message)}); "
            f"`p8j verify {report.session_id[:13]}` says more",
            err=True,
        )
    unknown = len(report.issues) - len(problems)
    if unknown:
        click.echo(
            f"p8j: warning: {unknown} event(s) of a type this p8j does not know were kept raw",
            err=True,
        )
    if report.torn is not None:
        click.echo(
            f"p8j: note: the log ends with an incomplete line at byte {report.torn.offset} "
            "(a write cut short, or one in progress); it was ignored",
            err=True,
        )


def _header(session: Session, style: Style, as_of: str | None) -> list[str]:
    title = style(escape(session.project_name) or "(no project)", bold=True)
    lines = [f"{title} · {style(session.session_id, 'yellow')}"]
    facts = [
        f"status {session.status}",
        f"started {local_time(session.start_time, seconds=True)} "
        f"({relative_time(session.start_time)})",
    ]
    if session.end_time is not None:
        facts.append(f"ended {local_time(session.end_time, seconds=True)}")
        seconds = (session.end_time - session.start_time).total_seconds()
        facts.append(f"took {duration(seconds)}")
    elif session.last_event_time is not None:
        facts.append(f"last event {relative_time(session.last_event_time)}")
    lines.append(" · ".join(facts))
    counts = (
        f"{session.message_count} messages · {session.command_count} commands · "
        f"{session.execution_count} executions · seq {session.last_seq}"
    )
    if session.host:
        counts += f" · host {escape(session.host)}"
    lines.append(counts)
    if session.cwd:
        lines.append(f"cwd {escape(session.cwd)}")
    if session.metadata:
        meta = msgspec.json.encode(session.metadata).decode("utf-8", "replace")
        lines.append("metadata " + escape(meta if len(meta) < 300 else meta[:299] + "…"))
    if as_of:
        lines.append(style(f"as of {as_of}", "magenta"))
    return lines


def _earlier(n: int, noun: str) -> str:
    return f"… {n:,} earlier {noun}{'' if n == 1 else 's'} not shown (--last)"


def _section(name: str, style: Style) -> str:
    return style(f"── {name} ──", dim=True)


@click.command(
    epilog="""\b
Examples:
  p8j replay                    the newest session
  p8j replay 01a2c3 --at 12     as it was at event 12
  p8j replay 01a2c3 --last 20   only the end of a long session
  p8j replay latest --until 2026-11-24T09:30 --json
"""
)
@click.argument("ref", metavar="ID", type=SESSION_REF, default="latest")
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
@click.option("--full", is_flag=True, help="Show long texts and outputs whole.")
@click.option("--strict", is_flag=True, help="Fail on the first bad line instead of skipping it.")
@shared_options
def replay(
    ref: str,
    at_seq: int | None,
    until: datetime | None,
    last: int | None,
    full: bool,
    strict: bool,
    as_json: bool,
) -> None:
    """Rebuild a session from its log and show it."""
    home = current_home()
    session, report = load_session_with_report(
        ref, home, upto_seq=at_seq, until=until, skip_corrupt=not strict, history=last
    )
    report_problems(report)
    if as_json:
        click.echo(msgspec.json.encode(session.to_dict()).decode("utf-8"))
        return
    style = stdout_style()
    as_of = None
    if at_seq is not None:
        as_of = f"seq {at_seq}"
    elif until is not None:
        as_of = local_time(until, seconds=True)
    out = _header(session, style, as_of)
    out.append("")
    out.append(_section("conversation", style))
    if session.conversation_omitted:
        out.append(style(_earlier(session.conversation_omitted, "message"), dim=True))
    elif not session.conversation_history:
        out.append(style("(no messages)", dim=True))
    for message in session.conversation_history:
        out.extend(message_lines(message, style, full=full))
    if session.command_history or session.commands_omitted:
        out.append("")
        out.append(_section("commands", style))
        if session.commands_omitted:
            out.append(style(_earlier(session.commands_omitted, "command"), dim=True))
        for i, command in enumerate(session.command_history, session.commands_omitted + 1):
            out.append(f"{style(f'{i:>3}', dim=True)}  $ {escape(command)}")
    if session.execution_histories or session.executions_omitted:
        out.append("")
        out.append(_section("executions", style))
        if session.executions_omitted:
            out.append(style(_earlier(session.executions_omitted, "execution"), dim=True))
        for ex in session.execution_histories:
            code = ex.get("exit_code")
            mark = style("✔", "green") if code == 0 else style("✘", "red")
            took = duration(ex["duration_s"]) if ex.get("duration_s") is not None else "-"
            shown = code if code is not None else "?"
            out.append(f"{mark} exit {shown}  {took}  $ {escape(str(ex.get('command', '')))}")
            output = str(ex.get("output") or "")
            if output:
                lines, more = _clip_lines(
                    escape(output, multiline=True), None if full else PREVIEW_LINES
                )
                out.extend("    " + ln for ln in lines)
                if more:
                    out.append("    " + style(f"… {more} more lines (--full shows all)", dim=True))
    click.echo("\n".join(out))
