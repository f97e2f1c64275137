"""One Codex CLI rollout record -> one p8j event draft (see codex.py for the file level).

Contract of `map_record(record, line, end, state)`: `record` is one decoded JSON
object of a rollout; the result is ``(kind, event)``, `kind` the record's type
as Codex names it (``response_item/message``, ``event_msg/token_count``,
``turn_context``...; a legacy bare item is just its ``type``). The event is a
draft (envelope placeholders) whose ``origin`` rebuilds the record exactly
(`rebuild_record`): values the event shows are moved out of the record, never
copied, except small derived ones (a command line and the exit code, duration of
an output (codex_tools.py), parsed tool arguments, token counts).

What maps to what (modern records are ``{"timestamp", "type", "payload"}``;
legacy ones, before ``session_meta`` existed, are the bare payload):
- ``response_item`` ``message`` -> `MessageRecorded` (role, content moved);
  ``developer`` messages and user messages that are only AGENTS.md /
  ``<user_instructions>`` / ``<environment_context>``... are ``injected``;
- ``reasoning`` -> `MessageRecorded` (role ``assistant``) whose ``content`` is
  the whole reasoning item (``{"type": "reasoning", "summary": [{"type":
  "summary_text", "text"}], "content", "encrypted_content"}``): readers show
  its summary (and raw ``content`` text, when present) as thinking;
- ``function_call`` / ``custom_tool_call`` / ``local_shell_call`` /
  ``web_search_call`` -> `CommandRecorded` (call id, tool, input: the parsed
  arguments when they are a JSON object, else the raw value moved; command: a
  readable line, the shell command for shell tools);
- ``function_call_output`` / ``custom_tool_call_output`` -> `ExecutionRecorded`
  (output moved when a string, else `result`; exit code and duration from the
  ``metadata`` or the unified-exec header where present, else None);
- ``event_msg`` ``user_message`` -> `MessageRecorded` (role ``user``, content =
  ``payload.message``) when no user message of the model's history since the
  last such event says the same: Codex echoes every human prompt as this event
  right after the ``response_item``, and an echo stays a `RecordImported`;
- ``event_msg`` ``token_count`` with ``info`` -> `UsageRecorded` (usage =
  ``last_token_usage``; ``response_id`` derived from ``total_token_usage`` so
  a re-emitted cumulative report counts once); ``thread_name_updated`` ->
  `SessionTitled`; ``compacted`` -> `SessionCompacted` (summary = message,
  replacement = replacement_history);
- everything else (``session_meta``, ``turn_context``, the other ``event_msg``,
  ``state`` markers, unknown types) -> `RecordImported`, verbatim.

Token usage follows p8j's convention (Claude's): ``input_tokens`` excludes
cached input (Codex counts it in), ``cache_read_tokens`` = ``cached_input_tokens``,
``reasoning_tokens`` = ``reasoning_output_tokens`` (already in ``output_tokens``).

Per-turn context (`CodexState`): ``session_meta`` (cwd, git branch),
``turn_context`` (cwd, model) and an ``<environment_context>`` message's
``<cwd>`` set ``origin.cwd``/``git_branch``/``model`` where they change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..events import (
    SCHEMA_VERSION,
    CommandRecorded,
    Event,
    ExecutionRecorded,
    MessageRecorded,
    Origin,
    RecordImported,
    SessionCompacted,
    SessionTitled,
    Usage,
    UsageRecorded,
)
from ..timefmt import format_ts, parse_ts
from .base import event_origin
from .codex_tools import INT_MAX, command_line, output_facts, parse_object

__all__ = ["CodexState", "map_record", "record_ts"]

JsonPath = list[str | int]

# Top-level types of the modern envelope, and the response items (also legacy bare lines).
WRAPPED = frozenset({"session_meta", "response_item", "event_msg", "turn_context", "compacted"})
RESPONSE_ITEMS = frozenset(
    {
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "local_shell_call",
        "web_search_call",
    }
)
# Text Codex sends as a user message on the human's behalf (instructions, context).
INJECTED_MARKERS = (
    "# AGENTS.md instructions",
    "<INSTRUCTIONS>",
    "<user_instructions>",
    "<environment_context>",
    "<permissions instructions>",
    "<skills_instructions>",
    "<collaboration_mode>",
    "<developer_instructions>",
    "<turn_aborted>",
)
_CWD = re.compile(r"<cwd>([^<]*)</cwd>")
_PROMPTS = 8  # echoes follow their prompt at once; a legacy rollout has none to clear them
USER_MESSAGE_PATH: JsonPath = ["payload", "message"]


@dataclass
class CodexState:
    """What reading one rollout remembers between records: per-turn context, open tool calls.

    `apply` is the only way it changes, from the events themselves, so a state
    rebuilt from a session's events (`resume_state`) equals the one a read that
    produced them ended with.
    """

    cwd: str | None = None
    model: str | None = None
    git_branch: str | None = None
    calls: dict[str, str] = field(default_factory=dict)
    # The user messages of the model's history since the last ``user_message`` event:
    # Codex echoes each human prompt as that event right after, and an echo is no prompt.
    prompts: list[str] = field(default_factory=list)

    def apply(self, event: object) -> None:
        """Take in one imported event (others are ignored)."""
        origin = event_origin(event)
        if origin is None or origin.line is None:
            return
        if origin.cwd is not None:
            self.cwd = origin.cwd
        if origin.model is not None:
            self.model = origin.model
        if origin.git_branch is not None:
            self.git_branch = origin.git_branch
        if isinstance(event, CommandRecorded) and event.call_id is not None:
            self.calls[event.call_id] = event.command
        elif isinstance(event, ExecutionRecorded) and event.call_id is not None:
            self.calls.pop(event.call_id, None)
        elif isinstance(event, MessageRecorded) and event.role == "user":
            if origin.moved.get("content") == USER_MESSAGE_PATH:
                self.prompts.clear()
            else:
                self.prompts = [*self.prompts[-(_PROMPTS - 1) :], _prompt(event.content)]
        elif isinstance(event, RecordImported) and event.kind == "event_msg/user_message":
            self.prompts.clear()


@dataclass
class _Draft:
    """What the mapping of one record decided, before the event is built."""

    kind: str
    cls: Callable[..., Event]
    moves: dict[str, JsonPath]
    fields: dict[str, Any] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)
    item_id: str | None = None


def record_ts(record: dict[str, Any]) -> str | None:
    """The record's ``timestamp`` as p8j's RFC 3339 UTC string, or None (absent, not a time)."""
    value = record.get("timestamp")
    if not isinstance(value, str):
        return None
    try:
        return format_ts(parse_ts(value))
    except ValueError:
        return None


def map_record(record: dict[str, Any], line: int, end: int, state: CodexState) -> tuple[str, Event]:
    """Map one decoded rollout record (see the module docstring); `record` is consumed."""
    draft = _draft(record, state)
    ts = record_ts(record)  # before _take takes the record apart
    rest, values = _take(record, draft.moves)
    changed = {k: v for k, v in draft.context.items() if getattr(state, k) != v}
    origin = Origin(
        ts=ts,
        id=draft.item_id,
        line=line,
        end=end,
        rest=rest,
        moved={name: draft.moves[name] for name in values},
        cwd=changed.get("cwd"),
        git_branch=changed.get("git_branch"),
        model=changed.get("model"),
    )
    event = draft.cls(
        v=SCHEMA_VERSION, session_id="", seq=0, ts="", origin=origin, **draft.fields, **values
    )
    return draft.kind, event


def _take(record: dict[str, Any], moves: dict[str, JsonPath]) -> tuple[Any, dict[str, Any]]:
    """`base.split_record` without its deep copy of the record.

    `record` was decoded for this one event, so its values can be popped out of
    it in place: the copy took a third of the read's time.
    """
    if any(not path for path in moves.values()):
        (name,) = [n for n, path in moves.items() if not path]
        return msgspec.UNSET, {name: record}
    values: dict[str, Any] = {}
    for name, path in sorted(moves.items(), key=lambda kv: -len(kv[1])):
        node: Any = record
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        last = path[-1]
        if isinstance(node, dict) and last in node:
            values[name] = node.pop(last)
    return record, values


def _verbatim(kind: str, context: dict[str, str] | None = None) -> _Draft:
    return _Draft(kind, RecordImported, {"record": []}, {"kind": kind}, context or {})


def _draft(record: dict[str, Any], state: CodexState) -> _Draft:
    top = record.get("type")
    payload = record.get("payload")
    if isinstance(top, str) and top in WRAPPED and isinstance(payload, dict):
        return _wrapped(top, payload, state)
    if isinstance(top, str) and top in RESPONSE_ITEMS:
        return _response_item(record, [], top, state)  # a legacy rollout's bare item
    if isinstance(top, str):
        return _verbatim(top)
    marker = record.get("record_type")
    if isinstance(marker, str):
        return _verbatim(marker)  # legacy ``{"record_type": "state"}``
    if "id" in record and "timestamp" in record:
        return _verbatim("session_meta", _meta_context(record))  # the legacy header
    return _verbatim("unknown")


def _wrapped(top: str, payload: dict[str, Any], state: CodexState) -> _Draft:
    ptype = payload.get("type")
    if top == "response_item" and isinstance(ptype, str) and ptype in RESPONSE_ITEMS:
        draft = _response_item(payload, ["payload"], ptype, state)
        draft.kind = f"response_item/{ptype}"
        return draft
    if top == "event_msg":
        return _event_msg(payload, ptype, state)
    if top == "compacted":
        moves = _present(payload, ["payload"], {"summary": ("message", str)})
        if "replacement_history" in payload:
            moves["replacement"] = ["payload", "replacement_history"]
        return _Draft("compacted", SessionCompacted, moves)
    if top == "session_meta":
        return _verbatim("session_meta", _meta_context(payload))
    if top == "turn_context":
        context = {k: v for k in ("cwd", "model") if isinstance(v := payload.get(k), str)}
        return _verbatim("turn_context", context)
    return _verbatim(f"{top}/{ptype}" if isinstance(ptype, str) else top)


def _meta_context(meta: dict[str, Any]) -> dict[str, str]:
    context: dict[str, str] = {}
    if isinstance(cwd := meta.get("cwd"), str):
        context["cwd"] = cwd
    git = meta.get("git")
    if isinstance(git, dict) and isinstance(branch := git.get("branch"), str):
        context["git_branch"] = branch
    return context


def _present(
    item: dict[str, Any], prefix: JsonPath, wanted: dict[str, tuple[str, type[Any]]]
) -> dict[str, JsonPath]:
    """Moves (event field -> path) for the keys of `item` whose values fit the field's type."""
    return {
        name: [*prefix, key]
        for name, (key, kind) in wanted.items()
        if isinstance(item.get(key), kind)
    }


