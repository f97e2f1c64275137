"""Choosing a store: an explicit argument, else ``$P8J_STORE``, else the file store at the home.

Contract (`open_store`):
- `store` may be a store object (returned as is), or a string: ``file:///path``
  or a plain path (a `FileStore` there), or ``memory:`` (a new, empty
  `MemoryStore`). When it is None, ``$P8J_STORE`` (if set and not empty) is
  read the same way; else the `FileStore` at `home` (which itself resolves
  ``$P8J_HOME`` and the platform's data dir, see layout.py).
- ``nats://host:port[?stream=NAME&...]`` (or ``tls://``) is a `NatsStore`
  (store/nats, options in its config.py); it needs the extra ``p8j[nats]``
  (nats-py): without it, `StoreConfigError` says to install it. Every other
  scheme raises `StoreConfigError` naming the value and where it came from.
  Nothing is created or touched by choosing (a NATS store connects on first use);
  `check_store` only validates (the CLI's --store, a usage error when bad).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from ..errors import StoreConfigError
from .base import SessionStore
from .fs.layout import Home, check_home_arg
from .fs.store import FileStore

__all__ = ["ENV_VAR", "as_store", "check_store", "file_store", "open_store"]

ENV_VAR = "P8J_STORE"


def _factory(value: str, source: str) -> Callable[[], SessionStore]:
    """What opens the store `value` names; StoreConfigError (before anything opens) if none."""
    if value == "memory:" or value.startswith("memory:"):
        if value not in ("memory:", "memory://"):
            raise StoreConfigError(f"{source}: a memory store takes no location: {value!r}")
        from .memory import MemoryStore

        return MemoryStore
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise StoreConfigError(f"{source}: a file:// URL names no remote host: {value!r}")
        if not parts.path:
            raise StoreConfigError(f"{source}: a file:// URL needs a path: {value!r}")
        path = unquote(parts.path)
        return lambda: FileStore(path)
    if scheme in ("nats", "tls") and "://" in value:
        return _nats(value, source)
    if "://" in value or (scheme and len(scheme) > 1 and value.startswith(scheme + ":")):
        raise StoreConfigError(
            f"{source}: unknown store {value!r}: expected a path, file:///path or "
            "nats://host:4222 (or memory:, in a program)"
        )
    if not value.strip():
        raise StoreConfigError(f"{source}: empty store location")
    return lambda: FileStore(value)


def _from_string(value: str, source: str) -> SessionStore:
    return _factory(value, source)()


def check_store(value: str, source: str = "store") -> None:
    """Raise `StoreConfigError` if `value` names no store; nothing is opened or created."""
    _factory(value, source)


def _nats(value: str, source: str) -> Callable[[], SessionStore]:
    try:
        import nats  # noqa: F401  (the optional extra)
    except ImportError as exc:
        raise StoreConfigError(
            f"{source}: {value!r} names a NATS JetStream store, which needs nats-py: "
            "pip install 'p8j[nats]'"
        ) from exc
    from .nats.config import NatsConfig
    from .nats.store import NatsStore

    config = NatsConfig.parse(value, source)
    return lambda: NatsStore(config)


def open_store(
    store: SessionStore | str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | Home | None = None,
) -> SessionStore:
    """The store: `store` (object, URL or path) > ``$P8J_STORE`` > the file store at `home`."""
    if store is not None and not isinstance(store, (str, os.PathLike)):
        return store
    if store is not None:
        return _from_string(os.fspath(store), "store")
    env = os.environ.get(ENV_VAR)
    if env:
        return _from_string(env, ENV_VAR)
    return FileStore(home)


def as_store(where: SessionStore | Home | str | os.PathLike[str] | None = None) -> SessionStore:
    """The store `where` names: a store, a home, a URL or path; None: the default home's files."""
    if where is None or isinstance(where, Home):
        return FileStore(where)
    if isinstance(where, (str, os.PathLike)):
        return _from_string(os.fspath(where), "store")
    return where


def file_store(home: str | os.PathLike[str] | Home | None = None) -> FileStore:
    """The file store at `home` (None: the default home); InvalidTypeError for anything else."""
    check_home_arg(home)
    return FileStore(home)
