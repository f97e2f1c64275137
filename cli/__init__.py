"""p8j.cli: the `p8j` command line; it parses, calls the library and renders.

Host CLIs embed the session picker from here: `pick_session` (returns the chosen
id) and `handle_session_command` (a ``/session``, ``/sess`` or ``/resume``
command: pick and resume). These load on first use (PEP 562), so running any
`p8j` command, which imports this package first, does not pay for the picker.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .picker import SESSION_COMMANDS, NoTerminalError, handle_session_command, pick_session

__all__ = ["SESSION_COMMANDS", "NoTerminalError", "handle_session_command", "pick_session"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(".picker", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