def _event_msg(payload: dict[str, Any], ptype: object, state: CodexState) -> _Draft:
    kind = f"event_msg/{ptype}" if isinstance(ptype, str) else "event_msg"
    if ptype == "token_count":
        usage = _usage_draft(payload.get("info"))
        if usage is not None:
            if state.model is not None:  # the turn's model (turn_context): usage by model
                usage["model"] = state.model
            return _Draft(kind, UsageRecorded, {}, usage)
    elif ptype == "user_message":
        message = payload.get("message")
        if isinstance(message, str) and _prompt(message) not in state.prompts:
            # A prompt only this event holds (hand-trimmed rollouts): the conversation needs it.
            injected = message.lstrip().startswith(INJECTED_MARKERS)
            fields = {"role": "user", "injected": True} if injected else {"role": "user"}
            return _Draft(kind, MessageRecorded, {"content": USER_MESSAGE_PATH}, fields)
    elif ptype == "thread_name_updated":
        moves = _present(payload, ["payload"], {"title": ("thread_name", str)})
        if not moves:
            moves = _present(payload, ["payload"], {"title": ("name", str)})
        if moves:
            return _Draft(kind, SessionTitled, moves, {"source_kind": "thread_name_updated"})
    return _verbatim(kind)


def _count(value: object) -> int:
    return value if type(value) is int and 0 <= value <= INT_MAX else 0


