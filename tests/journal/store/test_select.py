"""open_store: explicit argument > P8J_STORE > the file store at the home; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from p8j.journal.errors import P8jError, StoreConfigError
from p8j.journal.store import FileStore, MemoryStore, open_store


def test_default_is_the_file_store_at_the_home(tmp_path: Path) -> None:
    store = open_store(home=tmp_path / "h")
    assert isinstance(store, FileStore)
    assert store.home.path == tmp_path / "h"
    assert not (tmp_path / "h").exists()  # choosing creates nothing


def test_default_follows_p8j_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P8J_HOME", str(tmp_path / "env-home"))
    store = open_store()
    assert isinstance(store, FileStore) and store.home.path == tmp_path / "env-home"


def test_environment_over_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P8J_STORE", "memory:")
    assert isinstance(open_store(home=tmp_path), MemoryStore)
    monkeypatch.setenv("P8J_STORE", (tmp_path / "x").as_uri())
    store = open_store(home=tmp_path / "ignored")
    assert isinstance(store, FileStore) and store.home.path == tmp_path / "x"


def test_explicit_over_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P8J_STORE", "memory:")
    mine = MemoryStore()
    assert open_store(mine) is mine
    by_path = open_store(tmp_path / "p")
    assert isinstance(by_path, FileStore) and by_path.home.path == tmp_path / "p"
    by_str = open_store(str(tmp_path / "q"))
    assert isinstance(by_str, FileStore) and by_str.home.path == tmp_path / "q"


def test_url_round_trips(tmp_path: Path) -> None:
    store = open_store(tmp_path / "with space")
    again = open_store(store.url)
    assert isinstance(again, FileStore) and again.home.path == tmp_path / "with space"
    assert isinstance(open_store(MemoryStore().url), MemoryStore)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("nats://localhost:4222?colour=red", "unknown option"),
        ("nats://localhost:4222/path", "no path"),
        ("s3://bucket/x", "unknown store"),
        ("redis:x", "unknown store"),
        ("file://otherhost/x", "remote host"),
        ("memory:somewhere", "no location"),
    ],
)
def test_unknown_schemes_are_clear_errors(
    value: str, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(StoreConfigError, match=words) as info:
        open_store(value)
    assert issubclass(info.type, P8jError) and value in str(info.value)
    monkeypatch.setenv("P8J_STORE", value)
    with pytest.raises(StoreConfigError, match="P8J_STORE"):
        open_store()
