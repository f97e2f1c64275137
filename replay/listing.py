"""Listing sessions for people and scripts: filters, live-vs-crashed, ``--since`` parsing.

Contract:
- `list_sessions` returns `SessionListing`s most recently active first (``sort="activity"``,
  by the last event's time, as Claude Code's ``/resume`` orders them) or newest
  first by start time (``sort="started"``), built
  from the journal's derived catalog (`p8j.journal.cache.catalog.list_catalog`), so a
  listing reads no unchanged log. Filters run on the summaries first; rows
  (lock probe, duration) are built only for sessions that pass them, and with
  `limit`, only for the newest N.
- `state` refines the lifecycle `status`: an ``active`` session whose log is
  write-locked right now is ``live``; one whose log nobody locks lost its writer
  (the process died without pausing or ending it) and is ``crashed``. ``paused``
  and ``completed`` are as logged. The lock is probed only for active sessions.
  An imported session (another agent's log, `SessionSummary.agent`) that no
  importer is writing now is ``imported``, not ``crashed``: its writer did not
  die, the agent whose log it mirrors owns it.
  A session whose log has problems (a corrupt line, a seq gap, a lifecycle
  violation: the summary's ``problems``) is ``damaged`` whatever its status,
  unless its writer is live: it can be neither resumed nor loaded strictly
  until ``p8j repair`` moves the bad lines aside (a torn tail is no problem).
- Filters: `project` is a shell-style pattern (an exact name matches itself);
  `states` takes any of ``active`` (= live, crashed or imported), ``live``, ``crashed``,
  ``imported``,
  ``paused``, ``completed``, ``damaged``; `since` keeps sessions with activity at or after it;
  `limit` keeps the newest N after filtering. With `archived`, only archived
  sessions are listed (read through their archives; they are never cached;
  only a file store has archives).
- `sessions_json` is `list_sessions` encoded as JSON (an array, or one object a
  line): the same bytes. A session whose row is fixed by its summary (any not
  ``active``: no lock to probe) has its row kept in the catalog (`ROWS`), so
  listing unchanged sessions encodes nothing; ``_ROW_VERSION`` names the row's
  format with its fields, and rows of another format are made again.
- Every function takes the store to list (a `SessionStore`; a `Home` or a path
  means the file store there) and reads it only through the store seam.
- `parse_since` accepts a duration before now (``90s``, ``15m``, ``2h``,
  ``1h30m``, ``3d``, ``2w``), ``today``, ``yesterday``, a date (``2026-11-01``, local
  midnight) or a date and time (local time unless it carries an offset or ``Z``).
  Anything else, including a time before year 1 or after 9999 (``1000000000d``),
  is a ValueError with a message for people, never an OverflowError.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from operator import attrgetter
from typing import Any, Literal

import msgspec

from p8j.journal import Home
from p8j.journal.cache.catalog import (
    CatalogListing,
    Rows,
    SessionSummary,
    list_catalog,
    summarize,
)
from p8j.journal.cache.catalog_file import entry_of
from p8j.journal.errors import JournalIOError, P8jError
from p8j.journal.fidelity import usage_dict
from p8j.journal.store.base import SessionStore, is_home_store
from p8j.journal.store.select import as_store
from p8j.journal.timefmt import format_ts, parse_ts

__all__ = [
    "ROWS",
    "SORTS",
    "STATES",
    "SessionListing",
    "State",
    "archived_summaries",
    "list_sessions",
    "listing_catalog",
    "listing_of",
    "ordered",
    "parse_since",
    "session_state",
    "sessions_json",
]

State = Literal["live", "crashed", "imported", "paused", "completed", "damaged"]
STATES: tuple[str, ...] = (
    "active",
    "live",
    "crashed",
    "imported",
    "paused",
    "completed",
    "damaged",
)
SORTS: tuple[str, ...] = ("activity", "started")

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(secs|sec|s|mins|min|m|hrs|hr|h|days|day|d|wks|wk|w)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class SessionListing(msgspec.Struct, gc=False):
    """One row of `p8j ls`: a session summary plus whether its writer is alive."""

    # gc=False: like SessionSummary, a row holds no cycle, and 100k rows give the
    # cycle collector nothing to rescan. Not kw_only: `listing_of` builds rows
    # positionally, ~5x faster than by keyword (15 ms of `p8j ls --json` at 10k).

    session_id: str
    project_name: str
    status: str
    state: str
    start_time: str | None
    end_time: str | None
    last_activity: str | None
    duration_s: float | None
    message_count: int
    command_count: int
    execution_count: int
    title: str
    size_bytes: int
    last_seq: int
    problems: int
    writer_pid: int | None = None
    writer_host: str | None = None
    metadata: dict[str, Any] = {}
    cwd: str | None = None
    forked_from: str | None = None
    # Fidelity (journal/fidelity.py): the parent of a child session, an imported
    # session's agent, the model last in effect, token totals (deduplicated by response).
    parent_id: str | None = None
    parent_call_id: str | None = None
    agent: str | None = None
    model: str | None = None
    usage: dict[str, int] | None = None
    usage_by_model: dict[str, dict[str, int]] = {}


Where = SessionStore | Home | str | os.PathLike[str]


def session_state(home: Where, session_id: str, status: str) -> tuple[str, int | None, str | None]:
    """(state, writer pid, writer host) of a session with lifecycle `status`."""
    if status != "active":
        return status, None, None
    try:
        # The file store probes the writer's lock on the log itself (the lock file only
        # names it), so a removed locks/ folder does not make a live session look crashed.
        holder = as_store(home).holder(session_id)
    except JournalIOError:
        return "active", None, None  # cannot tell; say only what the log says
    if holder is None:
        return "crashed", None, None
    return "live", holder.pid, holder.host


def _instant(ts: str) -> datetime:
    """Naive UTC (naive arithmetic is several times faster than aware)."""
    if len(ts) == 27 and ts[-1] == "Z":  # p8j's fixed-width form: the fast C parser
        try:
            return _fromisoformat(ts[:-1])
        except ValueError:
            pass
    return parse_ts(ts).replace(tzinfo=None)


_fromisoformat = datetime.fromisoformat


def _duration(start: str | None, last: str | None) -> float | None:
    if start is None or last is None:
        return None
    if len(start) == 27 == len(last) and start[26] == "Z" == last[26]:
        # p8j's fixed-width form, the common case: parsed inline (a listing builds 100k rows)
        try:
            seconds = (_fromisoformat(last[:26]) - _fromisoformat(start[:26])).total_seconds()
            return seconds if seconds > 0.0 else 0.0
        except ValueError:
            pass
    try:
        return max(0.0, (_instant(last) - _instant(start)).total_seconds())
    except ValueError:
        return None


def listing_of(home: Where, summary: SessionSummary) -> SessionListing:
    """The listing row of one summary (probes the write lock of an active session)."""
    status = summary.status
    if status == "active":
        state, pid, host = session_state(home, summary.session_id, status)
    else:
        state, pid, host = status, None, None
    if state == "crashed" and summary.agent is not None:
        state = "imported"  # nobody imports it now: not a crash (see the module docstring)
    if summary.problems and state != "live":
        state = "damaged"  # not resumable as it stands: see the module docstring
    start = summary.start_time
    end = summary.end_time
    last = summary.last_activity
    until = end or last
    seconds: float | None = None
    if start is not None and until is not None:
        if len(start) == 27 == len(until) and start[26] == "Z" == until[26]:
            # _duration's fast path inline: a listing builds a row per session (10k+)
            try:
                seconds = (_fromisoformat(until[:26]) - _fromisoformat(start[:26])).total_seconds()
                seconds = seconds if seconds > 0.0 else 0.0
            except ValueError:
                seconds = _duration(start, until)
        else:
            seconds = _duration(start, until)
    usage, by_model = (None, {}) if summary.usage is None else _usage(summary)
    return SessionListing(  # positional, in field order (see the class)
        summary.session_id,
        summary.project_name,
        status,
        state,
        start,
        end,
        last,
        seconds,
        summary.message_count,
        summary.command_count,
        summary.execution_count,
        summary.title,
        summary.size_bytes,
        summary.last_seq,
        summary.problems,
        pid,
        host,
        summary.metadata,
        summary.cwd,
        summary.forked_from,
        summary.parent_id,
        summary.parent_call_id,
        summary.agent,
        summary.model,
        usage,
        by_model,
    )


def _usage(summary: SessionSummary) -> tuple[dict[str, int] | None, dict[str, dict[str, int]]]:
    tally = summary.usage
    if tally is None:
        return None, {}
    by_model = {name: usage_dict(u) for name, u in sorted(tally.by(1).items())}
    return usage_dict(tally.total()), by_model


def _row(summary: SessionSummary) -> bytes | None:
    """The JSON row of a session whose row its summary fixes (not active), else None."""
    if summary.status == "active":
        return None  # live or crashed: known only with the write lock probed
    return _ROW_ENC.encode(listing_of("", summary))  # not active: `home` is not used


_ROW_ENC = msgspec.json.Encoder()
# The kept rows' format: bump when `listing_of` or the row's encoding changes what a row
# holds (a change of SessionListing's fields changes the tag by itself).
_ROW_VERSION = 1
ROWS = Rows(f"listing {_ROW_VERSION}: {' '.join(SessionListing.__struct_fields__)}", _row)


def _state_matches(states: frozenset[str], state: str) -> bool:
    if state in states:
        return True
    if state == "active-any":  # before the lock is probed: could be live or crashed
        return bool(states.intersection(("active", "live", "crashed", "imported")))
    return "active" in states and state in ("live", "crashed", "imported", "active")


def archived_summaries(home: Where) -> list[SessionSummary]:
    """Summaries of the archived sessions (read through their archives, not cached)."""
    store = as_store(home)
    if not is_home_store(store):
        return []  # only a home keeps archives
    out = []
    for sid in store.archived_ids():
        cursor = store.open_archived(sid, skip_corrupt=True, resolve_blobs=False)
        try:
            summary = summarize(cursor.read(final=True), sid)
        except P8jError:
            summary = SessionSummary(session_id=sid, problems=1)
        summary.problems += sum(1 for i in cursor.issues if i.kind != "unknown-event")
        summary.size_bytes = cursor.position.offset
        out.append(summary)
    return out


def listing_catalog(home: Where, *, archived: bool = False, rows: bool = True) -> CatalogListing:
    """The sessions to list (archived ones with `archived`), with their kept JSON `rows`."""
    store = as_store(home)
    if archived:
        return _wrapped(store, archived_summaries(store))
    return list_catalog(store, ROWS if rows else None)


def _wrapped(store: SessionStore, summaries: list[SessionSummary]) -> CatalogListing:
    """`summaries` as a listing's entries (no rows kept)."""
    return CatalogListing(
        store, None, [entry_of(s, 0, 0, 1, 0, None) for s in summaries], {}, False
    )


