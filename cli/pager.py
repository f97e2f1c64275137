"""A pager for long human output (`replay`, `export -f md`, `search`), as git does it.

Contract:
- `paged()` wraps the part of a command that prints: while it runs, standard
  output (the file descriptor, so ``sys.stdout.buffer`` too) goes to a pager
  started with ``sh -c``: ``$P8J_PAGER``, else ``$PAGER``, else ``less``. An empty
  value or ``cat`` means no pager.
- Never when stdout is not a terminal (a pipe, a file, CliRunner), never with
  ``--no-pager`` (`NO_PAGER_KEY`) or ``--json``.
- ``less`` gets ``LESS=FRX`` unless ``$LESS`` is set (quit at once when it all
  fits on one screen, pass colours through, leave the text on the screen), and
  ``LV=-c``, as git sets them.
- Colour is decided before stdout is redirected (`Style` of the terminal), and
  ``click.echo`` is told to keep it, since the pager shows it (``less -R``).
- Quitting the pager early ends the output quietly (exit 0). p8j waits for the
  pager to exit before it exits itself, ignoring Ctrl-C meanwhile (the pager
  handles it), so the shell prompt never lands in the middle of the pager.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import click

from .options import NO_PAGER_KEY
from .render import is_terminal

__all__ = ["paged", "pager_command"]


def pager_command() -> str | None:
    """The pager to run (``sh -c`` command line), or None for none."""
    for var in ("P8J_PAGER", "PAGER"):
        value = os.environ.get(var)
        if value is not None:
            value = value.strip()
            return None if value in ("", "cat") else value
    return "less"


def _wanted(ctx: click.Context | None) -> bool:
    if ctx is not None and ctx.meta.get(NO_PAGER_KEY):
        return False
    return is_terminal(sys.stdout)


@contextlib.contextmanager
def paged(color: bool = False) -> Iterator[None]:
    """Send what the block prints to the pager (see the module docstring); `color`: keep ANSI."""
    ctx = click.get_current_context(silent=True)
    command = pager_command() if _wanted(ctx) else None
    if command is None:
        yield
        return
    import signal  # here: a command whose output is not paged (a pipe) needs neither
    import subprocess

    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    env.setdefault("LV", "-c")
    sys.stdout.flush()
    try:
        proc = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.PIPE, env=env)
    except OSError as exc:
        click.echo(f"p8j: warning: cannot start the pager ({exc.strerror}); not paging", err=True)
        yield
        return
    assert proc.stdin is not None
    saved = os.dup(1)
    saved_color = ctx.color if ctx is not None else None
    os.dup2(proc.stdin.fileno(), 1)
    proc.stdin.close()  # fd 1 is now the pipe's only write end in this process
    if ctx is not None and color:
        ctx.color = True  # stdout is a pipe now; the colours are for the pager
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        pass  # the pager was quit before it read everything: not an error
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            # What the pager did not take stays in sys.stdout's buffer: drain it into
            # /dev/null, or the final flush would print it on the terminal after all.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)
            with contextlib.suppress(OSError):
                sys.stdout.flush()
        os.dup2(saved, 1)  # closes the pipe: the pager sees the end of its input
        os.close(saved)
        if ctx is not None:
            ctx.color = saved_color
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            proc.wait()
        finally:
            signal.signal(signal.SIGINT, previous)
