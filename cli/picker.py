"""The interactive session picker (prompt_toolkit), for `p8j pick` and for host CLIs.

Contract:
- `pick_session` shows the sessions of a home most recently active first (as `p8j ls`,
  with the same age: of the last event) in a full-screen
  terminal UI: type to filter (every word must occur in the id, project, state,
  title or the conversation text; beyond 200 sessions the text is indexed in the
  background, newest first), arrow keys
  or Ctrl-N/Ctrl-P to move, a preview of the end of the highlighted conversation
  beside the list (prose wrapped between words; the divider stays put), Enter to
  choose, Esc (at once, not after a key-sequence timeout) or Ctrl-C to cancel.
  It returns the chosen session id, or None when cancelled. All text from logs
  is escaped before it is shown.
- The UI is drawn on the terminal even when stdout is captured
  (``mycli --resume "$(p8j pick)"``): prompt_toolkit uses whichever of stdin,
  stdout and stderr is a terminal. Without any terminal `NoTerminalError` is
  raised (a `P8jError`).
- `handle_session_command` is what a host CLI's ``/session`` command (aliases
  ``/sess``, ``/resume``) calls: with an id or prefix it resumes that session,
  otherwise it opens the picker on the resumable sessions (paused or crashed),
  the argument as the initial filter, and resumes the one chosen.
- prompt_toolkit is imported only when the picker runs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from p8j.journal import Home, P8jError, Session
from p8j.journal.errors import InvalidSessionIdError, SessionNotFoundError
from p8j.journal.store.base import SessionStore, is_home_store
from p8j.journal.store.select import as_store
from p8j.replay.listing import SessionListing, list_sessions

from .ls import title_cell
from .render import ID_CHARS, Style, duration, escape, plural, relative_time, truncate

if TYPE_CHECKING:
    from prompt_toolkit.application import Application
    from prompt_toolkit.data_structures import Point
    from prompt_toolkit.formatted_text import StyleAndTextTuples
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
    from prompt_toolkit.layout import Layout

    from p8j.journal import SessionManager

__all__ = [
    "SESSION_COMMANDS",
    "NoTerminalError",
    "handle_session_command",
    "matches",
    "pick_session",
]

SESSION_COMMANDS = ("/session", "/sess", "/resume")
INDEX_TEXT_CHARS = 200_000  # of each conversation, kept for filtering by content
PREVIEW_MESSAGES = 30
LIST_LIMIT = 2000
SYNC_INDEX_MAX = 200  # up to this many sessions the content index is built before the UI starts
ESC_DELAY = 0.05  # seconds to wait for the rest of an escape sequence (prompt_toolkit: 0.5)


class NoTerminalError(P8jError):
    """The picker needs a terminal and none of stdin, stdout, stderr is one."""


def _haystack(row: SessionListing) -> str:
    return " ".join((row.session_id, row.project_name, row.state, row.title)).lower()


def matches(row: SessionListing, terms: Sequence[str], content: str = "") -> bool:
    """True if every (lower-case) term occurs in the row's id, project, state, title or content."""
    hay = _haystack(row)
    return all(t in hay or t in content for t in terms)


class _ContentIndex:
    """Conversation text of each session, loaded newest first by a background thread."""

    def __init__(self, store: SessionStore, ids: list[str], on_progress: Any) -> None:
        self.store = store
        self.ids = ids
        self.text: dict[str, str] = {}
        self.on_progress = on_progress
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.build, name="p8j-pick-index", daemon=True)

    def build(self) -> None:
        """Index every session (what the background thread runs)."""
        from p8j.journal import MessageRecorded
        from p8j.replay.content import content_texts

        for n, sid in enumerate(self.ids, 1):
            if self.stop.is_set():
                return
            pieces: list[str] = []
            size = 0
            try:
                cursor = self.store.open_cursor(sid, skip_corrupt=True)
                for event in cursor.read(final=True):
                    if isinstance(event, MessageRecorded):
                        for text in content_texts(event.content):
                            pieces.append(text)
                            size += len(text)
                    if size > INDEX_TEXT_CHARS or self.stop.is_set():
                        break
            except P8jError:
                pass
            self.text[sid] = " ".join(pieces)[:INDEX_TEXT_CHARS].lower()
            if n % 25 == 0 or n == len(self.ids):
                self.on_progress()


