"""The journal home: resolution, layout, permissions, and ids checked before any path is built."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import platformdirs
import pytest
from journal_helpers import BAD_IDS, BAD_PREFIXES, common_prefix, files_under

from p8j.journal import (
    Home,
    InvalidSessionIdError,
    JournalIOError,
    SessionManager,
    SessionNotFoundError,
    UnsafePathError,
    resolve_home,
)
from p8j.journal.store.fs import resolve_session_ref
from p8j.replay import load_session


@contextlib.contextmanager
def no_filesystem(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make every file-system call fail the test while the block runs."""

    def refuse(*args: Any, **kw: Any) -> Any:
        raise AssertionError(f"touched the file system: {args!r}")

    with monkeypatch.context() as m:
        for name in ("open", "stat", "lstat", "listdir", "scandir", "mkdir", "access"):
            m.setattr(os, name, refuse)
        yield


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P8J_HOME", str(tmp_path / "env"))
    assert resolve_home(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_home() == tmp_path / "env"
    monkeypatch.setenv("P8J_HOME", "~/j")
    assert resolve_home() == Path.home() / "j"
    monkeypatch.delenv("P8J_HOME")
    assert resolve_home() == platformdirs.user_data_path("p8j", appauthor=False)
    monkeypatch.setenv("P8J_HOME", "")
    assert resolve_home() == platformdirs.user_data_path("p8j", appauthor=False)


def test_manager_uses_p8j_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P8J_HOME", str(tmp_path / "env"))
    with SessionManager() as mgr:
        sid = mgr.start_session("p").session_id
    assert (tmp_path / "env" / "sessions" / f"{sid}.jsonl").is_file()
    assert load_session(sid).project_name == "p"


def test_layout_and_permissions_under_umask_000(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        home = Home(tmp_path / "deep" / "home")
        mgr = SessionManager(home)
        sid = mgr.start_session("p").session_id
        mgr.record_message({"role": "user", "content": "x"})
        mgr.pause_session()
        with open(home.log_path(sid), "ab") as f:
            f.write(b'{"torn')  # so resuming writes a torn-tail sidecar as well
        mgr.resume_session(sid)
        mgr.end_session()
        assert [s.session_id for s in mgr.list_sessions()] == [sid]  # writes the catalog
    finally:
        os.umask(old)
    made = files_under(home.path)
    assert {p.name for p in made} >= {"sessions", "locks", "torn", "cache", f"{sid}.jsonl"}
    assert any(p.parent == home.torn_dir for p in made)
    assert any(p.parent == home.cache_dir and p.is_file() for p in made)
    for p in [home.path, *made]:
        mode = stat.S_IMODE(os.lstat(p).st_mode)
        if p.is_dir():
            assert mode == 0o700, p
        else:
            assert mode == 0o600, p


def test_home_that_is_a_file_or_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UnsafePathError):
        Home(tmp_path / "file").ensure()
    real = Home(tmp_path / "real").ensure()
    os.symlink(real.sessions_dir, tmp_path / "sessions-link")
    os.rmdir(real.sessions_dir)
    os.symlink(tmp_path / "elsewhere", real.sessions_dir)
    with pytest.raises(UnsafePathError):
        real.ensure()


@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda b: repr(b)[:30])
def test_bad_ids_rejected_before_touching_a_path(
    bad: Any, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    mgr = SessionManager(home)
    with no_filesystem(monkeypatch):
        with pytest.raises(InvalidSessionIdError):
            home.log_path(bad)
        with pytest.raises(InvalidSessionIdError):
            home.lock_path(bad)
    if bad in BAD_PREFIXES:
        with no_filesystem(monkeypatch):
            with pytest.raises(InvalidSessionIdError):
                mgr.resume_session(bad)
            with pytest.raises(InvalidSessionIdError):
                load_session(bad, home)
            with pytest.raises(InvalidSessionIdError):
                resolve_session_ref(home, bad)
    assert not home.path.exists()


def test_session_ids_lists_only_well_named_logs(home: Home) -> None:
    mgr = SessionManager(home)
    sids = [mgr.start_session(f"p{i}").session_id for i in range(3)]
    mgr.close()
    for junk in ("notes.txt", "ABC.jsonl", ".jsonl", f"{sids[0]}.jsonl.tmp", "x.jsonl"):
        (home.sessions_dir / junk).write_text("")
    assert home.session_ids() == sids  # sorted = by start time


def test_resolve_session_ref(home: Home) -> None:
    with pytest.raises(SessionNotFoundError):
        resolve_session_ref(home, "latest")
    mgr = SessionManager(home)
    a = mgr.start_session("a").session_id
    b = mgr.start_session("b").session_id
    mgr.close()
    assert resolve_session_ref(home, "latest") == b
    assert resolve_session_ref(home, a) == a
    common = common_prefix(a, b)
    assert resolve_session_ref(home, a[: len(common) + 1]) == a
    with pytest.raises(SessionNotFoundError) as info:
        resolve_session_ref(home, common)
    assert info.value.candidates == [a, b]
    assert a in str(info.value) and b in str(info.value)
    with pytest.raises(SessionNotFoundError) as missing:
        resolve_session_ref(home, "ffff")
    assert missing.value.candidates == []
    assert "ffff" in str(missing.value)


def test_many_ambiguous_candidates_are_summarised(home: Home) -> None:
    home.ensure()
    for i in range(15):
        (home.sessions_dir / f"0000000{i:x}-0000-7000-8000-000000000000.jsonl").write_text("")
    with pytest.raises(SessionNotFoundError) as info:
        resolve_session_ref(home, "0000000")
    assert len(info.value.candidates) == 15
    assert "and 5 more" in str(info.value)


# -- one rule for reading too: an unsafe home is refused, a missing one is empty --------------


def _unsafe(kind: str, home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """`home` (with a session) made unsafe in way `kind`; the Home to read it through."""
    if kind == "symlink":
        link = tmp_path / "link"
        link.symlink_to(home.path)
        return Home(link)
    if kind == "sessions-symlink":
        moved = tmp_path / "moved-sessions"
        os.rename(home.sessions_dir, moved)
        home.sessions_dir.symlink_to(moved)
    elif kind == "foreign":
        me = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: me + 4242)  # as if another user read it
    else:
        os.chmod(home.path, {"world-writable": 0o757, "group-writable": 0o770}[kind])
    return home


UNSAFE = ["symlink", "world-writable", "group-writable", "foreign", "sessions-symlink"]


@pytest.mark.parametrize("kind", UNSAFE)
def test_every_read_path_refuses_an_unsafe_home(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    from p8j.journal.cache import list_summaries
    from p8j.replay import journal_info, list_sessions, load_session_with_report

    # Not `from p8j.replay import search`: once the submodule is imported, that name is it.
    from p8j.replay.search import search

    with SessionManager(home) as mgr:
        sid = mgr.start_session("p").session_id
        mgr.record_message({"role": "user", "content": "hello"})
    shutil.rmtree(home.cache_dir)
    target = _unsafe(kind, home, tmp_path, monkeypatch)
    reads: list[Callable[[], object]] = [
        target.session_ids,
        lambda: resolve_session_ref(target, sid),
        lambda: resolve_session_ref(target, sid[:8]),
        lambda: resolve_session_ref(target, "latest"),
        lambda: list_summaries(target),
        lambda: list_sessions(target),
        lambda: load_session(sid, target),
        lambda: load_session_with_report(sid, target, upto_seq=1),
        lambda: journal_info(target),
        lambda: search(target, re.compile("hello")),
    ]
    for read in reads:
        with pytest.raises(UnsafePathError) as info:
            read()
        where = target.sessions_dir if kind == "sessions-symlink" else target.path
        assert info.value.path == str(where), read
    assert not home.cache_dir.exists()  # nothing was written (no catalog, no snapshot)


def test_a_home_that_does_not_exist_reads_as_empty(home: Home) -> None:
    from p8j.journal.cache import list_summaries
    from p8j.replay import journal_info, list_sessions

    assert home.session_ids() == []
    assert list_summaries(home) == []
    assert list_sessions(home) == []
    assert not journal_info(home).exists
    with pytest.raises(SessionNotFoundError):
        resolve_session_ref(home, "latest")
    assert not home.path.exists()


# -- directory descriptors: open_dir, replace_file ----------------------------------------------


@pytest.mark.parametrize("linked", ["cache", "cache/snapshots"])
def test_open_dir_and_replace_file_never_go_through_a_symlink(
    home: Home, tmp_path: Path, linked: str
) -> None:
    home.ensure()
    (home.cache_dir / "snapshots").mkdir(mode=0o700)
    outside = tmp_path / "outside"
    os.rename(home.path / linked, outside)
    (home.path / linked).symlink_to(outside)
    with pytest.raises(UnsafePathError) as info:
        home.open_dir("cache/snapshots")
    assert info.value.path == str(home.path / linked)
    with pytest.raises(UnsafePathError):
        home.replace_file("cache/snapshots", "x.snap", b"data")
    with pytest.raises(UnsafePathError):
        home.open_file("cache/snapshots", "x.snap", os.O_RDONLY)
    assert files_under(outside) == ([] if linked == "cache/snapshots" else [outside / "snapshots"])


def test_replace_file_creates_private_directories_and_leaves_no_temp(home: Home) -> None:
    home.ensure()
    shutil.rmtree(home.cache_dir)
    old = os.umask(0)
    try:
        home.replace_file("cache/snapshots", "a.snap", [b"one", b"two"])
        home.replace_file("cache/snapshots", "a.snap", b"three")
    finally:
        os.umask(old)
    target = home.cache_dir / "snapshots" / "a.snap"
    assert target.read_bytes() == b"three"
    assert os.listdir(target.parent) == ["a.snap"]
    for p in (home.cache_dir, target.parent, target):
        assert stat.S_IMODE(os.lstat(p).st_mode) == (0o600 if p == target else 0o700)
    fd = home.open_dir("cache/snapshots")
    try:
        assert os.listdir(fd) == ["a.snap"]
    finally:
        os.close(fd)


def test_replace_file_never_creates_the_home(home: Home) -> None:
    with pytest.raises(JournalIOError):
        home.replace_file("cache", "catalog.msgpack", b"x")
    assert not home.path.exists()


def test_an_unsafe_cache_never_stops_a_session(home: Home, tmp_path: Path) -> None:
    home.ensure()
    outside = tmp_path / "outside"
    os.rename(home.cache_dir, outside)
    home.cache_dir.symlink_to(outside)
    home.ensure()  # the cache is derived: left alone, not refused
    home.check()
    with SessionManager(home) as mgr:
        sid = mgr.start_session("p").session_id
        mgr.end_session()
        assert [s.session_id for s in mgr.list_sessions()] == [sid]
    assert load_session(sid, home).status == "completed"
    assert list(outside.iterdir()) == []
