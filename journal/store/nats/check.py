"""What ``p8j store check`` and ``p8j store init`` report: a NATS store's settings and their risks.

Contract:
- `check_store` connects (creating nothing) and reports the server (version,
  name, cluster, max payload), what it says about JetStream's own settings
  (``sync_always`` / ``sync_interval``, read from the monitoring port's
  ``/varz`` when a monitor URL is known; otherwise `jetstream` is None and a
  warning says the setting is unknown), the stream's configuration and state
  (or None when it does not exist), and the buckets present.
- Warnings name every setting that can lose or duplicate acknowledged events:
  the server not syncing before it acknowledges (Jepsen's 2025 analysis of
  NATS 2.12.1 lost acknowledged writes that way), one replica, memory storage,
  discard old, any limit (messages, bytes, age, per subject, message size), a
  duplicate window shorter than the writers' retry horizon, deletes allowed,
  no direct gets; atomic batches not allowed (slower batched appends); and a
  missing stream or bucket.
- `interrupted` lists the sessions an interrupted rewrite left leftovers in
  (rewrite.py's `scan`: ``uncommitted`` reads as the old log, ``unpurged``
  as the new one), each with ``held`` (a lease is live: the rewrite may
  still be running, or died less than ``lease`` seconds ago) and
  ``repaired``; every one not repaired is a warning saying how to fix it.
  With ``repair``, each one not held is completed or rolled back
  (`NatsStore.recover`, under its lease) and reported as ``repaired``.
- `init_store` creates the stream and buckets with the recommended settings
  (config.py) and, for an existing stream, updates the settings that differ
  (storage cannot change: a warning says so); run twice, it changes nothing
  the second time. It returns the names it created and the fields it updated.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import msgspec
import nats.errors

from ...errors import JournalIOError, SessionLockedError, StoreConfigError
from . import rewrite as rw
from .store import NatsStore

__all__ = ["InitReport", "StoreReport", "check_store", "init_store"]

_NS = 1_000_000_000
_LIMITS = ("max_msgs", "max_bytes", "max_age", "max_msgs_per_subject", "max_msg_size")


class StoreReport(msgspec.Struct):
    """``p8j store check``'s findings (see the module doc)."""

    url: str
    server: dict[str, Any]
    jetstream: dict[str, Any] | None
    stream: dict[str, Any] | None
    state: dict[str, Any] | None
    buckets: dict[str, bool]
    warnings: list[str]
    interrupted: list[dict[str, Any]] = msgspec.field(default_factory=list)


class InitReport(msgspec.Struct):
    """``p8j store init``'s outcome: what was created, which stream fields were updated."""

    url: str
    created: list[str]
    updated: list[str]
    warnings: list[str]


def _varz(monitor: str) -> dict[str, Any]:
    url = monitor.rstrip("/") + "/varz"
    try:
        with urllib.request.urlopen(url, timeout=5.0) as resp:
            data: dict[str, Any] = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise StoreConfigError(f"cannot read the NATS monitoring endpoint {url}: {exc}") from exc
    return data


async def _api(store: NatsStore, subject: str, body: bytes = b"") -> dict[str, Any]:
    conn = await store.aconn(create=False)
    assert conn.nc is not None
    msg = await conn.nc.request(subject, body, timeout=5.0)
    reply: dict[str, Any] = json.loads(msg.data)
    return reply


def _server(store: NatsStore) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        conn = await store.aconn(create=False)
        assert conn.nc is not None
        info = dict(conn.nc._server_info)  # what the server sent in INFO
        return {
            k: info.get(k)
            for k in ("version", "server_name", "server_id", "cluster", "jetstream", "max_payload")
        }

    return store.call(run())


def _sync_warnings(js: dict[str, Any] | None) -> list[str]:
    if js is None:
        return [
            "the server's sync setting is unknown (give --monitor http://HOST:8222): unless it "
            "runs with jetstream { sync_interval: always }, acknowledged events can be lost"
        ]
    if js.get("sync_always"):
        return []
    every = js.get("sync_interval")
    return [
        "the server acknowledges before fsync (sync_interval "
        f"{(every or 0) / _NS:g} s): acknowledged events can be lost on power loss or node "
        "failure (Jepsen 2025, NATS 2.12.1); run it with jetstream { sync_interval: always }"
    ]


