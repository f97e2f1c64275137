"""`p8j tail` (argv[2:]) sending itself a real SIGINT at a chosen bytecode of its first poll sleep.

argv[1] is K. The window is the polling loop between the end of its first scan and the
start of its second: the sleep, and every Python bytecode on the way into and out of it
(the standard library's included). K >= 1: SIGINT (os.kill of this process, handled by
Python's own handler) at the K-th bytecode executed in the window. K = 0: count the
window's bytecodes, write the count to the file named by $P8J_TEST_COUNT, and send SIGINT
as the second scan starts. A K past the window's end is never reached: the second scan
then gets the SIGINT, as with K = 0.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

from p8j.cli.main import main
from p8j.replay.follow import FollowedEvent, Follower, FollowNotice

K = int(sys.argv[1])
_count = 0
_armed = False
_scans = 0


def _interrupt() -> None:
    global _armed
    _armed = False
    sys.settrace(None)
    os.kill(os.getpid(), signal.SIGINT)  # Python's handler raises KeyboardInterrupt here


def _tracer(frame: FrameType, event: str, arg: Any) -> Any:
    global _count
    if not _armed:
        return None
    if event == "call":
        frame.f_trace_opcodes = True
        return _tracer
    if event == "opcode" and frame.f_code.co_filename != __file__:
        _count += 1
        if _count == K:
            _interrupt()
    return _tracer


def _arm() -> None:
    global _armed
    _armed = True
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:  # the frames already running (the poll loop and its callers)
        frame.f_trace = _tracer
        frame.f_trace_opcodes = True
        frame = frame.f_back
    sys.settrace(_tracer)


_rescan = Follower._rescan


def _scan(self: Follower) -> Iterator[FollowedEvent | FollowNotice]:
    global _scans
    _scans += 1
    if _scans == 2:  # the window's end
        if K == 0:
            with open(os.environ["P8J_TEST_COUNT"], "w") as fh:
                fh.write(str(_count))
        _interrupt()
    yield from _rescan(self)
    if _scans == 1:
        _arm()


Follower._rescan = _scan  # type: ignore[method-assign]
# As a foreground command gets it: a test run started as a background job (`cmd &` in a
# script) hands its children SIGINT ignored, and Python then installs no handler.
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.argv[1:] = sys.argv[2:]
main(sys.argv[1:])