def list_sessions(
    home: Where,
    *,
    project: str | None = None,
    states: Iterable[str] | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    summaries: list[SessionSummary] | None = None,
    sort: str = "activity",
    cwd: str | os.PathLike[str] | None = None,
    archived: bool = False,
    catalog: CatalogListing | None = None,
) -> list[SessionListing]:
    """Sessions most recently active (or started) first, filtered (see the module docstring)."""
    filters = _Filters(project, states, since, cwd)
    store = as_store(home)
    if catalog is None:
        if summaries is None:
            catalog = listing_catalog(store, archived=archived, rows=False)
        else:
            catalog = _wrapped(store, summaries)
    rows: list[SessionListing] = []
    for entry in ordered(catalog, sort):
        if limit is not None and len(rows) >= limit:
            break
        if not filters.keeps(catalog, entry):
            continue
        row = listing_of(store, catalog.summary(entry))
        if filters.wanted is None or _state_matches(filters.wanted, row.state):
            rows.append(row)
    return rows


def sessions_json(
    home: Where,
    *,
    project: str | None = None,
    states: Iterable[str] | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    sort: str = "activity",
    cwd: str | os.PathLike[str] | None = None,
    catalog: CatalogListing | None = None,
    lines: bool = False,
) -> bytes:
    """`list_sessions`'s rows as a JSON array (`lines`: one JSON object a line)."""
    filters = _Filters(project, states, since, cwd)
    store = as_store(home)
    if catalog is None:
        catalog = listing_catalog(store)
    wanted = filters.wanted
    keeps = filters.keeps if filters.active else None
    kept = catalog.has_rows
    out: list[bytes] = []
    for entry in ordered(catalog, sort):
        if limit is not None and len(out) >= limit:
            break
        if keeps is not None and not keeps(catalog, entry):
            continue
        status = entry.status
        if kept and status != "active":
            row = entry.row
            if row:  # its state is fixed by the summary (listing_of's rule)
                if wanted is None or _state_matches(
                    wanted, "damaged" if entry.problems else status
                ):
                    out.append(row)
                continue
        listed = listing_of(store, catalog.summary(entry))
        if wanted is None or _state_matches(wanted, listed.state):
            out.append(_ROW_ENC.encode(listed))
    if lines:
        return b"\n".join(out) + b"\n" if out else b""
    return b"[" + b",".join(out) + b"]"


