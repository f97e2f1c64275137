"""Sync marks: where the last `p8j sync` to a target left each session (a derived cache).

Contract: ``<home>/cache/sync-<16 hex>.msgpack`` per target store URL (the hex
is the start of the URL's SHA-256; the URL is stored inside and checked), a
msgpack map of session id -> `Mark`. Marks only let a push skip or resume
cheaply; `push_session` checks each against both logs before trusting it, so a
missing, stale, damaged or foreign file only costs a full comparison. Reading
never blocks on a FIFO and refuses files that are not ours (`Home.open_file`);
failing to write the file costs speed, never data, and raises nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os

import msgspec

from ..errors import P8jError
from ..store.fs.layout import Home, check_file
from ..store.sync import Mark

__all__ = ["load_marks", "marks_file", "save_marks"]

_VERSION = 1


class _Marks(msgspec.Struct):
    version: int
    target: str
    marks: dict[str, Mark]


_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(_Marks)


def marks_file(target_url: str) -> str:
    """The cache file's name for `target_url`."""
    return f"sync-{hashlib.sha256(target_url.encode()).hexdigest()[:16]}.msgpack"


def load_marks(home: Home, target_url: str) -> dict[str, Mark]:
    """The marks of the last sync from `home` to `target_url`; {} if none can be read."""
    name = marks_file(target_url)
    try:
        fd = home.open_file("cache", name, os.O_RDONLY)
    except (P8jError, OSError):
        return {}
    try:
        st = os.fstat(fd)
        check_file(home.cache_dir / name, st)
        parts = []
        while piece := os.read(fd, max(st.st_size, 1 << 16)):
            parts.append(piece)
        data = _DEC.decode(b"".join(parts))
    except (P8jError, OSError, msgspec.DecodeError):
        return {}
    finally:
        os.close(fd)
    if data.version != _VERSION or data.target != target_url:
        return {}
    return data.marks


def save_marks(home: Home, target_url: str, marks: dict[str, Mark]) -> None:
    """Write the marks for `target_url` crash-safely; errors are ignored (it is a cache)."""
    data = _ENC.encode(_Marks(_VERSION, target_url, marks))
    with contextlib.suppress(P8jError, OSError):
        home.replace_file("cache", marks_file(target_url), data)
