"""How one record reaches a session's log and its in-memory Session (the manager's write path).

Contract:
- `write_large` appends an event too large for one line with its payloads
  moved into blobs, and returns the event to fold (with the values, as a
  replay that resolves the blobs reads it).
- `settle` is what the manager runs when an exception (an OSError, a
  KeyboardInterrupt at any point: encode, blob write, write, fsync, lock wait,
  fold) escapes a record: afterwards either the event is in the log and
  folded into the Session (its seq consumed), or it is not in the log and the
  Session is unchanged, or the writer is failed, so every later record raises
  `JournalIOError` until the session is reopened. The Session always equals a
  replay of the log's committed lines.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from msgspec import UNSET

from .cache.snapshots import fold_log
from .codec import decode_written, encode_event
from .errors import RecordTooLargeError
from .events import Event, MessageRecorded
from .session import Session, apply
from .store.fs.blobs import BLOB_FIELDS, BlobStore, offload_content, offload_event
from .store.fs.layout import Home
from .store.fs.writer import LogWriter

__all__ = ["committed", "settle", "write_large"]


def write_large(writer: LogWriter, event: Event, store: BlobStore, threshold: int) -> Event:
    """Append `event` with its payloads moved into blobs; return the event to fold."""
    disk = offload_event(event, store, threshold)
    try:
        writer.append(disk)
    except RecordTooLargeError:
        if not isinstance(event, MessageRecorded) or event.content is UNSET:
            raise  # no single payload is large: the record is over the cap
        whole = msgspec.structs.replace(disk, content=event.content)
        assert isinstance(whole, MessageRecorded)
        writer.append(offload_content(whole, store))
    names = BLOB_FIELDS[type(event)]
    if all(type(getattr(event, n)) is str for n in names if n != "extra") and not getattr(
        event, "extra", None
    ):
        return event  # plain strings read back as themselves
    return decode_written(encode_event(event))


def committed(writer: LogWriter, event: Event) -> bool:
    """True if `event` (or its blob-offloaded form) is the writer's last committed line."""
    line = writer.last_line
    if line is None:
        return False
    written = decode_written(line)
    return written.seq == event.seq and written.session_id == event.session_id


def settle(
    home: Home,
    session: Session,
    writer: LogWriter,
    event: Event,
    when: datetime,
    folding: bool,
    history: int | None,
) -> None:
    """After an exception escaped recording `event`: make `session` equal its log again.

    If the event reached the log, fold it: at once when nothing of it was
    folded yet, else (`folding`: interrupted part-way through the fold) by
    folding the log again (`history` is the session's window) into `session`
    in place. If that fails too, the writer is failed.
    """
    try:
        if session.last_seq >= event.seq or not committed(writer, event):
            return
        if folding:
            fresh, _, _ = fold_log(home, session.session_id, history=history)
            for name in session.__struct_fields__:
                setattr(session, name, getattr(fresh, name))
        else:
            apply(session, decode_written(encode_event(event)), when)
    except BaseException:
        writer.fail(f"a record (seq {event.seq}) was interrupted and could not be settled")
        raise
