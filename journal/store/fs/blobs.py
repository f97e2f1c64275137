"""Content-addressed blobs: payloads too large for one log line, stored once beside the logs.

Contract:
- Layout: ``<home>/blobs/<sha256>``, 64 lowercase hex digits naming the SHA-256 of
  the file's bytes; 0600 files in the 0700 blobs directory. Identical payloads
  share one file (stored once, whichever session wrote them).
- Writing (`BlobStore.put`): the bytes go to a temporary file (``O_EXCL``,
  ``O_NOFOLLOW``), are fsynced, renamed into place, and the directory is
  fsynced, all before the event that refers to the blob is appended. So no
  event, durable or not, ever refers to a blob that a crash can lose, and a
  ``kill -9`` leaves at worst an orphaned ``.tmp-*`` file, never a torn record
  (the event itself is a short line). Temp files carry their writer's pid and
  are swept once it is gone, before a store's first write (see tempfiles.py).
  An existing blob is reused only if its bytes still hash to its name; a
  damaged one is rewritten.
- Offloading (`offload`): inside an event's payload (message content and
  extra, a command, an execution's output), every string larger than the
  threshold (default 256 KiB of UTF-8) becomes a `BlobRef` in the event's
  ``blobs`` list and a short placeholder string (``[p8j-blob sha256:... N bytes
  TYPE]``) in its place, so the line stays valid JSON that grep and jq can read.
  Base64 image data (``{"type": "base64", "media_type": ..., "data": ...}``) and
  ``data:`` URLs are stored as their decoded bytes with their media type. If a
  message is still larger than the record cap, its whole content is stored as
  one JSON blob.
- Resolving (`resolve`): readers put the values back transparently. A missing
  blob, or one whose bytes no longer match its hash, leaves the placeholder in
  place and is reported as a `BlobProblem`; it is never fatal.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import msgspec

from ...errors import BlobMissingError, InvalidEventError, JournalIOError, P8jError, UnsafePathError
from ...events import (
    BlobRef,
    CommandRecorded,
    ExecutionRecorded,
    MessageRecorded,
    RecordImported,
    SessionCompacted,
)
from ...jsontree import Path as TreePath
from ...jsontree import TreeRewriter
from . import tempfiles
from .layout import check_dir, check_file
from .syscalls import REAL, Storage, write_all

__all__ = [
    "BLOB_FIELDS",
    "DEFAULT_BLOB_THRESHOLD",
    "BlobMissingError",
    "BlobProblem",
    "BlobStore",
    "missing_blob_hashes",
    "offload",
    "offload_content",
    "offload_event",
    "offload_whole",
    "placeholder",
    "resolve",
]


def _sha256(data: bytes) -> str:
    """The hex SHA-256 of `data`."""
    # hashlib (OpenSSL) loads on first use: `p8j ls` imports this module, hashes nothing.
    from hashlib import sha256

    return sha256(data).hexdigest()


DEFAULT_BLOB_THRESHOLD = 256 * 1024
TEXT = "text/plain; charset=utf-8"
_HASH_RE = re.compile(r"[0-9a-f]{64}")
_DATA_URL_RE = re.compile(r"data:([\w.+-]+/[\w.+-]+)(?:;[\w.+-]+=[\w.+-]+)*;base64,")
_CHUNK = 1 << 20


class BlobProblem(msgspec.Struct, frozen=True):
    """A blob a reader could not put back: missing, unreadable, or not matching its hash."""

    kind: Literal["missing-blob", "bad-blob"]
    sha256: str
    message: str


def missing_blob_hashes(issues: Iterable[Any]) -> list[str]:
    """SHA-256 names (once each) of the blobs that read `issues` say could not be put back."""
    # missing-blob / bad-blob issues name the blob's file, whose name is its SHA-256.
    found: dict[str, None] = {}
    for issue in issues:
        if issue.kind in ("missing-blob", "bad-blob"):
            match = _HASH_RE.search(issue.message)
            if match is not None:
                found[match.group()] = None
    return list(found)


def placeholder(ref: BlobRef) -> str:
    """The short string that stands in the log for a value stored as blob `ref`."""
    return f"[p8j-blob sha256:{ref.sha256} {ref.size} bytes {ref.media_type}]"


class BlobStore:
    """The blobs directory of one journal home."""

    def __init__(self, directory: str | os.PathLike[str], *, storage: Storage | None = None):
        self.directory = Path(directory)
        self._os = storage if storage is not None else REAL
        self._swept = False

    def path(self, sha256: str) -> Path:
        """Where the blob named `sha256` lives (the name is validated first)."""
        if not _HASH_RE.fullmatch(sha256):
            raise InvalidEventError(f"not a blob name (64 lower-case hex digits): {sha256!r}")
        return self.directory / sha256

    # -- writing --------------------------------------------------------------------------

    def _dir_fd(self, create: bool) -> int:
        if create:
            try:
                os.mkdir(self.directory, 0o700)
                os.chmod(self.directory, 0o700)
            except FileExistsError:
                pass
            except OSError as exc:
                raise JournalIOError(
                    f"cannot create the blobs directory: {exc.strerror}", path=self.directory
                ) from exc
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.directory, flags)
        except FileNotFoundError:
            raise
        except OSError as exc:
            if exc.errno in (40, 20):  # ELOOP, ENOTDIR
                raise UnsafePathError(
                    "the blobs directory is not a directory (a symlink or a file)",
                    path=self.directory,
                ) from exc
            raise JournalIOError(f"cannot open: {exc.strerror}", path=self.directory) from exc
        try:
            check_dir(self.directory, os.fstat(fd))
        except BaseException:
            os.close(fd)
            raise
        return fd

    def put(self, data: bytes) -> str:
        """Store `data` durably (fsynced, renamed, directory fsynced); return its SHA-256."""
        digest = _sha256(data)
        dfd = self._dir_fd(create=True)
        try:
            if not self._swept:  # once per store: what writers killed mid-blob left
                self._swept = True
                tempfiles.sweep(dfd, self._os)
            if self._intact(dfd, digest, len(data)):
                return digest
            self._write_new(dfd, digest, data)
        finally:
            os.close(dfd)
        return digest

    def sweep_temp(self) -> list[str]:
        """Remove temp files left by writers that died mid-blob; return their names."""
        try:
            dfd = self._dir_fd(create=False)
        except FileNotFoundError:
            return []
        try:
            return tempfiles.sweep(dfd, self._os)
        finally:
            os.close(dfd)

    def _intact(self, dfd: int, digest: str, size: int) -> bool:
        """True if blob `digest` exists, is safe, and its bytes hash to its name."""
        try:
            data = self._read_at(dfd, digest)
        except FileNotFoundError:
            return False
        except P8jError:
            return False
        return len(data) == size and _sha256(data) == digest

    def _write_new(self, dfd: int, digest: str, data: bytes) -> None:
        tmp = tempfiles.temp_name(digest)
        with tempfiles.writing(tmp):  # a sweep in this process leaves it alone
            self._write_temp(dfd, tmp, digest, data)

    def _write_temp(self, dfd: int, tmp: str, digest: str, data: bytes) -> None:
        st_os = self._os
        try:
            fd = st_os.open(
                tmp,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=dfd,
            )
        except OSError as exc:
            raise JournalIOError(
                f"cannot create a blob: {exc.strerror}", path=self.directory / tmp
            ) from exc
        done = False
        try:
            try:
                tempfiles.lock(fd)  # held until close; the kernel drops it if we die
                os.fchmod(fd, 0o600)
                write_all(st_os, fd, data)
                st_os.fsync(fd)
            finally:
                st_os.close(fd)
            st_os.replace(tmp, digest, src_dir_fd=dfd, dst_dir_fd=dfd)
            done = True
            st_os.fsync_dir(self.directory)
        except OSError as exc:
            raise JournalIOError(
                f"cannot write blob {digest[:12]}: {exc.strerror or exc}", path=self.directory
            ) from exc
        finally:
            if not done:
                with contextlib.suppress(OSError):
                    st_os.unlink(tmp, dir_fd=dfd)

    # -- reading --------------------------------------------------------------------------

    def _read_at(self, dfd: int, digest: str) -> bytes:
        path = self.directory / digest
        try:
            fd = os.open(
                digest, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dfd
            )
        except FileNotFoundError:
            raise
        except OSError as exc:
            if exc.errno == 40:  # ELOOP
                raise UnsafePathError("the blob is a symlink", path=path) from exc
            raise JournalIOError(f"cannot open: {exc.strerror}", path=path) from exc
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                check_file(path, st)
            parts = []
            while True:
                chunk = os.read(fd, _CHUNK)
                if not chunk:
                    break
                parts.append(chunk)
            return b"".join(parts)
        except OSError as exc:
            raise JournalIOError(f"cannot read: {exc.strerror}", path=path) from exc
        finally:
            os.close(fd)

    def get(self, sha256: str, size: int | None = None) -> bytes:
        """The blob's bytes, checked against its hash (and `size`); P8jError if that fails."""
        path = self.path(sha256)
        try:
            dfd = self._dir_fd(create=False)
        except FileNotFoundError as exc:
            raise BlobMissingError("missing blob: there is no blobs directory", path=path) from exc
        try:
            data = self._read_at(dfd, sha256)
        except FileNotFoundError as exc:
            raise BlobMissingError("missing blob", path=path) from exc
        finally:
            os.close(dfd)
        if size is not None and len(data) != size:
            raise JournalIOError(f"blob is {len(data)} bytes; the event says {size}", path=path)
        if _sha256(data) != sha256:
            raise JournalIOError("blob bytes do not match its SHA-256 name", path=path)
        return data

    def check(self, ref: BlobRef) -> BlobProblem | None:
        """None if the blob `ref` names is present and intact, else what is wrong."""
        try:
            self.get(ref.sha256, ref.size)
        except BlobMissingError as exc:
            return BlobProblem("missing-blob", ref.sha256, str(exc))
        except P8jError as exc:
            return BlobProblem("bad-blob", ref.sha256, str(exc))
        return None


