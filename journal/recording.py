"""How one record reaches a session's log and its in-memory Session (the manager's write path).

Contract:
- `start_event` builds a session's ``SessionStarted`` (metadata redacted when
  a stream is given) and refuses one over the record cap, touching nothing.
- `append_event` appends one event, its payloads over the blob threshold
  moved into blobs when it is too large (`write_large`: returns the event to
  fold, with the values, as a replay that resolves the blobs reads it).
  `redact_event` redacts a whole built event the way the manager redacts the
  fields it is given (the import path: events arrive built).
- `settle` is what the manager runs when an exception (an OSError, a
  KeyboardInterrupt at any point: encode, blob write, write, fsync, lock wait,
  fold) escapes a record: afterwards either the event is in the log and
  folded into the Session (its seq consumed), or it is not in the log and the
  Session is unchanged, or the writer is failed, so every later record raises
  `JournalIOError` until the session is reopened. The Session always equals a
  replay of the log's committed lines.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

import msgspec
from msgspec import UNSET

from . import checks
from .cache.snapshots import fold_log
from .codec import decode_written, encode_event
from .errors import CorruptLineError, RecordTooLargeError, SessionStateError, StoreConfigError
from .events import (
    SCHEMA_VERSION,
    Event,
    MessageRecorded,
    Origin,
    RecordImported,
    SessionStarted,
)
from .secrets.stream import LABEL_FIELDS, REDACTED_FIELDS, RedactStream
from .session import Session, apply
from .store.base import Blobs, SessionStore, StoreCursor, StoreWriter
from .store.fs.blobs import (
    BLOB_FIELDS,
    BlobStore,
    missing_blob_hashes,
    offload_content,
    offload_event,
    offload_whole,
)
from .store.fs.layout import Home, check_home_arg
from .store.fs.store import FileStore
from .store.fs.syscalls import Storage
from .store.select import open_store
from .timefmt import now_ts

__all__ = [
    "append_event",
    "check_options",
    "choose_store",
    "committed",
    "fold_to_resume",
    "open_for_append",
    "p8j_version",
    "redact_event",
    "restamp",
    "settle",
    "start_event",
    "write_large",
]


@functools.cache
def _version() -> str:
    # Cached: importlib.metadata parses the dist-info on every call (~0.2 ms a session start).
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("p8j")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def p8j_version() -> str:
    """This p8j's version (``0+unknown`` from a source tree), as a SessionStarted records it."""
    return _version()


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None


def start_event(
    where: str | os.PathLike[str] | None,
    sid: str,
    project_name: str,
    metadata: Mapping[str, Any] | None,
    cwd: str | None,
    stream: RedactStream | None,
    cap: int,
) -> SessionStarted:
    """The ``SessionStarted`` of a new session `sid`; RecordTooLargeError over `cap` bytes.

    `where` is what the error names as the log's place (its path, for the file store).
    """
    # Every text a start writes is redacted, keys included (see secrets/stream.py).
    start: dict[str, Any] = {
        "project_name": project_name,
        "metadata": dict(metadata or {}),
        "cwd": cwd if cwd is not None else _cwd(),
    }
    if stream is not None:
        start["redactions"] = stream.fields(start, REDACTED_FIELDS["SessionStarted"])
    event = SessionStarted(
        SCHEMA_VERSION,
        sid,
        0,
        now_ts(),
        host=socket.gethostname(),
        pid=os.getpid(),
        p8j_version=_version(),
        **start,
    )
    size = len(encode_event(event))  # an unencodable start raises here, too
    if size > cap:
        raise RecordTooLargeError(
            f"SessionStarted record is {size} bytes; the cap is {cap}", path=where
        )
    return event


def restamp(event: SessionStarted) -> SessionStarted:
    """`event` stamped now (same width: its size check holds), for a start after a pause."""
    return msgspec.structs.replace(event, ts=now_ts())


def write_large(writer: StoreWriter, event: Event, blobs: Blobs, threshold: int) -> Event:
    """Append `event` with its payloads moved into blobs; return the event to fold."""
    store = cast(BlobStore, blobs)  # offloading only calls `put`, which every Blobs has
    disk = offload_event(event, store, threshold)
    try:
        writer.append(disk)
    except RecordTooLargeError:
        if isinstance(event, RecordImported) and event.record is not UNSET:
            # An imported record of many medium strings: the whole record in one blob.
            text, ref = offload_whole("record", event.record, store)
            kept = [r for r in disk.blobs if r.path[0] != "record"]
            writer.append(msgspec.structs.replace(disk, record=text, blobs=[*kept, ref]))
            return decode_written(encode_event(event))
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


