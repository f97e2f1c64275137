"""p8j.cli: the `p8j` command line; it parses, calls the library and renders.

Host CLIs embed the session picker from here: `pick_session` (returns the chosen
id) and `handle_session_command` (a ``/session``, ``/sess`` or ``/resume``
command: pick and resume). Importing this package does not import the picker's
terminal library; that happens when the picker runs.
"""

from .picker import SESSION_COMMANDS, NoTerminalError, handle_session_command, pick_session

__all__ = ["SESSION_COMMANDS", "NoTerminalError", "handle_session_command", "pick_session"]