# -- offloading ---------------------------------------------------------------------------


def _utf8(s: str) -> bytes:
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidEventError(f"cannot store a string as UTF-8: {exc}") from exc


def _canonical_b64(s: str) -> bytes | None:
    """The bytes `s` encodes, if `s` is canonical base64 (so re-encoding gives `s` back)."""
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == s else None


class _Offloader(TreeRewriter):
    def __init__(self, store: BlobStore, threshold: int) -> None:
        self.store = store
        self.threshold = threshold
        # A string of n characters takes at most 4n bytes of UTF-8.
        self.min_chars = threshold // 4
        self.refs: list[BlobRef] = []

    def _ref(self, path: TreePath, data: bytes, media: str, encoding: str, prefix: str) -> str:
        assert path is not None
        digest = self.store.put(data)
        ref = BlobRef(list(path), digest, len(data), media, encoding, prefix)
        self.refs.append(ref)
        return placeholder(ref)

    def string(self, s: str, path: TreePath, media: str | None = None) -> str:
        if len(s) <= self.min_chars:
            return s
        if media is not None:
            raw = _canonical_b64(s)
            if raw is not None and len(s) > self.threshold:
                return self._ref(path, raw, media, "base64", "")
        m = _DATA_URL_RE.match(s, 0, 256)
        if m is not None and len(s) > self.threshold:
            raw = _canonical_b64(s[m.end() :])
            if raw is not None:
                return self._ref(path, raw, m.group(1), "base64", s[: m.end()])
        data = _utf8(s)
        if len(data) <= self.threshold:
            return s
        return self._ref(path, data, TEXT, "utf-8", "")

    def entry(self, d: dict[Any, Any], k: Any, item: Any, path: TreePath) -> Any:
        if not isinstance(k, str):
            return item
        if isinstance(item, str) and k == "data" and d.get("type") == "base64":
            media = d.get("media_type")
            if isinstance(media, str):
                return self.string(item, path, media)
        return self.value(item, path)

    def whole_json(self, v: Any, path: tuple[str]) -> str:
        try:
            data = msgspec.json.encode(v)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidEventError(f"cannot encode {path[0]}: {exc}") from exc
        return self._ref(path, data, "application/json", "json", "")


