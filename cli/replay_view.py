"""What `p8j replay` shows of the fidelity fields: paired calls, inline markers, child sessions.

Contract: `pair_results` maps the id of every tool call shown in the
conversation (a ``tool_use`` block) to its result: the ``tool_result`` block
with that id (in any message), else the execution with that ``call_id``;
`markers` gives, per message index, the lines to show before that message, in
log order: context changes (cwd, git branch, model), compaction boundaries,
tool calls recorded as commands (with their results: `pair_results` covers
them too), the imported records (only when asked: ``--all``); child sessions
go after the message holding the tool call that spawned them, else after the
conversation (`call_index`). Every text from a log is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from p8j.journal import RecordImported, Session
from p8j.journal.fidelity import usage_dict
from p8j.replay.content import ContentPart, content_parts

from .render import Style, escape, plural
from .transcript import cut, message_lines, result_lines

__all__ = [
    "call_index",
    "child_lines",
    "markers",
    "pair_results",
    "shown_inline",
    "usage_line",
]

_ENC = msgspec.json.Encoder()


def pair_results(session: Session) -> dict[str, ContentPart]:
    """Call id -> result, for the calls the conversation shows (module docstring)."""
    calls = {c["call_id"] for c in session.tool_calls}
    # Text content holds no call or result: only block lists are split (most messages are text).
    contents = (m.get("content") for m in session.conversation_history)
    parts = [content_parts(c) for c in contents if type(c) is not str]
    for message_parts in parts:
        calls.update(p.id for p in message_parts if p.kind == "tool_use" and p.id)
    results: dict[str, ContentPart] = {}
    for message_parts in parts:
        for p in message_parts:
            if p.kind == "tool_result" and p.id is not None and p.id in calls:
                results.setdefault(p.id, p)
    for ex in session.execution_histories:
        cid = ex.get("call_id")
        if isinstance(cid, str) and cid in calls and cid not in results:
            text = str(ex.get("output") or "")
            if ex.get("stderr"):
                text = (text + "\n" if text else "") + str(ex["stderr"])
            code = ex.get("exit_code")
            failed = ex.get("status") in ("error", "failed") or (code is not None and code != 0)
            results[cid] = ContentPart("tool_result", text, id=cid, is_error=failed)
    return results


def _context_line(change: dict[str, Any], style: Style) -> str:
    said = []
    for key, name in (("cwd", "cwd"), ("git_branch", "branch"), ("model", "model")):
        if key in change:
            said.append(f"{name} {escape(str(change[key])) or '(none)'}")  # "": e.g. no git repo
    return style("· " + " · ".join(said), "blue", dim=True)


def _compaction_line(entry: dict[str, Any], style: Style) -> str:
    facts = [str(entry["trigger"])] if entry.get("trigger") else []
    if entry.get("tokens_before") is not None:
        facts.append(f"{entry['tokens_before']:,} tokens before")
    said = f" ({escape(', '.join(facts))})" if facts else ""
    return style(f"── context compacted{said} ──", "magenta")


def _call_lines(
    session: Session,
    call: dict[str, Any],
    style: Style,
    results: dict[str, ContentPart],
    full: bool,
    width: int | None,
) -> list[str]:
    """A tool call recorded as a command, with its result under it."""
    index = call["command_index"] - session.commands_omitted
    if not 0 <= index < len(session.command_history):
        return []
    name = escape(str(call.get("tool") or "command"))
    ident = f"  [{escape(str(call['call_id']))}]"
    room = None if width is None else max(10, width - len(name) - len(ident) - 6)
    text = cut(escape(session.command_history[index]), room)
    line = style("⚙ ", "yellow") + style(name, "yellow", bold=True) + f"({text})"
    out = [line + style(ident, dim=True)]
    found = results.get(call["call_id"])
    if found is not None:
        inner = None if width is None else width - 4
        out.extend(result_lines(found, "    ", style, full, inner, inner))
    return out


def markers(
    session: Session,
    style: Style,
    records: Sequence[tuple[int, RecordImported]] = (),
    width: int | None = None,
    *,
    full: bool = False,
    results: dict[str, ContentPart] | None = None,
) -> dict[int, list[str]]:
    """Message index -> the marker lines to show before that message (in log order)."""
    found: list[tuple[int, int, list[str]]] = []  # (message index, seq, lines)
    for change in session.context_changes:
        found.append((change["message_index"], change["seq"], [_context_line(change, style)]))
    for entry in session.compactions:
        lines = [_compaction_line(entry, style)]
        if entry.get("summary"):
            text = escape(str(entry["summary"]))
            lines.append(style(cut("  summary: " + text, width), dim=True))
        found.append((entry["message_index"], entry["seq"], lines))
    for call in session.tool_calls:
        lines = _call_lines(session, call, style, results or {}, full, width)
        if lines:
            found.append((call["message_index"], call["seq"], lines))
    room = None if width is None else width - 4
    for index, record in records:
        raw = _ENC.encode(record.record).decode("utf-8", "replace")
        line = f"[{escape(record.kind)}] {escape(raw)}"
        found.append((index, record.seq, [style(cut(line, room), dim=True)]))
    out: dict[int, list[str]] = {}
    for index, _, lines in sorted(found, key=lambda f: (f[0], f[1])):
        out.setdefault(index, []).extend(lines)
    return out


def shown_inline(session: Session) -> frozenset[int]:
    """Indices (in the session) of the commands `markers` shows in the conversation."""
    return frozenset(c["command_index"] for c in session.tool_calls)


def call_index(session: Session, call_id: str | None) -> int | None:
    """The index of the message holding tool call `call_id`, or None."""
    if call_id is None:
        return None
    for i, message in enumerate(session.conversation_history):
        if any(
            p.id == call_id for p in content_parts(message.get("content")) if p.kind == "tool_use"
        ):
            return session.conversation_omitted + i
    return None


def child_lines(child: Session, style: Style, *, full: bool, width: int | None) -> list[str]:
    """A child session shown inline: a head line, then its messages, indented by a bar."""
    title = escape(child.title) if child.title else escape(child.project_name)
    head = f"↳ child session {child.session_id} · {plural(child.message_count, 'message')}" + (
        f" · {title}" if title else ""
    )
    out = [style(cut(head, width), "yellow")]
    inner = None if width is None else max(20, width - 4)
    results = pair_results(child)
    paired = frozenset(results)
    for message in child.conversation_history:
        for line in message_lines(
            message, style, full=full, width=inner, results=results, paired=paired
        ):
            out.append(style("  │ ", dim=True) + line)
    return out


def usage_line(session: Session) -> str | None:
    """``tokens 1,200 in · 300 out · cache 5,000 read · 100 written`` (None: no usage)."""
    if session.usage is None:
        return None
    u = usage_dict(session.usage.total())
    line = f"tokens {u['input_tokens']:,} in · {u['output_tokens']:,} out"
    if u["cache_read_tokens"] or u["cache_write_tokens"]:
        line += f" · cache {u['cache_read_tokens']:,} read · {u['cache_write_tokens']:,} written"
    models = sorted(m for m in session.usage.by(1) if m)
    if models:
        line += " · " + ", ".join(escape(m) for m in models)
    return line