def _preview_lines(store: SessionStore, row: SessionListing, width: int) -> list[str]:
    from p8j.replay.load import load_session

    from .transcript import message_lines

    try:
        session = load_session(
            row.session_id, store=store, skip_corrupt=True, history=PREVIEW_MESSAGES
        )
    except P8jError as exc:
        return [f"cannot load this session: {escape(str(exc))}"]
    plain = Style(False)
    out = [
        truncate(
            f"{escape(session.project_name)} · {row.state} · "
            f"{plural(session.message_count, 'message')} · "
            f"{plural(session.command_count, 'command')}",
            width,
        ),
        "",
    ]
    if session.conversation_omitted:
        out.append(f"… {plural(session.conversation_omitted, 'earlier message')}")
    for message in session.conversation_history:
        out.extend(message_lines(message, plain, width=width))
    return out


def pick_session(
    home: str | Home | SessionStore | None = None,
    *,
    query: str = "",
    project: str | None = None,
    states: Iterable[str] | None = None,
    rows: list[SessionListing] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> str | None:
    """Let the user choose a session in the terminal (most recently active first); return its id."""
    store = as_store(home)
    if rows is not None:
        listing = rows
    else:
        listing = list_sessions(store, project=project, states=states, cwd=cwd)
    if not listing:
        place = store.home.path if is_home_store(store) else store.url
        raise SessionNotFoundError(f"no sessions to pick from in {place}")
    return _run_picker(store, listing, query)


_PT_STYLE = {
    "selected": "reverse",
    "id": "ansiyellow",
    "project": "bold",
    "dim": "ansibrightblack",
    "state-live": "ansigreen",
    "state-crashed": "ansired",
    "state-paused": "ansiyellow",
    "prompt": "bold",
    "status": "reverse",
}


def _run_picker(store: SessionStore, listing: list[SessionListing], query: str) -> str | None:
    import sys

    if not any(_isatty(s) for s in (sys.stdin, sys.stdout, sys.stderr)):
        raise NoTerminalError("p8j pick needs a terminal (none of stdin, stdout, stderr is one)")
    return _Picker(store, listing, query).run()


class _Picker:
    """One run of the picker: what is shown and selected, the previews, the content index."""

    def __init__(
        self, store: SessionStore | Home, listing: list[SessionListing], query: str
    ) -> None:
        from prompt_toolkit.buffer import Buffer

        self.store = as_store(store)
        self.listing = listing
        self.shown = list(listing)  # the rows matching the filter, in listing order
        self.selected = 0  # index into `shown`
        self.terms: list[str] = []  # the filter's words, lower-case
        self.previews: dict[str, tuple[int, list[str]]] = {}  # id -> (width, lines)
        self.app: Application[str | None] | None = None
        self.index = _ContentIndex(self.store, [r.session_id for r in listing], self.progress)
        self.buffer = Buffer(multiline=False, on_text_changed=lambda _b: self.refilter())
        self.query = query

    # -- state -------------------------------------------------------------------------

    def refilter(self) -> None:
        """Recompute the rows shown from the filter text; keep the selection in range."""
        self.terms = self.buffer.text.lower().split()
        content = self.index.text
        self.shown = [
            r for r in self.listing if matches(r, self.terms, content.get(r.session_id, ""))
        ]
        self.selected = min(self.selected, max(0, len(self.shown) - 1))

    def progress(self) -> None:
        """Called by the index as it grows: a filter may now match more conversations."""
        if self.app is not None and self.terms:
            self.refilter()
            self.app.invalidate()

    def move(self, delta: int) -> None:
        """Move the selection by `delta` rows, clamped to the rows shown."""
        if self.shown:
            self.selected = max(0, min(len(self.shown) - 1, self.selected + delta))

    def choice(self) -> str | None:
        """The selected session's id, or None when nothing matches."""
        return self.shown[self.selected].session_id if self.shown else None

    # -- drawing -----------------------------------------------------------------------

    def list_fragments(self) -> StyleAndTextTuples:
        """The session list, the selected row marked."""
        frags: StyleAndTextTuples = []
        if not self.shown:
            return [("class:dim", "  no session matches")]
        for i, r in enumerate(self.shown[:LIST_LIMIT]):
            selected = i == self.selected
            style = "class:selected" if selected else ""
            mark = "›" if selected else " "
            title = title_cell(r.title, 200)
            project = truncate(escape(r.project_name), 16)
            frags.append((style, f"{mark} "))
            frags.append((style + " class:id", r.session_id[:ID_CHARS]))
            frags.append((style, " "))
            frags.append((style + " class:project", f"{project:<16}"))
            frags.append((style + f" class:state-{r.state}", f" {r.state:<9}"))
            frags.append(
                (style + " class:dim", f" {relative_time(r.last_activity or r.start_time):>9} ")
            )
            frags.append((style, f" {title}\n"))
        return frags

    def cursor_pos(self) -> Point:
        """Where the list's cursor is, so the list scrolls to the selection."""
        from prompt_toolkit.data_structures import Point

        return Point(0, min(self.selected, LIST_LIMIT - 1))

    def size(self) -> tuple[int, int]:
        """(columns, rows) of the terminal the picker draws on."""
        if self.app is not None:
            size = self.app.output.get_size()
            return size.columns, size.rows
        import shutil

        fallback = shutil.get_terminal_size((120, 30))
        return fallback.columns, fallback.lines

    def list_width(self) -> int:
        """The list's columns: a fixed share of the terminal, so the divider never moves."""
        return max(20, self.size()[0] * 3 // 5)

    def preview_width(self) -> int:
        """The preview's columns (right of the divider)."""
        return max(10, self.size()[0] - self.list_width() - 1)

    def preview_fragments(self) -> StyleAndTextTuples:
        """The end of the selected session's conversation, wrapped to the preview's width."""
        if not self.shown:
            return []
        row = self.shown[self.selected]
        width = self.preview_width()
        cached = self.previews.get(row.session_id)
        if cached is None or cached[0] != width:
            cached = self.previews[row.session_id] = (width, _preview_lines(self.store, row, width))
        lines = cached[1]
        head = f"{row.session_id[:width]}\n{row.state} · took {duration(row.duration_s)}\n"
        room = max(1, self.size()[1] - 5)  # filter line, rule, status line, the two head lines
        if len(lines) > room:
            # The end is what matters when choosing what to resume: keep its last lines.
            lines = [lines[0], "…", *lines[len(lines) - room + 2 :]]
        return [("class:id", head), ("", "\n".join(lines))]

    def status_fragments(self) -> StyleAndTextTuples:
        """Counts, indexing progress and the keys."""
        indexed = len(self.index.text)
        total = len(self.listing)
        extra = "" if indexed >= total else f" · indexing {indexed}/{total}"
        return [
            (
                "class:status",
                f" {len(self.shown)}/{total} sessions{extra} · ↑/↓ move · Enter choose · "
                "Esc cancel ",
            )
        ]

    # -- the application ---------------------------------------------------------------

    def key_bindings(self) -> KeyBindings:
        """Up/Down (Ctrl-P/Ctrl-N), PageUp/PageDown, Enter, Esc/Ctrl-C/Ctrl-G."""
        from prompt_toolkit.key_binding import KeyBindings

        kb = KeyBindings()
        for keys, delta in ((("up", "c-p"), -1), (("down", "c-n"), 1)):
            for key in keys:
                kb.add(key)(lambda _e, d=delta: self.move(d))
        kb.add("pageup")(lambda _e: self.move(-10))
        kb.add("pagedown")(lambda _e: self.move(10))

        @kb.add("enter")
        def _enter(event: KeyPressEvent) -> None:
            event.app.exit(result=self.choice())

        @kb.add("escape", eager=True)
        @kb.add("c-c")
        @kb.add("c-g")
        def _cancel(event: KeyPressEvent) -> None:
            event.app.exit(result=None)

        return kb

    def layout(self) -> Layout:
        """The filter line, the list beside the preview, the status line."""
        from prompt_toolkit.layout import (
            BufferControl,
            FormattedTextControl,
            HSplit,
            Layout,
            VSplit,
            Window,
        )
        from prompt_toolkit.layout.dimension import Dimension

        body = VSplit(
            [
                Window(
                    FormattedTextControl(self.list_fragments, get_cursor_position=self.cursor_pos),
                    width=lambda: Dimension.exact(self.list_width()),
                    wrap_lines=False,
                ),
                Window(width=1, char="│", style="class:dim"),
                Window(
                    FormattedTextControl(self.preview_fragments),
                    width=lambda: Dimension.exact(self.preview_width()),
                    wrap_lines=False,  # wrapped between words by message_lines
                ),
            ]
        )
        prompt = FormattedTextControl([("class:prompt", "filter › ")])
        root = HSplit(
            [
                VSplit(
                    [
                        Window(prompt, width=9, height=1),
                        Window(BufferControl(buffer=self.buffer), height=1),
                    ]
                ),
                Window(height=1, char="─", style="class:dim"),
                body,
                Window(FormattedTextControl(self.status_fragments), height=1, style="class:status"),
            ]
        )
        return Layout(root, focused_element=self.buffer)

    def make_app(self, input: Any = None, output: Any = None) -> Application[str | None]:
        """The prompt_toolkit application (on the terminal unless `input`/`output` are given)."""
        from prompt_toolkit.application import Application
        from prompt_toolkit.input.defaults import create_input
        from prompt_toolkit.output.defaults import create_output
        from prompt_toolkit.styles import Style as PTStyle

        app: Application[str | None] = Application(
            layout=self.layout(),
            key_bindings=self.key_bindings(),
            style=PTStyle.from_dict(_PT_STYLE),
            full_screen=True,
            input=input or create_input(always_prefer_tty=True),
            output=output or create_output(always_prefer_tty=True),
        )
        # A lone Esc is told from the start of an escape sequence by waiting this long for
        # more bytes; prompt_toolkit's 0.5 s made Esc feel broken. Sequences from a terminal
        # arrive in one read, far quicker than this.
        app.ttimeoutlen = ESC_DELAY
        return app

    def run(self) -> str | None:
        """Show the picker until the user chooses or cancels; return the chosen id or None."""
        self.app = self.make_app()
        self.buffer.text = self.query
        self.buffer.cursor_position = len(self.query)
        if len(self.listing) <= SYNC_INDEX_MAX:
            self.index.build()  # small journals: content filtering works from the first keystroke
        else:
            self.index.thread.start()
        self.refilter()
        try:
            return self.app.run()
        finally:
            self.index.stop.set()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def handle_session_command(line: str, manager: SessionManager) -> Session | None:
    """Run ``/session [ID|FILTER]`` (or ``/sess``, ``/resume``): pick and resume a session."""
    words = line.strip().split(maxsplit=1)
    if not words or words[0] not in SESSION_COMMANDS:
        raise ValueError(f"not a session command: {line!r} (expected one of {SESSION_COMMANDS})")
    arg = words[1].strip() if len(words) > 1 else ""
    if arg:
        from p8j.journal.housekeeping import resolve_session_ref

        try:
            sid = resolve_session_ref(manager.home, arg)
        except (SessionNotFoundError, InvalidSessionIdError):
            pass  # not an id: use it as the picker's filter
        else:
            return manager.resume_session(sid)
    choice = pick_session(manager.home, query=arg, states=("paused", "crashed"))
    if choice is None:
        return None
    return manager.resume_session(choice)