def append_event(
    writer: StoreWriter, event: Event, blobs: Blobs | None, threshold: int, *, decode: bool = True
) -> Event | None:
    """Append `event` (payloads over `threshold` into `blobs` when it is too large).

    Returns the event to fold (as a replay reads it back), or None when not `decode`.
    """
    if blobs is not None and type(event) in BLOB_FIELDS:
        try:
            line = writer.append(event, threshold)
        except RecordTooLargeError:
            folded = write_large(writer, event, blobs, threshold)
            return folded if decode else None
    else:
        line = writer.append(event)
    return decode_written(line) if decode else None


def _redact_origin(stream: RedactStream, origin: Origin) -> Origin:
    """`origin` redacted: the source record's rest in order, its names and ids alone.

    `moved` (event field names and JSON paths) and `ts` (a normalized time) are
    p8j's own words, not the source's text: they are left alone.
    """
    changes: dict[str, Any] = {}
    if origin.rest is not UNSET:
        # The stream's own walk: a rest with nothing to redact (ids, paths, times: most
        # of them) costs one pass of the rule set, not a rule check per text and key.
        rest = stream.value(origin.rest)
        if rest is not origin.rest:
            changes["rest"] = rest
    for name in ("id", "parent_id", "cwd", "git_branch", "model"):
        value = getattr(origin, name)
        if value:
            new = stream.label(value)
            if new is not value:
                changes[name] = new
    return msgspec.structs.replace(origin, **changes) if changes else origin


_ORIGIN_LABELS = ("id", "parent_id", "cwd", "git_branch", "model")


def _clean_event(stream: RedactStream, event: Event, names: tuple[str, ...]) -> bool:
    """True (the stream moved past them) if no field `names` names has anything to redact.

    One set pass over the whole event (`RedactStream.clean_all`): its texts in
    field order, its labels and origin's names and ids alone, as `_redact_fields`
    walks them one by one. A struct-valued field other than ``origin`` says False.
    """
    values: list[Any] = []
    labels: list[str] = []
    for name in names:
        value = getattr(event, name)
        if value is UNSET or value is None or (type(value) is str and not value):
            continue
        if isinstance(value, Origin):
            if value.rest is not UNSET:
                values.append(value.rest)
            for label in _ORIGIN_LABELS:
                text = getattr(value, label)
                if text:
                    labels.append(text)
        elif isinstance(value, msgspec.Struct):
            return False
        elif name in LABEL_FIELDS and type(value) is str:
            labels.append(value)
        else:
            values.append(value)
    return stream.clean_all(values, labels)


def redact_event(stream: RedactStream | None, event: Event) -> Event:
    """`event` with the fields `REDACTED_FIELDS` names redacted in order, `redactions` merged.

    An imported event's ``origin``: see `_redact_origin`; another struct-valued
    field is redacted as the JSON it is written as. An event with nothing to
    redact (most) is judged in one set pass and comes back as itself.
    """
    names = REDACTED_FIELDS.get(type(event).__name__)
    if stream is None or not names:
        return event
    if not stream.fired and _clean_event(stream, event, names):
        return event
    return _redact_fields(stream, event, names)


def _redact_fields(stream: RedactStream, event: Event, names: tuple[str, ...]) -> Event:
    """`redact_event` field by field (the reference `_clean_event` takes a shortcut from)."""
    changes: dict[str, Any] = {}
    for name in names:
        value = getattr(event, name)
        if value is UNSET or value is None or (type(value) is str and not value):
            continue  # as RedactStream.fields: the carry stays the same on every path
        if isinstance(value, Origin):
            origin = _redact_origin(stream, value)
            if origin is not value:
                changes[name] = origin
        elif isinstance(value, msgspec.Struct):
            plain = msgspec.to_builtins(value)
            new = stream.field(name, plain)
            if new is not plain:
                changes[name] = msgspec.convert(new, type(value))
        else:
            new = stream.field(name, value)
            if new is not value:
                changes[name] = new
    fired = stream.take()
    if fired and "redactions" in event.__struct_fields__:
        changes["redactions"] = sorted({*event.redactions, *fired})  # type: ignore[attr-defined]
    return msgspec.structs.replace(event, **changes) if changes else event