def offload(
    fields: dict[str, Any], store: BlobStore, threshold: int = DEFAULT_BLOB_THRESHOLD
) -> tuple[dict[str, Any], list[BlobRef]]:
    """Move strings over `threshold` bytes inside `fields` (name -> value) into blobs.

    Returns the fields with placeholders and the refs (empty if nothing moved).
    """
    off = _Offloader(store, threshold)
    out = {name: off.value(value, (name,)) for name, value in fields.items()}
    return out, off.refs


def offload_whole(name: str, value: Any, store: BlobStore) -> tuple[str, BlobRef]:
    """Store a whole value as one JSON blob; return its placeholder and ref."""
    off = _Offloader(store, 0)
    text = off.whole_json(value, (name,))
    return text, off.refs[0]


# Payload fields a blob may hold, per event type (everything else stays under the cap).
# Imported events (see events.py) may also hold large values in ``origin.rest``
# (offloaded under the path ``["origin", "rest", ...]``).
BLOB_FIELDS: dict[type[Any], tuple[str, ...]] = {
    MessageRecorded: ("content", "extra"),
    CommandRecorded: ("command", "input"),
    ExecutionRecorded: ("command", "output", "stderr", "result"),
    SessionCompacted: ("summary", "replacement"),
    RecordImported: ("record",),
}


