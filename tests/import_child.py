"""An import process for the kill -9 tests (run with sys.executable; not a test module).

Usage::

    import_child.py HOME SRC      import SRC (Claude-shaped fake) into HOME

Prints ``line N`` (flushed) as the importer reads source line N, i.e. after every
event of the lines before it was appended: the parent kills it at a line of its
choosing without sleeping. Prints ``done`` at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fake_importers import CLAUDE_LIKE

from p8j.journal.importers.engine import import_path


def main() -> None:
    """Run the import, announcing each line."""
    home, src = sys.argv[1], sys.argv[2]

    def say(line: int) -> None:
        sys.stdout.write(f"line {line}\n")
        sys.stdout.flush()

    CLAUDE_LIKE.on_line = say
    import_path(CLAUDE_LIKE, Path(src), home=home)
    sys.stdout.write("done\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
