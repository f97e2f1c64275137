"""Redaction configuration: ``<home>/redact.json``, the ``P8J_REDACT`` switch, the home's redactor.

Contract:
- ``<home>/redact.json`` is optional; owner-only (never group- or
  world-writable), never read through a symlink, at most 1 MiB; read when a
  `SessionManager` or `p8j scan`/`p8j redact` starts::

      {
        "rules": [{"id": "acme-token", "pattern": "acme_[0-9a-f]{32}", "keywords": ["acme_"]}],
        "allow": ["tok_fixture_for_tests_only"],
        "allow_patterns": ["^sk-test-fixture-"],
        "disable": ["generic-secret"]
      }

  ``rules`` add patterns (a group named ``secret`` limits what is replaced;
  ``keywords`` are literals at least one of which every match contains, used as
  the prefilter; without keywords the pattern runs on every text; set
  ``"ignore_case": true`` to compare keywords case-insensitively). User
  patterns run as written: keep them linear. ``allow`` lists exact secrets
  never to redact, ``allow_patterns`` regular expressions a whole secret may
  match to be kept, ``disable`` built-in rule ids to turn off.
- A config that does not decode or validate raises `RedactConfigError` naming
  the file (and the rule); an unsafe one `UnsafePathError`. Nothing is written
  before that.
- `default_redactor(home)` is the built-in rules plus the home's config,
  cached by the file's inode, mtime and size.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

import msgspec

from ..errors import JournalIOError, RedactConfigError, UnsafePathError
from .engine import Redactor
from .rules import BUILTIN_RULE_IDS

__all__ = [
    "CONFIG_NAME",
    "ENV_VAR",
    "RedactConfig",
    "UserRule",
    "default_redactor",
    "load_config",
    "redaction_enabled",
]

ENV_VAR = "P8J_REDACT"
CONFIG_NAME = "redact.json"
_CONFIG_MAX_BYTES = 1 << 20
_ID_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def redaction_enabled(env: Mapping[str, str] | None = None) -> bool:
    """False if ``P8J_REDACT`` is set to 0/false/no/off, else True."""
    value = (os.environ if env is None else env).get(ENV_VAR, "")
    return value.strip().lower() not in ("0", "false", "no", "off")


class UserRule(msgspec.Struct, forbid_unknown_fields=True):
    """A pattern a user adds in redact.json."""

    id: str
    pattern: str
    keywords: list[str] = []
    ignore_case: bool = False


class RedactConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The contents of ``<home>/redact.json``."""

    rules: list[UserRule] = []
    allow: list[str] = []
    allow_patterns: list[str] = []
    disable: list[str] = []


_CONFIG_DECODER = msgspec.json.Decoder(RedactConfig)


def load_config(home_path: str | os.PathLike[str]) -> RedactConfig:
    """Read ``<home>/redact.json`` (owner-only, never through a symlink); defaults if absent."""
    path = Path(home_path) / CONFIG_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return RedactConfig()
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            raise UnsafePathError(
                "refusing to read a symlinked redaction config", path=path
            ) from exc
        raise RedactConfigError(f"cannot open: {exc.strerror}", path=path) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError("the redaction config is not a regular file", path=path)
        if st.st_uid != os.geteuid():
            raise UnsafePathError("the redaction config is owned by another user", path=path)
        if st.st_mode & 0o022:
            raise UnsafePathError(
                f"the redaction config is group- or world-writable (mode {st.st_mode & 0o777:o}); "
                f"run: chmod 600 {path}",
                path=path,
            )
        if st.st_size > _CONFIG_MAX_BYTES:
            raise RedactConfigError(f"larger than {_CONFIG_MAX_BYTES} bytes", path=path)
        data = os.read(fd, _CONFIG_MAX_BYTES + 1)
    except OSError as exc:
        raise RedactConfigError(f"cannot read: {exc.strerror}", path=path) from exc
    finally:
        os.close(fd)
    try:
        config = _CONFIG_DECODER.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise RedactConfigError(f"invalid: {exc}", path=path) from exc
    _validate(config, path)
    return config


def _validate(config: RedactConfig, path: Path) -> None:
    for i, r in enumerate(config.rules):
        if not _ID_RE.fullmatch(r.id):
            raise RedactConfigError(
                f"rules[{i}].id {r.id!r} must be lower-case letters, digits, '.', '_' or '-'",
                path=path,
            )
        try:
            compiled = re.compile(r.pattern)
        except re.error as exc:
            raise RedactConfigError(f"rules[{i}] ({r.id}): bad pattern: {exc}", path=path) from exc
        if compiled.fullmatch(""):
            raise RedactConfigError(
                f"rules[{i}] ({r.id}): the pattern matches the empty string", path=path
            )
        if any(not k for k in r.keywords):
            raise RedactConfigError(f"rules[{i}] ({r.id}): an empty keyword", path=path)
    for i, p in enumerate(config.allow_patterns):
        try:
            re.compile(p)
        except re.error as exc:
            raise RedactConfigError(f"allow_patterns[{i}]: bad pattern: {exc}", path=path) from exc
    unknown = sorted(set(config.disable) - set(BUILTIN_RULE_IDS))
    if unknown:
        raise RedactConfigError(
            f"disable names unknown rule ids {unknown}; built-in ids: {list(BUILTIN_RULE_IDS)}",
            path=path,
        )


_DEFAULT: Redactor | None = None
_CACHE: dict[tuple[str, int, int, int], Redactor] = {}


def default_redactor(home_path: str | os.PathLike[str] | None = None) -> Redactor:
    """The redactor for a journal home: built-in rules plus its redact.json, cached by mtime."""
    global _DEFAULT
    if home_path is not None:
        path = Path(home_path) / CONFIG_NAME
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno != errno.ENOTDIR:  # no home yet: the writer reports that
                raise JournalIOError(f"cannot stat: {exc.strerror}", path=path) from exc
        else:
            key = (str(path), st.st_ino, st.st_mtime_ns, st.st_size)
            cached = _CACHE.get(key)
            if cached is None:
                cached = Redactor.from_config(load_config(home_path))
                _CACHE.clear()
                _CACHE[key] = cached
            return cached
    if _DEFAULT is None:
        _DEFAULT = Redactor()
    return _DEFAULT
