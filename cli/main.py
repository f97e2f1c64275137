"""The `p8j` command group: command registration, global options, and error handling.

Contract:
- Commands are registered in `COMMANDS` (name -> ``module:attribute``) and
  imported only when run or listed, so start-up stays light; adding a command is
  one line here plus its module.
- Exit status: 0 ok, 1 failure (every `P8jError`, an operating-system error such
  as a full disk, an unreadable file), 2 usage error. Errors go to stderr as one
  line, ``p8j: <what went wrong>``, escaped for the terminal, never a traceback;
  a usage error too (with where to find help), its echoed value cut short.
- Every command carries the shared options of `p8j.cli.options` (--home, --color,
  --json), also when its module did not declare them all; the group takes them too.
  A closed pipe on stdout (``p8j ls | head -1``) ends the command quietly.
"""

from __future__ import annotations

import errno
import importlib
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any

import click

from p8j.journal.errors import P8jError

from .options import SHARED_OPTIONS, shared_option, shared_options

__all__ = ["COMMANDS", "SHORT_HELP", "CliError", "CliUsageError", "cli", "main", "short_help"]

COMMANDS: dict[str, str] = {
    "archive": "p8j.cli.archive:archive",
    "demo": "p8j.cli.demo:demo",
    "export": "p8j.cli.export:export",
    "fork": "p8j.cli.fork:fork",
    "gc": "p8j.cli.gc:gc",
    "import": "p8j.cli.importing:import_cmd",
    "index": "p8j.cli.index:index",
    "info": "p8j.cli.info:info",
    "ls": "p8j.cli.ls:ls",
    "pick": "p8j.cli.pick:pick",
    "redact": "p8j.cli.redact:redact",
    "repair": "p8j.cli.repair:repair",
    "replay": "p8j.cli.replay:replay",
    "rm": "p8j.cli.rm:rm",
    "scan": "p8j.cli.scan:scan",
    "search": "p8j.cli.search:search_cmd",
    "store": "p8j.cli.store_cmd:store",
    "sync": "p8j.cli.sync:sync",
    "tail": "p8j.cli.tail:tail",
    "title": "p8j.cli.title:title",
    "unarchive": "p8j.cli.archive:unarchive",
    "usage": "p8j.cli.usage:usage",
    "verify": "p8j.cli.verify:verify",
}


# Each command's one-line help, for `p8j --help` without importing every command's
# module (~60 ms). tests/cli/test_cli_main.py checks it against the commands themselves;
# a command missing here is imported for its help.
SHORT_HELP: dict[str, str] = {
    "archive": "Move completed sessions into a compressed archive; report the bytes saved.",
    "demo": "Record realistic demo sessions and show what to try.",
    "export": (
        "Export a session as Markdown, JSON, raw JSONL or its source's format (ID: default latest)."
    ),
    "fork": "Copy a session's history up to a point into a new session; print its id.",
    "gc": "Remove what no session needs any more; say what it freed.",
    "import": (
        "Import sessions of AGENT (claude, codex, legacy) from PATH or the agent's own place."
    ),
    "index": "Build or update the full-text search index.",
    "info": "Show where the journal is, its sessions, disk use.",
    "ls": "List sessions, most recently active first.",
    "pick": "Choose a session interactively; print its id.",
    "redact": (
        "Rewrite a session's log with its secrets replaced (refused while a writer has it open)."
    ),
    "repair": (
        "Move a session log's damaged lines aside and record them (refused while it is open)."
    ),
    "replay": "Rebuild a session from its log and show it (ID: default latest).",
    "rm": "Remove sessions: log, caches, sidecars, lock (asks first; refuses live ones).",
    "scan": "Find secrets in existing session logs (exit 1 if any); `p8j redact ID` removes them.",
    "search": "Search messages, commands and outputs (regex).",
    "store": "Check or set up a NATS JetStream store (`p8j store check|init`).",
    "sync": "Push sessions to another store (a team's NATS server), verbatim and incrementally.",
    "tail": "Follow sessions live as they are written.",
    "title": "Give a session a title (shown by ls, pick and export).",
    "unarchive": "Put an archived session's log back among the sessions.",
    "usage": "Show token usage summed over sessions.",
    "verify": "Check the integrity of session logs.",
}

MAX_ERROR_CHARS = 400  # a 100 kB bad value or path is echoed back cut to this


