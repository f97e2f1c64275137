"""A writer process for the real-process tests (run with sys.executable; not a test module).

Usage::

    child_writer.py write HOME DURABILITY SEED    start a session, record until killed
    child_writer.py resume HOME SID               resume SID, record one message, end it
    child_writer.py hold HOME SID|new             resume (or start); hold it until stdin closes
    child_writer.py efbig HOME                    hit RLIMIT_FSIZE mid-record, then carry on
    child_writer.py race HOME SID ROUNDS K        repeatedly resume SID, record K events, pause
    child_writer.py rewrite URL SID               rewrite SID on the NATS store at URL (`redacted`),
                                                  saying ``pub I`` after each acknowledged publish

Every line printed is flushed at once, and a ``seq N`` line is printed only after
the call that wrote seq N has returned: it is an acknowledgement.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import sys
import time
from collections.abc import Iterable
from typing import Any

import msgspec

from p8j.journal import (
    JournalIOError,
    MessageRecorded,
    SessionLockedError,
    SessionManager,
    SessionResumed,
)
from p8j.journal.codec import encode_event
from p8j.journal.events import Event, UnknownEvent


def say(*parts: object) -> None:
    """Print one flushed line."""
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()


def write(home: str, durability: str, seed: int) -> None:
    """Record a mix of events with sizes from bytes to ~700 kB until killed."""
    rng = random.Random(seed)
    mgr = SessionManager(home, durability=durability)  # type: ignore[arg-type]
    session = mgr.start_session("crash", {"seed": seed})
    say("sid", session.session_id)
    for i in range(100_000):
        kind = rng.random()
        if kind < 0.6:
            size = rng.choice((10, 100, 3000, 30_000, 120_000))
            text = f"msg {i} " + "x\u00e9\U0001f600\x00\n"[i % 5] * size
            seq = mgr.record_message({"role": "user", "content": text, "i": i})
        elif kind < 0.75:
            seq = mgr.record_command(f"echo {i}")
        elif kind < 0.9:
            seq = mgr.record_execution(f"echo {i}", 0, "y" * rng.choice((1, 5000)), 0.5)
        else:
            seq = mgr.update_metadata(i=i)
        say("seq", seq)


def resume(home: str, sid: str) -> None:
    """Resume after a crash, show the SessionResumed event's seq and flag, then end."""
    from p8j.journal.store.fs import read_events

    mgr = SessionManager(home)
    session = mgr.resume_session(sid)
    events, _ = read_events(mgr.home.log_path(sid), session_id=sid)
    last = events[-1]
    assert isinstance(last, SessionResumed)
    say("resumed", last.seq, last.recovered, last.repaired_bytes)
    say("seq", mgr.record_message({"role": "user", "content": "after crash"}))
    mgr.end_session()
    say("ended", session.last_seq)


def hold(home: str, sid: str) -> None:
    """Take a session's write lock and keep it until stdin reaches EOF."""
    mgr = SessionManager(home)
    session = mgr.start_session("held") if sid == "new" else mgr.resume_session(sid)
    say("held", session.session_id, os.getpid())
    sys.stdin.read()
    mgr.close()
    say("released")


def efbig(home: str) -> None:
    """Lower RLIMIT_FSIZE so a record crosses it, then raise it and record again."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    mgr = SessionManager(home)
    session = mgr.start_session("disk-full")
    say("sid", session.session_id)
    path = mgr.home.log_path(session.session_id)
    for i in range(3):
        say("seq", mgr.record_message({"role": "user", "content": f"before {i}"}))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    size = path.stat().st_size
    # 150 bytes of room: the next record (~400 bytes) is cut short mid-line.
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 150, hard))
    failures = 0
    for i in range(3):
        try:
            mgr.record_message({"role": "user", "content": "z" * 300 + str(i)})
        except JournalIOError as exc:
            failures += 1
            say("error", type(exc).__name__, exc.path == str(path), path.stat().st_size)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    say("failures", failures)
    say("seq", mgr.record_message({"role": "user", "content": "after the limit"}))
    mgr.end_session()
    say("done")


def race(home: str, sid: str, rounds: int, k: int) -> None:
    """Take turns with other processes writing one session; retry while it is locked."""
    mgr = SessionManager(home)
    done = 0
    contended = 0
    while done < rounds:
        try:
            mgr.resume_session(sid)
        except SessionLockedError:
            contended += 1
            time.sleep(0.001)  # back off: another process holds the session
            continue
        for j in range(k):
            mgr.record_message({"role": "user", "content": f"{os.getpid()} {done} {j}"})
        mgr.pause_session()
        done += 1
    say("done", os.getpid(), contended)


def redacted(events: Iterable[Event | UnknownEvent]) -> list[bytes]:
    """The records a test's rewrite writes: every message's content replaced (no newline)."""
    out: list[bytes] = []
    for e in events:
        assert isinstance(e, Event), e  # the tests write only known events
        if isinstance(e, MessageRecorded):
            e = msgspec.structs.replace(e, content=f"redacted {e.seq}")
        out.append(encode_event(e)[:-1])
    return out


def rewrite(url: str, sid: str) -> None:
    """Rewrite `sid` with `redacted` records, reporting each publish and the purge."""
    from p8j.journal.store.nats import NatsStore

    store = NatsStore(url)
    conn = store.call(store.aconn())
    publish, purge = conn.publish, conn.purge
    count = 0

    async def said_publish(*args: Any, **kw: Any) -> int:
        nonlocal count
        seq = await publish(*args, **kw)
        say("pub", count)
        count += 1
        return seq

    async def said_purge(*args: Any, **kw: Any) -> None:
        say("purge")
        await purge(*args, **kw)

    conn.publish = said_publish  # type: ignore[method-assign]
    conn.purge = said_purge  # type: ignore[method-assign]
    records = redacted(store.open_cursor(sid).read())
    say("records", len(records))
    store.rewrite(sid, records)
    say("done")
    store.close()


def main(argv: list[str]) -> None:
    """Dispatch on the mode argument."""
    mode, home = argv[0], argv[1]
    if mode == "write":
        write(home, argv[2], int(argv[3]))
    elif mode == "resume":
        resume(home, argv[2])
    elif mode == "hold":
        hold(home, argv[2])
    elif mode == "efbig":
        efbig(home)
    elif mode == "race":
        race(home, argv[2], int(argv[3]), int(argv[4]))
    elif mode == "rewrite":
        rewrite(home, argv[2])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
