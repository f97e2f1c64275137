"""Reference implementations of the physical limit, measured in the same run as p8j.

- `RefAppender`: msgspec-encode one event and one ``os.write`` on an ``O_APPEND``
  descriptor (optionally ``fdatasync`` after each): what any journal must at least do.
- `FormatFloor`: the least a writer of p8j's line format must do per record, as
  plain inline code: read the clock (the ts string and its datetime), build the
  envelope struct, encode it, CRC-frame the line (`encode_event`), one
  ``os.write``, and append the message to an in-memory history. No lock, no
  checks, no redaction: what p8j's `record_message` could cost at best.
- `ref_replay`: read the log in 1 MiB chunks, ``decode_lines`` each block of
  whole lines, and a minimal fold (messages into a list, the rest counted).
- `ref_lifecycle`: create a file (O_EXCL, fsync, fsync dir), write 12 lines,
  fdatasync, close: a session's start, ten messages and end with nothing else.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec

from p8j.journal import AnyEvent, MessageRecorded
from p8j.journal.codec import encode_event

from .common import TS, message

_ENC = msgspec.json.Encoder()
_DEC: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)


class RefAppender:
    """encode + one os.write per event on an O_APPEND fd (+ fdatasync when `sync`)."""

    def __init__(self, path: Path, *, sync: bool = False) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.sync = sync
        self.sid = "0190a6e0-0000-7000-8000-00000000ffff"

    def record(self, i: int) -> None:
        """Append message `i` as one JSON line."""
        m = message(i)
        line = _ENC.encode(
            MessageRecorded(1, self.sid, i, TS, role=m["role"], content=m["content"])
        )
        os.write(self.fd, line + b"\n")
        if self.sync:
            os.fdatasync(self.fd)

    def close(self) -> None:
        """Close the descriptor."""
        os.close(self.fd)


class FormatFloor:
    """Clock + envelope struct + CRC-framed line + one os.write + history append, inline."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.sid = "0190a6e0-0000-7000-8000-00000000fffe"
        self.history: list[dict[str, Any]] = []
        self._sec = -1
        self._prefix = ""
        self._parts: tuple[int, ...] = ()

    def record(self, i: int) -> None:
        """Append message `i` as one checksummed line and keep it in memory."""
        m = message(i)
        sec, ns = divmod(time.time_ns(), 1_000_000_000)
        if sec != self._sec:
            tm = time.gmtime(sec)
            self._sec, self._prefix = sec, time.strftime("%Y-%m-%dT%H:%M:%S", tm)
            self._parts = tuple(tm[:6])
        us = ns // 1000
        ts = "%s.%06dZ" % (self._prefix, us)  # noqa: UP031
        y, mo, d, h, mi, s = self._parts
        datetime(y, mo, d, h, mi, s, us, timezone.utc)
        event = MessageRecorded(1, self.sid, i, ts, role=m["role"], content=m["content"])
        os.write(self.fd, encode_event(event))
        self.history.append({"role": m["role"], "content": m["content"]})

    def close(self) -> None:
        """Close the descriptor."""
        os.close(self.fd)


def ref_replay(path: Path) -> tuple[int, list[Any]]:
    """Read + decode_lines + minimal fold; return (events, messages)."""
    messages: list[Any] = []
    count = 0
    pending = b""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while True:
            data = os.read(fd, 1 << 20)
            if not data:
                break
            buf = pending + data if pending else data
            nl = buf.rfind(b"\n")
            if nl < 0:
                pending = buf
                continue
            pending = buf[nl + 1 :]
            for ev in _DEC.decode_lines(buf[: nl + 1]):
                count += 1
                if type(ev) is MessageRecorded:
                    messages.append({"role": ev.role, "content": ev.content})
    finally:
        os.close(fd)
    return count, messages


def ref_lifecycle(directory: Path, n: int) -> int:
    """Create, write 12 lines and sync one file: a session lifecycle with nothing else."""
    path = directory / f"ref-{n}.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.fsync(fd)
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        sid = "0190a6e0-0000-7000-8000-00000000fffe"
        for i in range(12):
            m = message(i)
            os.write(
                fd,
                _ENC.encode(MessageRecorded(1, sid, i, TS, role=m["role"], content=m["content"]))
                + b"\n",
            )
        os.fdatasync(fd)
    finally:
        os.close(fd)
    return n