def _stream_warnings(store: NatsStore, cfg: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if cfg.get("num_replicas", 1) < 3:
        out.append(
            f"{cfg.get('num_replicas', 1)} replica(s): a lost disk or node loses events "
            "(3 in a cluster)"
        )
    if cfg.get("storage") == "memory":
        out.append("memory storage: a server restart loses every event")
    if cfg.get("discard") != "new":
        out.append("discard old: a full stream drops the oldest events (use discard new)")
    for name in _LIMITS:
        value = cfg.get(name)
        if value not in (None, 0, -1):
            out.append(f"{name} = {value}: the stream drops or refuses events past it")
    window = (cfg.get("duplicate_window") or 0) / _NS
    if window < store.config.retry_s:
        out.append(
            f"duplicate window {window:g} s is shorter than the retry horizon "
            f"{store.config.retry_s:g} s: a retried append can be stored twice"
        )
    if not cfg.get("deny_delete"):
        out.append("deny_delete is off: single events can be deleted from a session")
    if not cfg.get("allow_direct"):
        out.append("allow_direct is off: reading sessions is slower (direct gets refused)")
    if not cfg.get("allow_atomic"):
        out.append(
            "allow_atomic is off: batched appends (pushes to this store) go one event at a time; "
            "`p8j store init` turns it on (nats-server >= 2.12)"
        )
    return out


def _interrupted(
    store: NatsStore, repair: bool, leases: bool
) -> tuple[list[dict[str, Any]], list[str]]:
    """Sessions with an interrupted rewrite, repaired if asked and free (module doc)."""
    found: list[dict[str, Any]] = []
    warnings: list[str] = []

    async def scan() -> list[rw.Leftover]:
        return await rw.scan(await store.aconn(create=False))

    for left in store.call(scan()):
        sid, repaired = left.session_id, False
        held = leases and store.holder(sid) is not None
        if repair and not held:
            try:
                store.recover(sid)
                repaired = True
            except SessionLockedError:
                held = True  # taken since: its holder recovers it
        found.append({**msgspec.structs.asdict(left), "held": held, "repaired": repaired})
        if repaired:
            continue
        reads = "the old log" if left.state == "uncommitted" else "the new log"
        fix = (
            "a rewrite is running, or died less than the lease ago: check again later"
            if held
            else "`p8j store check --repair` completes it (as does resuming, rewriting "
            "or removing the session)"
        )
        warnings.append(
            f"session {sid}: an interrupted rewrite left {left.state} records (stream seqs "
            f"{left.first}-{left.last}; readers see {reads}); {fix}"
        )
    return found, warnings


def check_store(store: NatsStore, monitor: str | None = None, repair: bool = False) -> StoreReport:
    """The store's settings and every risk in them (module doc)."""
    c = store.config
    server = _server(store)
    monitor = monitor or c.monitor
    js = _varz(monitor).get("jetstream", {}).get("config") if monitor else None
    warnings = _sync_warnings(js)
    info = store.call(_api(store, f"$JS.API.STREAM.INFO.{c.stream}"))
    stream = state = None
    interrupted: list[dict[str, Any]] = []
    if "error" in info:
        warnings.append(f"stream {c.stream} does not exist: `p8j store init` creates it")
    else:
        stream, state = info.get("config"), info.get("state")
        if info.get("cluster"):
            state = {**(state or {}), "cluster": info["cluster"]}
        warnings += _stream_warnings(store, stream or {})
    buckets: dict[str, bool] = {}
    for name in (f"KV_{c.sessions_bucket}", f"KV_{c.leases_bucket}", f"OBJ_{c.blobs_bucket}"):
        reply = store.call(_api(store, f"$JS.API.STREAM.INFO.{name}"))
        buckets[name] = "error" not in reply
        if not buckets[name]:
            warnings.append(f"bucket {name} does not exist: `p8j store init` creates it")
    if stream is not None:
        # holder() would create what is missing: without it, nobody is taken to hold them
        interrupted, found = _interrupted(store, repair, all(buckets.values()))
        warnings += found
    return StoreReport(c.url, server, js, stream, state, buckets, warnings, interrupted)


_RECOMMENDED = (
    "subjects",
    "discard",
    "max_msgs",
    "max_bytes",
    "max_age",
    "max_msgs_per_subject",
    "max_msg_size",
    "duplicate_window",
    "allow_direct",
    "deny_delete",
    "deny_purge",
    "allow_atomic",
    "num_replicas",
)


def init_store(store: NatsStore) -> InitReport:
    """Create (or bring to the recommended settings) the stream and buckets (module doc)."""
    c = store.config
    before = check_store(store, monitor=None)
    created = [n for n, ok in before.buckets.items() if not ok]
    updated: list[str] = []
    warnings: list[str] = []
    if before.stream is None:
        created.insert(0, c.stream)
    else:
        want = store._conn.stream_config().as_dict()
        changed = [k for k in _RECOMMENDED if _norm(before.stream.get(k)) != _norm(want.get(k))]
        if changed:
            merged = {**before.stream, **{k: want[k] for k in changed}}
            reply = store.call(
                _api(store, f"$JS.API.STREAM.UPDATE.{c.stream}", json.dumps(merged).encode())
            )
            if "error" in reply:
                raise JournalIOError(f"cannot update stream {c.stream}: {reply['error']}")
            updated = changed
        if before.stream.get("storage") != "file":
            warnings.append("the stream keeps memory storage: storage cannot be changed")
    try:
        store.call(store.aconn(create=True))
    except nats.errors.Error as exc:
        raise JournalIOError(f"cannot create the NATS store's assets: {exc!r}") from exc
    return InitReport(c.url, created, updated, warnings)


def _norm(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(value)
    if value in (None, 0, -1):
        return None  # unlimited, however a server or client spells it
    return value
