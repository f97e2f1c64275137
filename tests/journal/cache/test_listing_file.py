"""The kept listing's file (listing_file.py): the id prefix it keeps, its validity marks."""

from __future__ import annotations

import os
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from p8j.cli.ls import short_ids
from p8j.journal import Home
from p8j.journal.cache.listing_file import SETTLED_NS, catalog_ino, dir_mark, distinct_prefix


def _brute(ids: list[str], minimum: int) -> int:
    distinct = set(ids)
    length = minimum
    while len({i[:length] for i in distinct}) < len(distinct):
        length += 1
    return length


@given(ids=st.lists(st.text(alphabet="ab01", max_size=6)), minimum=st.integers(1, 8))
def test_distinct_prefix_is_what_the_table_cuts_ids_to(ids: list[str], minimum: int) -> None:
    """The table's id width is kept once per listing: the same as from every id, at any minimum."""
    assert (
        max(minimum, distinct_prefix(ids)) == distinct_prefix(ids, minimum) == _brute(ids, minimum)
    )
    assert short_ids(ids, minimum) == distinct_prefix(ids, minimum)


def test_a_directory_is_settled_only_long_after_its_last_change(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    assert dir_mark(home) is None  # no sessions directory: nothing to keep a listing of
    home.ensure()
    fresh = dir_mark(home)
    assert fresh is not None and not fresh.settled
    old = time.time_ns() - SETTLED_NS - 1_000_000
    os.utime(home.sessions_dir, ns=(old, old))
    mark = dir_mark(home)
    assert mark is not None and mark.settled and mark.mtime_ns == old
    st = os.stat(home.sessions_dir)
    assert (mark.dev, mark.ino) == (st.st_dev, st.st_ino)


def test_the_catalog_inode_is_zero_without_a_catalog(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").ensure()
    assert catalog_ino(home) == 0
    (home.cache_dir / "catalog.msgpack").write_bytes(b"x")
    assert catalog_ino(home) == os.stat(home.cache_dir / "catalog.msgpack").st_ino