def _error_text(message: str) -> str:
    from .render import escape

    text = escape(message)
    if len(text) > MAX_ERROR_CHARS:
        half = MAX_ERROR_CHARS // 2
        text = f"{text[:half]}…{text[-half:]}"  # both ends: the value's start, the reason
    return text


class CliError(click.ClickException):
    """A failure reported as one line on stderr with exit status 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        """Print ``p8j: <message>`` to stderr, escaped and cut short."""
        click.echo(f"p8j: {_error_text(self.format_message())}", err=True)


class CliUsageError(click.UsageError):
    """A usage error reported as one line on stderr with exit status 2."""

    def show(self, file: Any = None) -> None:
        """Print ``p8j: <message> (see 'p8j CMD -h')`` to stderr, escaped and cut short."""
        hint = f" (see '{_error_text(self.ctx.command_path)} -h')" if self.ctx is not None else ""
        click.echo(f"p8j: {_error_text(self.format_message())}{hint}", err=True)


def _one_line(exc: click.UsageError) -> click.UsageError:
    if isinstance(exc, (CliUsageError, click.exceptions.NoArgsIsHelpError)):
        return exc  # already one line, or a bare `p8j` that shows the help
    return CliUsageError(exc.format_message(), exc.ctx)


def _with_shared_options(command: click.Command) -> click.Command:
    """`command` with every shared option it lacks appended (declared once, in options)."""
    have = {p.name for p in command.params}
    command.params.extend(shared_option(n) for n in SHARED_OPTIONS if n not in have)
    return command


def _tolerant_output() -> None:
    """Print text that cannot be encoded (a non-UTF-8 file name) as ``\\udcff``, not a crash."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _os_error(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = f"the disk is full ({what})"
    return f"{what}: {exc.filename}" if exc.filename else f"cannot write output: {what}"


class _LazyCommands(MutableMapping[str, click.Command]):
    """The group's command table: names from `COMMANDS`, modules imported on first lookup."""

    def __init__(self, registry: dict[str, str]) -> None:
        self._registry = registry
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            target = self._registry[name]  # KeyError for an unknown name, as a dict
            module_name, attr = target.split(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            self._loaded[name] = _with_shared_options(command)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self._loaded.pop(name, None)
        self._registry.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set(self._registry) | set(self._loaded)))

    def __len__(self) -> int:
        return len(set(self._registry) | set(self._loaded))


def short_help(text: str, limit: int) -> str:
    """`text` (a one-line help) cut to `limit` as click cuts a command's short help."""
    if len(text) <= limit:
        return text
    if limit < len("..."):
        return "..."
    import textwrap

    return textwrap.shorten(text, limit, placeholder="...", break_on_hyphens=False)


class LazyGroup(click.Group):
    """A group whose commands' modules are imported only when a command is needed."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with their one-line help (from `SHORT_HELP`, importing none)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in SHORT_HELP:
                rows.append((name, short_help(SHORT_HELP[name], limit)))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands(dict(COMMANDS))

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """Parse the group's own options; a usage error is one line."""
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc) from exc

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, turning library, OS and usage errors into one-line failures."""
        _tolerant_output()
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line(exc) from exc
        except UnicodeEncodeError as exc:  # msgspec refuses such text in JSON
            raise CliError(
                f"cannot write JSON: it would hold text that is not UTF-8 ({exc.reason}; "
                "a file name in another encoding?)"
            ) from exc
        except P8jError as exc:
            raise CliError(str(exc)) from exc
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # click ends quietly on a closed pipe
            raise CliError(_os_error(exc)) from exc


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@shared_options
@click.version_option(package_name="p8j", prog_name="p8j")
def cli(as_json: bool) -> None:
    """p8j: an append-only session journal for AI coding agents.

    Start with `p8j demo`, then `p8j ls`. Every command takes --home, --color and
    --json (before or after its name); session ids may be a unique prefix or `latest`.
    """
    del as_json  # the command's own --json reads it (p8j --json ls = p8j ls --json)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        code = cli.main(args=argv, prog_name="p8j", standalone_mode=False)
    except click.exceptions.Abort:
        code = 130  # Ctrl-C outside a command that handles it
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as exc:
        click.echo(f"p8j: {_os_error(exc)}", err=True)
        code = 1
    # The process ends here. What is alive now would only be traversed once more by the
    # interpreter's final collection (every module's objects: ~5% of a short command's
    # instructions, `p8j search` measured with callgrind); frozen, it is left to the exit.
    import gc

    gc.freeze()
    sys.exit(code if isinstance(code, int) else 0)


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush is quiet."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