def _usage_draft(info: object) -> dict[str, Any] | None:
    if not isinstance(info, dict) or not isinstance(last := info.get("last_token_usage"), dict):
        return None
    cached = _count(last.get("cached_input_tokens"))
    usage = Usage(
        input_tokens=max(_count(last.get("input_tokens")) - cached, 0),
        output_tokens=_count(last.get("output_tokens")),
        cache_read_tokens=cached,
        reasoning_tokens=_count(last.get("reasoning_output_tokens")),
    )
    fields: dict[str, Any] = {"usage": usage}
    total = info.get("total_token_usage")
    if isinstance(total, dict):
        # Codex re-emits the same cumulative report (rate-limit updates): equal totals
        # are one response, so the fold's dedup by response_id counts it once.
        keys = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")
        fields["response_id"] = "codex-total:" + "/".join(str(_count(total.get(k))) for k in keys)
        fields["response_id"] += f"/{_count(total.get('total_tokens'))}"
    return fields


def _response_item(item: dict[str, Any], prefix: JsonPath, itype: str, state: CodexState) -> _Draft:
    item_id = item.get("id") if isinstance(item.get("id"), str) else None
    if itype == "message" and isinstance(item.get("role"), str):
        draft = _message(item, prefix)
    elif itype == "reasoning":
        # The whole item is the content: summary, raw content and ciphertext stay together.
        # (A bare legacy item's path is [], the whole record.)
        draft = _Draft(itype, MessageRecorded, {"content": list(prefix)}, {"role": "assistant"})
    elif itype.endswith("_output"):
        draft = _output(item, prefix, state)
    elif itype != "message":
        draft = _call(item, prefix, itype)
    else:
        draft = _verbatim(itype)
    draft.kind = itype
    if draft.cls is not RecordImported:
        draft.item_id = item_id
    return draft