class _Filters:
    """`list_sessions`'s filters, checked on a catalog entry before its row is built."""

    __slots__ = ("active", "bound", "in_project", "wanted", "where")

    def __init__(
        self,
        project: str | None,
        states: Iterable[str] | None,
        since: datetime | None,
        cwd: str | os.PathLike[str] | None,
    ) -> None:
        self.wanted = frozenset(states) if states else None
        if self.wanted is not None:
            unknown = sorted(self.wanted.difference(STATES))
            if unknown:
                raise ValueError(
                    f"unknown state {unknown[0]!r}: expected one of {', '.join(STATES)}"
                )
        self.bound = format_ts(since) if since is not None else None
        # What fnmatchcase does per call, compiled once: the filter may see 100k summaries.
        self.in_project = (
            re.compile(fnmatch.translate(project)).match if project is not None else None
        )
        self.where = _normal(cwd) if cwd is not None else None
        self.active = bool(
            project is not None or self.wanted or since is not None or cwd is not None
        )

    def keeps(self, catalog: CatalogListing, entry: Any) -> bool:
        """False if `entry` fails a filter (states: as far as known before the lock probe)."""
        if self.in_project is not None and self.in_project(entry.project_name) is None:
            return False
        if self.bound is not None and entry.activity < self.bound:
            return False
        # A damaged session's state is known only with the lock probed (live or damaged).
        wanted = self.wanted
        if wanted is not None and not entry.problems:
            guess = entry.status if entry.status != "active" else "active-any"
            if not _state_matches(wanted, guess):
                return False
        if self.where is not None:
            cwd = catalog.summary(entry).cwd
            return cwd is not None and _normal(cwd) == self.where
        return True


