"""The p8j error hierarchy.

Contract: every error a user can cause (bad input, a corrupt or hostile file, a
full disk, a second writer) surfaces as a subclass of `P8jError`, raised `from`
the original exception where there is one. Errors about a place in a file carry
`path`, `line` (1-based), `offset` (byte offset of the line start) and the
offending bytes (`data`, truncated to 200 bytes for display).
"""

from __future__ import annotations

import os

_SHOW = 200


def _clip(data: bytes | None) -> bytes | None:
    if data is None or len(data) <= _SHOW:
        return data
    return data[:_SHOW] + b"..."


class P8jError(Exception):
    """Root of every error p8j raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
        offset: int | None = None,
        data: bytes | None = None,
    ) -> None:
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.line = line
        self.offset = offset
        self.data = _clip(data)
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
            if self.offset is not None:
                where += f" (byte {self.offset})"
            where += ": "
        text = where + self.message
        if self.data is not None:
            text += f": {self.data!r}"
        return text


class SessionStateError(P8jError):
    """An operation is illegal in the session's current lifecycle state."""


class SessionLockedError(P8jError):
    """Another live process holds the session's write lock."""

    def __init__(
        self, message: str, *, pid: int | None = None, host: str | None = None, **kw: object
    ) -> None:
        self.pid = pid
        self.host = host
        super().__init__(message, **kw)  # type: ignore[arg-type]


class SessionNotFoundError(P8jError):
    """No session matches the given id or prefix (or a prefix is ambiguous)."""

    def __init__(self, message: str, *, candidates: list[str] | None = None) -> None:
        self.candidates = candidates or []
        super().__init__(message)


class InvalidSessionIdError(P8jError):
    """A string is not a valid session id (checked before it touches a path)."""


class CorruptLineError(P8jError):
    """A journal line fails framing, checksum, decoding, seq or lifecycle checks."""


class RecordTooLargeError(P8jError):
    """An encoded record exceeds the configured size cap; nothing was written."""


class JournalIOError(P8jError):
    """The operating system refused a read, write, fsync or open of the journal."""


class InvalidEventError(P8jError, ValueError):
    """A value p8j refuses to record or read with (bad argument, unencodable payload).

    Raised before anything is written. Also a `ValueError`, as msgspec's and
    the standard library's own argument errors are.
    """


class InvalidTypeError(InvalidEventError, TypeError):
    """An argument has the wrong type (e.g. ``exit_code="1"``); also a `TypeError`."""


class UnsafePathError(P8jError):
    """A journal path is a symlink, hard link, FIFO or otherwise unsafe to touch."""


class BlobMissingError(JournalIOError):
    """A blob an event refers to is not in the blobs directory."""


class RedactConfigError(P8jError):
    """The redaction configuration file is unreadable, unsafe or invalid."""


class StalePositionError(P8jError):
    """A store position names an earlier incarnation of a log (it was rewritten since)."""


class StoreConfigError(P8jError):
    """A store URL or `P8J_STORE` value names no store this p8j can open."""


class PatternError(P8jError, ValueError):
    """A search pattern the regex engine cannot compile (the CLI reports a usage error)."""