def offload_event(event: Any, store: BlobStore, threshold: int) -> Any:
    """`event` with payload strings over `threshold` moved into blobs (see `offload`)."""
    fields = {
        name: value
        for name in BLOB_FIELDS.get(type(event), ())
        if (value := getattr(event, name)) is not msgspec.UNSET
    }
    new, refs = offload(fields, store, threshold)
    origin: Any = getattr(event, "origin", None)
    rest = getattr(origin, "rest", msgspec.UNSET)
    if rest is not msgspec.UNSET:
        off = _Offloader(store, threshold)
        moved = off.value(rest, ("origin", "rest"))
        if off.refs:
            new["origin"] = msgspec.structs.replace(origin, rest=moved)
            refs += off.refs
    if not refs:
        return event
    return msgspec.structs.replace(event, **new, blobs=[*event.blobs, *refs])


def offload_content(event: MessageRecorded, store: BlobStore) -> MessageRecorded:
    """A message whose whole content (as JSON) lives in one blob: for content over the cap."""
    text, ref = offload_whole("content", event.content, store)
    refs = [r for r in event.blobs if r.path[0] != "content"]
    return msgspec.structs.replace(event, content=text, blobs=[*refs, ref])


# -- resolving ----------------------------------------------------------------------------

_JSON = msgspec.json.Decoder()


def _restore(ref: BlobRef, data: bytes) -> Any:
    if ref.encoding == "utf-8":
        return data.decode("utf-8")
    if ref.encoding == "base64":
        return ref.prefix + base64.b64encode(data).decode("ascii")
    if ref.encoding == "json":
        return _JSON.decode(data)
    raise InvalidEventError(f"unknown blob encoding {ref.encoding!r}")


def _set(container: Any, path: list[str | int], value: Any) -> Any:
    """A copy of `container` with `value` at `path` (copies only along the path)."""
    if not path:
        return value
    key, rest = path[0], path[1:]
    if isinstance(container, msgspec.Struct) and isinstance(key, str):
        # An imported event's `origin` (its ``rest`` holds the rest of the source record).
        if key not in container.__struct_fields__:
            raise KeyError(key)
        inner = _set(getattr(container, key), rest, value)
        return msgspec.structs.replace(container, **{key: inner})
    if isinstance(container, list) and isinstance(key, int) and 0 <= key < len(container):
        out = list(container)
        out[key] = _set(container[key], rest, value)
        return out
    if isinstance(container, dict) and isinstance(key, str) and key in container:
        dout = dict(container)
        dout[key] = _set(container[key], rest, value)
        return dout
    raise KeyError(key)


def resolve(event: Any, store: BlobStore) -> tuple[Any, list[BlobProblem]]:
    """`event` with its blob refs replaced by their values, and what could not be resolved."""
    refs: list[BlobRef] = getattr(event, "blobs", [])
    if not refs:
        return event, []
    problems: list[BlobProblem] = []
    changes: dict[str, Any] = {}
    for ref in refs:
        if not ref.path or not isinstance(ref.path[0], str):
            problems.append(BlobProblem("bad-blob", ref.sha256, f"bad blob path {ref.path!r}"))
            continue
        field = ref.path[0]
        try:
            data = store.get(ref.sha256, ref.size)
            value = _restore(ref, data)
        except BlobMissingError as exc:
            problems.append(BlobProblem("missing-blob", ref.sha256, str(exc)))
            continue
        except (P8jError, UnicodeDecodeError, msgspec.DecodeError, RecursionError) as exc:
            problems.append(BlobProblem("bad-blob", ref.sha256, f"cannot decode: {exc}"))
            continue
        current = changes.get(field, getattr(event, field, msgspec.UNSET))
        try:
            changes[field] = _set(current, list(ref.path[1:]), value)
        except KeyError:
            problems.append(
                BlobProblem("bad-blob", ref.sha256, f"blob path {ref.path!r} not in the event")
            )
    if not changes:
        return event, problems
    return msgspec.structs.replace(event, **changes), problems