def ordered(catalog: CatalogListing, sort: str) -> Iterator[Any]:
    """The catalog's entries in listing order (`sort`)."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}: expected one of {', '.join(SORTS)}")
    if sort == "started":
        return iter(catalog.entries)  # newest first by id: ids are time-ordered
    # RFC 3339 UTC strings of one width sort as the instants they name (`activity`: the
    # last activity, else the start). Stable: ties stay newest first.
    return iter(sorted(catalog.entries, key=attrgetter("activity"), reverse=True))


def _normal(path: str | os.PathLike[str]) -> str:
    """`path` absolute (from the current directory) and normalised, symlinks not resolved."""
    return os.path.normpath(os.path.abspath(os.fspath(path)))


def _local_midnight(day: datetime) -> datetime:
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """Parse a ``--since`` value into an aware UTC datetime; raise ValueError if it is not one."""
    value = text.strip().lower()
    current = now if now is not None else datetime.now(timezone.utc)
    if not value:
        raise ValueError("empty time")
    if value in ("today", "yesterday"):
        midnight = _local_midnight(current.astimezone())
        if value == "yesterday":
            midnight -= timedelta(days=1)
        return midnight.astimezone(timezone.utc)
    compact = value.replace(" ", "")
    pos, total = 0, 0.0
    while pos < len(compact):
        m = _DURATION_RE.match(compact, pos)
        if m is None:
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)[0]]
        pos = m.end()
    try:
        if pos == len(compact):
            # float() of a long digit string is inf, and timedelta/datetime refuse
            # anything beyond their range with OverflowError: both are "too far".
            return current - timedelta(seconds=total)
        parsed = _parse_datetime(text)
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(
            f"{_clip(text)!r} is too far back or ahead: times are from year 1 to 9999"
        ) from None


def _parse_datetime(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read {_clip(text)!r} as a time: use a duration such as 30m, 2h or 3d, "
            "'today', 'yesterday', a date such as 2026-11-01, or an ISO date and time"
        ) from None
    if parsed.tzinfo is None:
        try:
            parsed = parsed.astimezone()  # naive means local time, as people type it
        except ValueError as exc:  # "year 0 is out of range": local 0001-01-01 east of UTC
            raise OverflowError(str(exc)) from exc
    return parsed


def _clip(text: str, limit: int = 60) -> str:
    """`text` shortened for an error message (a 100 kB argument must not fill the screen)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
