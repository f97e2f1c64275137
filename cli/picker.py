"""The interactive session picker (prompt_toolkit), for `p8j pick` and for host CLIs.

Contract:
- `pick_session` shows the sessions of a home newest first in a full-screen
  terminal UI: type to filter (every word must occur in the id, project, state,
  title or the conversation text; beyond 200 sessions the text is indexed in the
  background, newest first), arrow keys
  or Ctrl-N/Ctrl-P to move, a preview of the highlighted conversation beside the
  list, Enter to choose, Esc or Ctrl-C to cancel. It returns the chosen session
  id, or None when cancelled. All text from logs is escaped before it is shown.
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

import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from p8j.journal import Home, P8jError, Session
from p8j.journal.errors import InvalidSessionIdError, SessionNotFoundError
from p8j.replay.listing import SessionListing, list_sessions

from .render import Style, duration, escape, relative_time

if TYPE_CHECKING:
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

    def __init__(self, home: Home, ids: list[str], on_progress: Any) -> None:
        self.home = home
        self.ids = ids
        self.text: dict[str, str] = {}
        self.on_progress = on_progress
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.build, name="p8j-pick-index", daemon=True)

    def build(self) -> None:
        """Index every session (what the background thread runs)."""
        from p8j.journal import LogCursor, MessageRecorded
        from p8j.replay.content import content_texts

        for n, sid in enumerate(self.ids, 1):
            if self.stop.is_set():
                return
            pieces: list[str] = []
            size = 0
            cursor = LogCursor(self.home.log_path(sid), session_id=sid, skip_corrupt=True)
            try:
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


def _preview_lines(home: Home, sid: str, width: int) -> list[str]:
    from p8j.replay.load import load_session

    from .replay import message_lines

    try:
        session = load_session(sid, home, skip_corrupt=True, history=PREVIEW_MESSAGES)
    except P8jError as exc:
        return [f"cannot load this session: {escape(str(exc))}"]
    plain = Style(False)
    out = [
        f"{escape(session.project_name)} · {session.status} · "
        f"{session.message_count} messages · {session.command_count} commands",
        "",
    ]
    if session.conversation_omitted:
        n = session.conversation_omitted
        out.append(f"… {n:,} earlier message{'' if n == 1 else 's'}")
    for message in session.conversation_history:
        out.extend(message_lines(message, plain, width=width))
    return out


def pick_session(
    home: str | Home | None = None,
    *,
    query: str = "",
    project: str | None = None,
    states: Iterable[str] | None = None,
    rows: list[SessionListing] | None = None,
) -> str | None:
    """Let the user choose a session in the terminal; return its id, or None if cancelled."""
    h = home if isinstance(home, Home) else Home(home)
    listing = rows if rows is not None else list_sessions(h, project=project, states=states)
    if not listing:
        raise SessionNotFoundError(f"no sessions to pick from in {h.path}")
    return _run_picker(h, listing, query)


def _run_picker(home: Home, listing: list[SessionListing], query: str) -> str | None:
    import sys

    from prompt_toolkit.application import Application
    from prompt_toolkit.buffer import Buffer
    from prompt_toolkit.data_structures import Point
    from prompt_toolkit.formatted_text import StyleAndTextTuples
    from prompt_toolkit.input.defaults import create_input
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
    from prompt_toolkit.layout import (
        BufferControl,
        FormattedTextControl,
        HSplit,
        Layout,
        VSplit,
        Window,
    )
    from prompt_toolkit.layout.dimension import Dimension
    from prompt_toolkit.output.defaults import create_output
    from prompt_toolkit.styles import Style as PTStyle

    if not any(_isatty(s) for s in (sys.stdin, sys.stdout, sys.stderr)):
        raise NoTerminalError("p8j pick needs a terminal (none of stdin, stdout, stderr is one)")

    state: dict[str, Any] = {"selected": 0, "shown": list(listing), "preview": {}}
    now_terms: list[list[str]] = [[]]

    def refilter() -> None:
        terms = buffer.text.lower().split()
        now_terms[0] = terms
        content = index.text
        shown = [r for r in listing if matches(r, terms, content.get(r.session_id, ""))]
        state["shown"] = shown
        state["selected"] = min(state["selected"], max(0, len(shown) - 1))

    buffer = Buffer(multiline=False, on_text_changed=lambda _b: refilter())
    app_ref: list[Any] = []

    def progress() -> None:
        if app_ref and now_terms[0]:
            refilter()
            app_ref[0].invalidate()

    index = _ContentIndex(home, [r.session_id for r in listing], progress)

    def list_fragments() -> StyleAndTextTuples:
        shown: list[SessionListing] = state["shown"]
        frags: StyleAndTextTuples = []
        if not shown:
            return [("class:dim", "  no session matches")]
        for i, r in enumerate(shown[:LIST_LIMIT]):
            selected = i == state["selected"]
            style = "class:selected" if selected else ""
            mark = "›" if selected else " "
            title = escape(r.title)[:200]
            frags.append((style, f"{mark} "))
            frags.append((style + " class:id", r.session_id[:13]))
            frags.append((style, " "))
            frags.append((style + " class:project", f"{escape(r.project_name)[:16]:<16}"))
            frags.append((style + f" class:state-{r.state}", f" {r.state:<9}"))
            frags.append(
                (style + " class:dim", f" {relative_time(r.last_activity or r.start_time):>9} ")
            )
            frags.append((style, f" {title}\n"))
        return frags

    def cursor_pos() -> Point:
        return Point(0, min(state["selected"], LIST_LIMIT - 1))

    def preview_fragments() -> StyleAndTextTuples:
        shown: list[SessionListing] = state["shown"]
        if not shown:
            return []
        row = shown[state["selected"]]
        cache: dict[str, list[str]] = state["preview"]
        if row.session_id not in cache:
            cache[row.session_id] = _preview_lines(home, row.session_id, 80)
        head = f"{row.session_id}\n{row.state} · took {duration(row.duration_s)}\n"
        return [("class:id", head), ("", "\n".join(cache[row.session_id]))]

    def status_fragments() -> StyleAndTextTuples:
        shown = state["shown"]
        indexed = len(index.text)
        extra = "" if indexed >= len(listing) else f" · indexing {indexed}/{len(listing)}"
        return [
            (
                "class:status",
                f" {len(shown)}/{len(listing)} sessions{extra} · ↑/↓ move · Enter choose · "
                "Esc cancel ",
            )
        ]

    kb = KeyBindings()

    def move(delta: int) -> None:
        shown = state["shown"]
        if shown:
            state["selected"] = max(0, min(len(shown) - 1, state["selected"] + delta))

    @kb.add("up")
    @kb.add("c-p")
    def _up(event: KeyPressEvent) -> None:
        move(-1)

    @kb.add("down")
    @kb.add("c-n")
    def _down(event: KeyPressEvent) -> None:
        move(1)

    @kb.add("pageup")
    def _pgup(event: KeyPressEvent) -> None:
        move(-10)

    @kb.add("pagedown")
    def _pgdn(event: KeyPressEvent) -> None:
        move(10)

    @kb.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        shown = state["shown"]
        event.app.exit(result=shown[state["selected"]].session_id if shown else None)

    @kb.add("escape", eager=True)
    @kb.add("c-c")
    @kb.add("c-g")
    def _cancel(event: KeyPressEvent) -> None:
        event.app.exit(result=None)

    body = VSplit(
        [
            Window(
                FormattedTextControl(list_fragments, get_cursor_position=cursor_pos),
                width=Dimension(weight=3),
                wrap_lines=False,
            ),
            Window(width=1, char="│", style="class:dim"),
            Window(
                FormattedTextControl(preview_fragments), width=Dimension(weight=2), wrap_lines=True
            ),
        ]
    )
    root = HSplit(
        [
            VSplit(
                [
                    Window(
                        FormattedTextControl([("class:prompt", "filter › ")]), width=9, height=1
                    ),
                    Window(BufferControl(buffer=buffer), height=1),
                ]
            ),
            Window(height=1, char="─", style="class:dim"),
            body,
            Window(FormattedTextControl(status_fragments), height=1, style="class:status"),
        ]
    )
    style = PTStyle.from_dict(
        {
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
    )
    app: Application[str | None] = Application(
        layout=Layout(root, focused_element=buffer),
        key_bindings=kb,
        style=style,
        full_screen=True,
        input=create_input(always_prefer_tty=True),
        output=create_output(always_prefer_tty=True),
    )
    app_ref.append(app)
    buffer.text = query
    buffer.cursor_position = len(query)
    if len(listing) <= SYNC_INDEX_MAX:
        index.build()  # small journals: content filtering works from the first keystroke
    else:
        index.thread.start()
    refilter()
    try:
        return app.run()
    finally:
        index.stop.set()


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
        from p8j.journal import resolve_session_ref

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
