"""Codex tool calls for people: a readable command line, what an output says about itself.

`command_line(tool, arguments)` is the one line a tool call is shown as: the
shell command for shell tools (``bash -lc X`` is ``X``), the files of an
``apply_patch``, the query of a web search, else the tool and its compact
arguments, cut to 200 characters. `output_facts(text)` reads the exit code,
duration and status an output states in its own text (see there); nothing is
guessed when it states none. Pure functions.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import msgspec

__all__ = ["INT_MAX", "command_line", "output_facts", "parse_object"]

INT_MAX = 2**63 - 1  # what an int field of an event may hold (the codec's 64 bits)
_SHELL_TOOLS = frozenset(
    {"exec_command", "shell", "shell_command", "local_shell", "container.exec"}
)
_SHELLS = frozenset({"bash", "zsh", "sh", "dash", "fish"})
_EXIT = re.compile(r"^(?:Process exited with code|Exit code:) (-?\d{1,10})\s*$", re.MULTILINE)
_WALL = re.compile(r"^Wall time: (\d{1,12}(?:\.\d{1,9})?) seconds\s*$", re.MULTILINE)
_PATCH_FILE = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+)$", re.MULTILINE)
_ONE_LINE = 200


def parse_object(text: str) -> dict[str, Any] | None:
    """`text` decoded when it is a JSON object, else None."""
    try:
        value = msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _argv_line(argv: list[str]) -> str:
    if len(argv) == 3 and argv[0].rsplit("/", 1)[-1] in _SHELLS and argv[1] in ("-lc", "-c"):
        return argv[2]
    return shlex.join(argv)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ONE_LINE else text[: _ONE_LINE - 1] + "…"


def command_line(tool: str, arguments: object) -> str:
    """A readable command line for a tool call: the shell command for shell tools."""
    args = arguments if isinstance(arguments, dict) else {}
    argv = args.get("command")
    if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
        return _argv_line(argv)
    for key in ("cmd", "command"):
        if isinstance(args.get(key), str) and tool in _SHELL_TOOLS:
            return str(args[key])
    patch = arguments if isinstance(arguments, str) else args.get("input")
    if tool == "apply_patch" and isinstance(patch, str):
        files = _PATCH_FILE.findall(patch)
        return _short(" ".join(["apply_patch", *files])) if files else "apply_patch"
    if tool == "web_search":
        query = args.get("query")
        return _short(f"web_search {query}") if isinstance(query, str) else "web_search"
    if tool == "write_stdin":
        chars = args.get("chars")
        return _short(f"write_stdin {args.get('session_id')}" + (f" {chars!r}" if chars else ""))
    if arguments is None or arguments == {}:
        return tool
    if isinstance(arguments, str):
        return _short(f"{tool} {arguments}")
    return _short(f"{tool} {msgspec.json.encode(arguments).decode()}")


def _duration(seconds: float) -> dict[str, float]:
    return {"duration_s": float(seconds)} if 0 <= seconds < 1e12 else {}


def output_facts(text: str) -> dict[str, Any]:
    """Exit code, duration and status a tool output states about itself (only those present).

    The older ``shell`` tool writes ``{"output", "metadata": {"exit_code",
    "duration_seconds"}}`` as JSON text; unified exec writes a header
    (``Wall time: 1.0 seconds``, ``Process exited with code 0`` or ``Process
    running with session ID 7``; ``shell_command``: ``Exit code: 0``) before
    ``Output:``.
    """
    facts: dict[str, Any] = {}
    if text.startswith("{"):
        parsed = parse_object(text)
        meta = parsed.get("metadata") if parsed is not None else None
        if isinstance(meta, dict):
            code, seconds = meta.get("exit_code"), meta.get("duration_seconds")
            if type(code) is int and abs(code) <= INT_MAX:
                facts["exit_code"] = code
            if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
                facts.update(_duration(seconds))
        return facts
    cut = text.find("\nOutput:")
    header = text[: cut if 0 <= cut < 2000 else 2000]
    if (code_match := _EXIT.search(header)) is not None:
        facts["exit_code"] = int(code_match.group(1))
    elif "Process running with session ID" in header:
        facts["status"] = "running"
    if (wall := _WALL.search(header)) is not None:
        facts["duration_s"] = float(wall.group(1))
    return facts
