"""Facts about a journal home: where it is, how many sessions in which state, disk used.

Contract: `journal_info` never creates or writes anything (the catalog cache
aside, which listing refreshes); a missing home is reported with
``exists=False`` and zero counts, an unsafe one is refused (`Home.check`, as
every command does). Sizes are apparent file sizes in bytes; a directory that
is a symlink counts as empty (p8j never follows one in its home).
``index`` is the full-text index's size and freshness (None when there is
none): how many sessions it covers, how many logs grew or appeared since, and
how many log bytes it has not read yet.

Any store works (a `Home` means its file store): the sessions, states and
log bytes come from the listing through the store seam. The disk facts
(cache, torn files, the index) are the file store's (`HomeStore`); for any
other store ``home`` is the store's URL, and they are zero or None.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import msgspec

from p8j.journal.cache.search_index import IndexStatus, index_status
from p8j.journal.store.base import is_home_store
from p8j.journal.store.select import as_store

from .listing import Where, list_sessions

__all__ = ["JournalInfo", "journal_info"]


class JournalInfo(msgspec.Struct, kw_only=True):
    """What `p8j info` reports."""

    home: str
    exists: bool
    sessions: int
    states: dict[str, int]
    sessions_with_problems: int
    log_bytes: int
    cache_bytes: int
    torn_files: int
    torn_bytes: int
    oldest: str | None
    newest: str | None
    index: IndexStatus | None = None  # the full-text search index; None: there is none


def _tree_size(path: Path) -> tuple[int, int]:
    """(files, bytes) under `path`, not following symlinks (`path` itself included)."""
    files = total = 0
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            return 0, 0
    except OSError:
        return 0, 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            files += 1
            total += st.st_size
    return files, total


def journal_info(home: Where) -> JournalInfo:
    """Count the sessions of a store by state and measure its disk use (a home's)."""
    store = as_store(home)
    files = store.home if is_home_store(store) else None
    if files is not None:
        files.check()
    if files is not None and not files.path.is_dir():
        return JournalInfo(
            home=str(files.path),
            exists=False,
            sessions=0,
            states={},
            sessions_with_problems=0,
            log_bytes=0,
            cache_bytes=0,
            torn_files=0,
            torn_bytes=0,
            oldest=None,
            newest=None,
        )
    rows = list_sessions(store)
    states: dict[str, int] = {}
    for row in rows:
        states[row.state] = states.get(row.state, 0) + 1
    torn_files = torn_bytes = cache_bytes = 0
    index = None
    if files is not None:
        torn_files, torn_bytes = _tree_size(files.torn_dir)
        cache_bytes = _tree_size(files.cache_dir)[1]
        status = index_status(files)
        index = status if status.exists else None
    return JournalInfo(
        home=str(files.path) if files is not None else store.url,
        exists=True,
        sessions=len(rows),
        states=dict(sorted(states.items())),
        sessions_with_problems=sum(1 for r in rows if r.problems),
        log_bytes=sum(r.size_bytes for r in rows),
        cache_bytes=cache_bytes,
        torn_files=torn_files,
        torn_bytes=torn_bytes,
        oldest=rows[-1].start_time if rows else None,
        newest=rows[0].start_time if rows else None,
        index=index,
    )
