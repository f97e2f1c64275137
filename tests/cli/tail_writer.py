"""A writer process for the real-process `p8j tail` tests (run with sys.executable).

Usage::

    tail_writer.py start HOME PROJECT N      start a session, record N events, then write half
                                            a line (a torn write) and wait to be killed
    tail_writer.py resume HOME SID N         resume SID (repairing the torn tail), record N, end
    tail_writer.py session HOME PROJECT N    start a session, record N events, end it

Prints ``sid <id>`` once the session exists and ``ready`` when it has written
everything (and, for start, the torn half line).
"""

from __future__ import annotations

import os
import random
import sys
import time

from p8j.journal import SessionManager
from p8j.journal.codec import encode_event
from p8j.journal.events import SCHEMA_VERSION, MessageRecorded
from p8j.journal.timefmt import now_ts


def say(text: str) -> None:
    """One flushed line on stdout."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def record(mgr: SessionManager, n: int, rng: random.Random) -> None:
    """Record n events of assorted kinds and sizes (up to ~200 kB)."""
    for i in range(n):
        kind = rng.randrange(4)
        size = rng.choice([5, 50, 500, 5000, 200_000])
        text = f"event {i} " + "x" * size
        if kind == 0:
            mgr.record_message({"role": "user", "content": text})
        elif kind == 1:
            mgr.record_message(
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": text},
                        {
                            "type": "tool_use",
                            "id": f"t{i}",
                            "name": "Bash",
                            "input": {"command": "ls"},
                        },
                    ],
                }
            )
        elif kind == 2:
            mgr.record_command(f"echo {i}")
        else:
            mgr.record_execution(f"echo {i}", 0, text, 0.01)


def main() -> None:
    """Dispatch on argv."""
    mode, home = sys.argv[1], sys.argv[2]
    rng = random.Random(len(sys.argv[3]) + int(sys.argv[4]))
    mgr = SessionManager(home)
    if mode == "start":
        s = mgr.start_session(sys.argv[3])
        say(f"sid {s.session_id}")
        record(mgr, int(sys.argv[4]), rng)
        seq = mgr.current_session.last_seq + 1 if mgr.current_session else 0
        half = encode_event(
            MessageRecorded(
                SCHEMA_VERSION, s.session_id, seq, now_ts(), role="user", content="torn " * 50
            )
        )
        fd = os.open(mgr.home.log_path(s.session_id), os.O_WRONLY | os.O_APPEND)
        os.write(fd, bytes(half[: len(half) // 2]))
        say("ready")
        time.sleep(600)  # killed with SIGKILL by the test
    elif mode == "resume":
        mgr.resume_session(sys.argv[3])
        record(mgr, int(sys.argv[4]), rng)
        mgr.end_session()
        say("ready")
    elif mode == "session":
        s = mgr.start_session(sys.argv[3])
        say(f"sid {s.session_id}")
        record(mgr, int(sys.argv[4]), rng)
        mgr.end_session()
        say("ready")


if __name__ == "__main__":
    main()
