"""Options and parameter types shared by the commands: --home, --store, --color, --json, ids, times.

Contract:
- The shared options (``--home PATH``, ``--store URL``, ``--color WHEN``, ``--json``,
  ``--utc``, ``--no-pager``) are declared
  once here (`SHARED_OPTIONS`) and carried by the group and by every command, so
  each is accepted before the command (``p8j --json ls``) and after it
  (``p8j ls --color never``); given in both places, the command's own wins, except
  that ``--json``, ``--utc`` and ``--no-pager`` anywhere count. Without --home the home is
  ``$P8J_HOME``, else the platform's user data dir; an empty --home is a usage error.
- The store (`current_store`): ``--store URL`` (a path, ``file:///path`` or
  ``memory:``; see journal/store/select.py), else the files at the home.
  ``$P8J_STORE`` is an embedder's choice and not read here: a CLI run is a new
  process, and without --store it keeps to the journal files. Commands that
  read through the store seam (ls, search, verify, info, tail, pick) work on
  any store; the others keep a home's files (`current_home`), and a --store
  that is not one is a usage error for them.
- Session ids are checked for shape when parsed (a malformed one is a usage error,
  exit 2) and resolved by the command (an unknown or ambiguous one is a failure,
  exit 1). Ids complete in the shell (with the project and title as the description
  where the shell shows one).
- Counts (`count`) are bounded by ``sys.maxsize``, times (`SINCE`) by years 1..9999:
  a value beyond them is a usage error, never an OverflowError further on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from p8j.journal import Home
from p8j.journal.errors import InvalidSessionIdError
from p8j.journal.ids import validate_prefix

# Not render (terminal text, replay.content, shutil) nor click's shell completion: every
# command imports this module, and `p8j ls --json` needs neither (see bench/README.md).
if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from p8j.journal.store.base import SessionStore

    from .render import ColorMode, Style

__all__ = [
    "MAX_COUNT",
    "NO_PAGER_KEY",
    "SESSION_REF",
    "SHARED_OPTIONS",
    "SINCE",
    "STATE_LIST",
    "color_mode",
    "color_option",
    "count",
    "current_home",
    "current_store",
    "home_option",
    "json_option",
    "shared_option",
    "shared_options",
    "stdout_style",
    "store_choice",
]

F = TypeVar("F", bound=Callable[..., Any])
if TYPE_CHECKING:  # click >= 8.2 types ParamType by what it converts to; older clicks do not
    _StrParam = click.ParamType[str]
    _TimeParam = click.ParamType[datetime]
    _StatesParam = click.ParamType[tuple[str, ...]]
else:
    _StrParam = _TimeParam = _StatesParam = click.ParamType
_HOME_KEY = "p8j.home"
_STORE_KEY = "p8j.store"
_COLOR_KEY = "p8j.color"
_JSON_KEY = "p8j.json"
NO_PAGER_KEY = "p8j.no-pager"
MAX_COUNT = sys.maxsize  # the largest length Python sequences (and deque maxlen) take


def _store_home(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        if not value:
            raise click.BadParameter("the path is empty", ctx, param)
        ctx.meta[_HOME_KEY] = value  # ctx.meta is shared by the group and its command


def _store_store(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        if not value:
            raise click.BadParameter("the store is empty", ctx, param)
        from p8j.journal.errors import StoreConfigError
        from p8j.journal.store.select import check_store

        try:
            check_store(value, "--store")
        except StoreConfigError as exc:  # a value that names no store: a usage error
            raise click.BadParameter(exc.message.removeprefix("--store: "), ctx, param) from exc
        ctx.meta[_STORE_KEY] = value


def _store_color(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta[_COLOR_KEY] = value
        if value != "auto":
            ctx.color = value == "always"  # click.echo keeps or strips ANSI codes by this


def _store_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[_JSON_KEY] = True
    return bool(value or ctx.meta.get(_JSON_KEY, False))


def _store_flag(key: str) -> Callable[[click.Context, click.Parameter, bool], None]:
    def store(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.meta[key] = True

    return store


def _store_utc(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:  # render only when asked: click calls this for every command
        from .render import UTC_KEY

        ctx.meta[UTC_KEY] = True


# name -> (declarations, attributes): the one declaration of each shared option.
_SHARED: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "home": (
        ("--home",),
        {
            "metavar": "PATH",
            "type": click.Path(file_okay=False, dir_okay=True),
            "expose_value": False,
            "is_eager": True,
            "callback": _store_home,
            "help": "Journal home directory (default: $P8J_HOME, else the platform's user data "
            "dir).",
        },
    ),
    "store": (
        ("--store",),
        {
            "metavar": "URL",
            "expose_value": False,
            "is_eager": True,
            "callback": _store_store,
            "help": "Where sessions are kept: a path or file:///path (a home's files), "
            "nats://host:4222 (NATS JetStream) (default: $P8J_STORE, else the files at --home).",
        },
    ),
    "color": (
        ("--color",),
        {
            "type": click.Choice(["auto", "always", "never"]),
            "default": None,
            "expose_value": False,
            "callback": _store_color,
            "help": "Colour human output: auto (a terminal without NO_COLOR), always, never.",
        },
    ),
    "as_json": (
        ("--json", "as_json"),
        {
            "is_flag": True,
            "callback": _store_json,
            "help": "Machine-readable JSON output (see README).",
        },
    ),
    "utc": (
        ("--utc",),
        {
            "is_flag": True,
            "expose_value": False,
            "callback": _store_utc,
            "help": "Show times in UTC instead of local time.",
        },
    ),
    "no_pager": (
        ("--no-pager",),
        {
            "is_flag": True,
            "expose_value": False,
            "callback": _store_flag(NO_PAGER_KEY),
            "help": "Do not page long output (default: $P8J_PAGER, $PAGER or less on a terminal).",
        },
    ),
}
SHARED_OPTIONS = tuple(_SHARED)  # the parameter names of the shared options


def shared_option(name: str) -> click.Option:
    """A new `click.Option` for the shared option `name` (see `SHARED_OPTIONS`)."""
    decls, attrs = _SHARED[name]
    return click.Option(list(decls), **attrs)


def home_option(f: F) -> F:
    """Add ``--home PATH`` to a command."""
    decls, attrs = _SHARED["home"]
    return click.option(*decls, **attrs)(f)


def color_option(f: F) -> F:
    """Add ``--color auto|always|never`` to a command."""
    decls, attrs = _SHARED["color"]
    return click.option(*decls, **attrs)(f)


def json_option(f: F) -> F:
    """Add ``--json`` (passed to the command as ``as_json``) to a command."""
    decls, attrs = _SHARED["as_json"]
    return click.option(*decls, **attrs)(f)


def shared_options(f: F) -> F:
    """Add --json, --home, --store, --color, --utc and --no-pager to a command (or the group)."""
    for name in ("no_pager", "utc", "store"):
        decls, attrs = _SHARED[name]
        f = click.option(*decls, **attrs)(f)
    return json_option(home_option(color_option(f)))


def count(minimum: int = 0) -> click.IntRange:
    """An integer option type from `minimum` to `MAX_COUNT` (beyond it: a usage error)."""
    return click.IntRange(min=minimum, max=MAX_COUNT)


def _store_choice(ctx: click.Context) -> str | None:
    """The --store value (command, then group), or None."""
    value: str | None = ctx.meta.get(_STORE_KEY)
    return value


def store_choice(ctx: click.Context | None = None, *, env: bool = True) -> str | None:
    """The store named by --store, else (with `env`) by ``$P8J_STORE``, else None.

    ``memory:`` in the environment is an embedder's (each CLI run is a new
    process with a new, empty memory store), so the CLI passes it over.
    """
    value = _store_choice(ctx or click.get_current_context())
    if value is None and env:
        from p8j.journal.store.select import ENV_VAR

        named = os.environ.get(ENV_VAR, "").strip()
        if named and not named.startswith("memory:"):
            value = named
    return value


def current_store(ctx: click.Context | None = None) -> SessionStore:
    """The store chosen by --store, else the files at the home (see the module docstring)."""
    ctx = ctx or click.get_current_context()
    value = store_choice(ctx)
    if value is None:
        from p8j.journal.store.select import as_store

        return as_store(Home(ctx.meta.get(_HOME_KEY)))
    from p8j.journal.store.select import ENV_VAR, check_store, open_store

    if _store_choice(ctx) is None:
        check_store(value, ENV_VAR)  # its errors name where the value came from
    return open_store(value)


def current_home(ctx: click.Context | None = None) -> Home:
    """The journal home chosen by --home (command, then group), else the default.

    A --store that names a home's files gives that home; any other store is a
    usage error: the command works on journal files.
    """
    ctx = ctx or click.get_current_context()
    if _store_choice(ctx) is None:
        return Home(ctx.meta.get(_HOME_KEY))
    from p8j.journal.store.base import is_home_store

    store = current_store(ctx)
    if is_home_store(store):
        return store.home
    raise click.UsageError(
        f"this command works on a journal home's files, not on the store {store.url} "
        "(use --home or --store file:///path)",
        ctx,
    )


def color_mode(ctx: click.Context | None = None) -> ColorMode:
    """The --color choice (command, then group; ``auto`` by default)."""
    ctx = ctx or click.get_current_context()
    mode = ctx.meta.get(_COLOR_KEY, "auto")
    return mode if mode in ("always", "never") else "auto"


def stdout_style(ctx: click.Context | None = None) -> Style:
    """The Style for standard output under the --color choice and NO_COLOR."""
    from .render import Style

    return Style.for_stream(color_mode(ctx))


class SessionRefType(_StrParam):
    """A session id, a unique prefix of one, or ``latest``; completes in the shell."""

    name = "ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """Check the shape (not existence) of a session reference."""
        text = str(value)
        if text == "latest":
            return text
        try:
            return validate_prefix(text)
        except InvalidSessionIdError as exc:
            self.fail(exc.message, param, ctx)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        """Session ids starting with `incomplete`, newest first, described by project and title."""
        from click.shell_completion import CompletionItem

        from p8j.journal.cache.catalog import list_summaries
        from p8j.journal.errors import P8jError

        try:
            summaries = list_summaries(current_home(ctx))
        except P8jError:
            return []
        items = (
            [CompletionItem("latest", help="the newest session")]
            if "latest".startswith(incomplete)
            else []
        )
        for s in summaries:
            if s.session_id.startswith(incomplete):
                text = f"{s.project_name}: {s.title}" if s.title else s.project_name
                items.append(CompletionItem(s.session_id, help=_one_line(text)[:80]))
        return items


def _one_line(text: str) -> str:
    from .render import escape

    return escape(text)


class SinceType(_TimeParam):
    """A --since value: ``2h``, ``3d``, ``today``, ``2026-11-01``, an ISO date and time."""

    name = "TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        """Parse into an aware UTC datetime or fail as a usage error."""
        if isinstance(value, datetime):
            return value
        from p8j.replay.listing import parse_since

        try:
            return parse_since(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


SESSION_REF = SessionRefType()
SINCE = SinceType()


class StateListType(_StatesParam):
    """A comma-separated list of session states."""

    name = "STATE[,STATE]"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, ...]:
        """Split and check the states."""
        if isinstance(value, tuple):
            return value
        from p8j.replay.listing import STATES

        states = tuple(s.strip() for s in str(value).split(",") if s.strip())
        bad = [s for s in states if s not in STATES]
        if bad or not states:
            self.fail(
                f"unknown state {bad[0] if bad else value!r}: expected one or more of "
                f"{', '.join(STATES)} (comma-separated)",
                param,
                ctx,
            )
        return states

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        """The states."""
        from click.shell_completion import CompletionItem

        from p8j.replay.listing import STATES

        return [CompletionItem(s) for s in STATES if s.startswith(incomplete)]


STATE_LIST = StateListType()