def _texts(content: object) -> list[str] | None:
    """The text blocks of a message's content (None when it has none)."""
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return None
    texts = [b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)]
    return texts or None


def _prompt(content: object) -> str:
    """A user message's text as a ``user_message`` event would echo it."""
    return "".join(_texts(content) or []).strip()


def _message(item: dict[str, Any], prefix: JsonPath) -> _Draft:
    moves: dict[str, JsonPath] = {"role": [*prefix, "role"]}
    if "content" in item:
        moves["content"] = [*prefix, "content"]
    role = item["role"]
    texts = _texts(item.get("content"))
    injected = role in ("developer", "system") or (
        role == "user"
        and texts is not None
        and all(t.lstrip().startswith(INJECTED_MARKERS) for t in texts)
    )
    context: dict[str, str] = {}
    if injected and texts is not None:
        for text in texts:
            if "<environment_context>" in text and (found := _CWD.search(text)):
                context["cwd"] = found.group(1).strip()
    fields = {"injected": True} if injected else {}
    return _Draft("message", MessageRecorded, moves, fields, context)


def _call(item: dict[str, Any], prefix: JsonPath, itype: str) -> _Draft:
    moves = _present(item, prefix, {"call_id": ("call_id", str), "tool": ("name", str)})
    fields: dict[str, Any] = {}
    if itype == "function_call" and isinstance(item.get("arguments"), str):
        parsed = parse_object(item["arguments"])
        if parsed is not None:
            fields["input"] = parsed  # a copy: the JSON text stays in the record
        else:
            moves["input"] = [*prefix, "arguments"]
    elif itype == "function_call" and "arguments" in item:
        moves["input"] = [*prefix, "arguments"]
    elif itype == "custom_tool_call" and "input" in item:
        moves["input"] = [*prefix, "input"]
    elif itype in ("local_shell_call", "web_search_call") and "action" in item:
        moves["input"] = [*prefix, "action"]
    if "tool" not in moves:
        fields["tool"] = {"local_shell_call": "local_shell", "web_search_call": "web_search"}.get(
            itype, itype
        )
    if itype == "web_search_call" and "call_id" not in moves:
        moves.update(_present(item, prefix, {"call_id": ("id", str)}))
    tool = item["name"] if "tool" in moves else fields["tool"]
    moved_key = moves["input"][-1] if "input" in moves else None
    arguments = item[moved_key] if isinstance(moved_key, str) else fields.get("input")
    fields["command"] = command_line(tool, arguments)
    if isinstance(arguments, dict):
        workdir = arguments.get("workdir", arguments.get("working_directory"))
        if isinstance(workdir, str):
            fields["cwd"] = workdir
    return _Draft(itype, CommandRecorded, moves, fields)


def _output(item: dict[str, Any], prefix: JsonPath, state: CodexState) -> _Draft:
    moves = _present(item, prefix, {"call_id": ("call_id", str)})
    fields: dict[str, Any] = {}
    out = item.get("output")
    if isinstance(out, str):
        moves["output"] = [*prefix, "output"]
        fields.update(output_facts(out))
    elif "output" in item:
        moves["result"] = [*prefix, "output"]  # content items (MCP, images): not a string
    if item.get("success") is False:
        fields["status"] = "error"
    call_id = item.get("call_id")
    fields["command"] = state.calls.get(call_id, "") if isinstance(call_id, str) else ""
    return _Draft("output", ExecutionRecorded, moves, fields)