def committed(writer: StoreWriter, event: Event) -> bool:
    """True if `event` (or its blob-offloaded form) is the writer's last committed record."""
    line = writer.last_record
    if line is None:
        return False
    written = decode_written(line)
    return written.seq == event.seq and written.session_id == event.session_id


def settle(
    store: SessionStore,
    session: Session,
    writer: StoreWriter,
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
            fresh, _, _ = fold_log(store, session.session_id, history=history)
            for name in session.__struct_fields__:
                setattr(session, name, getattr(fresh, name))
        else:
            apply(session, decode_written(encode_event(event)), when)
    except BaseException:
        writer.fail(f"a record (seq {event.seq}) was interrupted and could not be settled")
        raise


def check_options(
    home: object,
    durability: object,
    max_record_bytes: object,
    batch_interval_ms: object,
    batch_max_events: object,
    redact: object,
    blob_threshold: object,
    storage: object,
) -> float:
    """Check `SessionManager`'s constructor arguments; return `batch_interval_ms` as a float."""
    check_home_arg(home)
    checks.choice(durability, "durability", ("default", "fsync", "batch"))
    checks.integer(max_record_bytes, "max_record_bytes", minimum=1)
    interval = checks.real(batch_interval_ms, "batch_interval_ms", positive=True)
    checks.integer(batch_max_events, "batch_max_events", minimum=1)
    if redact is not None:
        checks.boolean(redact, "redact")
    checks.opt_integer(blob_threshold, "blob_threshold", minimum=0)
    if storage is not None and not isinstance(storage, Storage):
        raise checks.wrong_type("storage", "a Storage or None", storage)
    return interval


def choose_store(
    store: SessionStore | str | os.PathLike[str] | None,
    home: str | os.PathLike[str] | Home | None,
    storage: Storage | None,
) -> SessionStore:
    """The manager's store: `store` > ``$P8J_STORE`` > the file store at `home` (select.py).

    `storage` (the file store's injectable system calls) applies to a file store
    only; given with another store it is a mistake (StoreConfigError).
    """
    chosen = open_store(store, home)
    if storage is None:
        return chosen
    if not isinstance(chosen, FileStore):
        raise StoreConfigError(f"storage= applies to a file store only, not {chosen!r}")
    if chosen.storage is not storage:
        chosen = FileStore(chosen.home, storage=storage)
    return chosen


def fold_to_resume(
    store: SessionStore, sid: str, history: int | None
) -> tuple[Session, StoreCursor]:
    """Fold `sid`'s log for a resume (from a fresh snapshot when there is one).

    A log without a complete SessionStarted raises missing_start_error's error; a
    damaged line elsewhere (not a torn tail) raises a CorruptLineError that names
    `p8j repair`, since appending after it would bury it.
    """
    try:
        session, cursor, _ = fold_log(store, sid, history=history)
    except CorruptLineError as exc:
        if exc.line == 1:
            raise  # no SessionStarted: nothing to resume, and nothing to repair
        raise CorruptLineError(
            f"cannot resume session {sid}: {exc.message}; run `p8j repair {sid}` "
            "to move the damaged lines aside",
            path=exc.path,
            line=exc.line,
            offset=exc.offset,
            data=exc.data,
        ) from exc
    return session, cursor


def open_for_append(
    store: SessionStore, sid: str, history: int | None, options: Mapping[str, Any]
) -> tuple[StoreWriter, Session, int]:
    """Lock `sid`'s log, fold it, repair a torn tail; return (writer, session, bytes moved).

    `options` are `open_writer`'s. The caller installs the writer and session;
    on error nothing is left open.
    """
    writer = store.open_writer(sid, **options)
    try:
        # From the snapshot cache when fresh (and refreshed after a long tail); a log
        # without a complete SessionStarted raises missing_start_error's error.
        session, cursor = fold_to_resume(store, sid, history)
        session.missing_blobs = missing_blob_hashes(cursor.issues)  # tell the embedder
        if session.status == "completed":
            raise SessionStateError(f"cannot reopen session {sid}: it is completed")
        writer.check()  # the fold read by name: it must still be the log the writer holds
        repaired = writer.repair_tail(cursor.position)
    except BaseException:
        writer.close(sync=False)
        raise
    return writer, session, repaired
