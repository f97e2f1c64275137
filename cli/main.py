"""The `p8j` command group: command registration, global options, and error handling.

Contract:
- Commands are registered in `COMMANDS` (name -> ``module:attribute``) and
  imported only when run or listed, so start-up stays light; adding a command is
  one line here plus its module.
- Exit status: 0 ok, 1 failure (every `P8jError`, an operating-system error such
  as a full disk, an unreadable file), 2 usage error. Errors go to stderr as one
  line, ``p8j: <what went wrong>``, escaped for the terminal, never a traceback.
  A closed pipe on stdout (``p8j ls | head -1``) ends the command quietly.
"""

from __future__ import annotations

import errno
import importlib
import sys
from typing import Any

import click

from p8j.journal.errors import P8jError

from .options import HOME_HELP, store_color, store_home

__all__ = ["COMMANDS", "CliError", "cli", "main"]

COMMANDS: dict[str, str] = {
    "demo": "p8j.cli.demo:demo",
    "export": "p8j.cli.export:export",
    "info": "p8j.cli.info:info",
    "ls": "p8j.cli.ls:ls",
    "pick": "p8j.cli.pick:pick",
    "replay": "p8j.cli.replay:replay",
    "search": "p8j.cli.search:search_cmd",
    "tail": "p8j.cli.tail:tail",
    "verify": "p8j.cli.verify:verify",
}


class CliError(click.ClickException):
    """A failure reported as one line on stderr with exit status 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        """Print ``p8j: <message>`` to stderr, escaped."""
        from .render import escape

        click.echo(f"p8j: {escape(self.format_message())}", err=True)


def _os_error(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = f"the disk is full ({what})"
    return f"{what}: {exc.filename}" if exc.filename else f"cannot write output: {what}"


class LazyGroup(click.Group):
    """A group that imports a command's module only when the command is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every registered command name, sorted."""
        return sorted(set(COMMANDS) | set(super().list_commands(ctx)))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command object, importing its module on first use."""
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, turning library and OS errors into one-line failures."""
        try:
            return super().invoke(ctx)
        except P8jError as exc:
            raise CliError(str(exc)) from exc
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # click ends quietly on a closed pipe
            raise CliError(_os_error(exc)) from exc


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    metavar="PATH",
    type=click.Path(file_okay=False, dir_okay=True),
    expose_value=False,
    is_eager=True,
    callback=store_home,
    help=HOME_HELP,
)
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default=None,
    expose_value=False,
    callback=store_color,
    help="Colour human output: auto (a terminal without NO_COLOR), always, never.",
)
@click.version_option(package_name="p8j", prog_name="p8j")
def cli() -> None:
    """p8j: an append-only session journal for AI coding agents.

    Start with `p8j demo`, then `p8j ls`. Every command takes --home and --json;
    session ids may be a unique prefix or `latest`.
    """


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
    sys.exit(code if isinstance(code, int) else 0)


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush is quiet."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
