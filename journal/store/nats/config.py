"""Where a NATS store lives and how its JetStream assets are laid out (no I/O here).

Contract (`NatsConfig.parse` reads ``nats://host:port[,host:port...][?options]``):
- options: ``stream`` (default ``P8J``), ``prefix`` (subject prefix; default the
  stream's name in lower case, so ``P8J`` -> ``p8j``), ``replicas`` (default 1;
  3 in a cluster), ``lease`` (seconds a writer's lease outlives its last
  heartbeat; default 30), ``retry`` (the append retry horizon in seconds;
  default 15), ``monitor`` (an http URL of the server's monitoring port, read
  by ``p8j store check``). ``tls://`` and user:password@ in the netloc pass
  through to the client. An unknown option or a bad value is a StoreConfigError.
- Layout: one stream ``<stream>`` holding subjects ``<prefix>.s.<session_id>``
  (one subject per session); KV buckets ``<stream>_SESSIONS`` (summaries for
  listings, derived: rebuildable from the stream) and ``<stream>_LEASES``
  (writer leases, per-message TTL); the object store ``<stream>_BLOBS``.
- `stream_config` is the recommended stream: file storage, the configured
  replicas, no limits, discard new (a full stream refuses, never drops), a
  duplicate window of max(2 min, 4 x the retry horizon), direct gets, deny
  delete (single messages can never be deleted; purging a subject stays
  allowed: that is how `remove` and `rewrite` drop a session's old records),
  atomic batches allowed (``allow_atomic``, nats-server >= 2.12: batched appends).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from ...errors import StoreConfigError

__all__ = ["NatsConfig"]

_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_PREFIX_RE = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
_OPTIONS = ("lease", "monitor", "prefix", "replicas", "retry", "stream")


@dataclass(frozen=True)
class NatsConfig:
    """A parsed ``nats://`` store URL (see the module doc)."""

    servers: tuple[str, ...]
    stream: str = "P8J"
    prefix: str = "p8j"
    replicas: int = 1
    lease_s: float = 30.0
    retry_s: float = 15.0
    monitor: str | None = None

    @staticmethod
    def parse(url: str, source: str = "store") -> NatsConfig:
        """The config named by `url`; StoreConfigError naming `source` if it is not one."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("nats", "tls") or not parts.netloc:
            raise StoreConfigError(f"{source}: not a nats://host:port URL: {url!r}")
        auth, _, hosts = parts.netloc.rpartition("@")
        servers = tuple(
            urlunsplit((scheme, f"{auth}@{h}" if auth else h, "", "", ""))
            for h in hosts.split(",")
            if h
        )
        if parts.path not in ("", "/"):
            raise StoreConfigError(f"{source}: a nats:// URL takes no path: {url!r}")
        opts = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(opts) - set(_OPTIONS))
        if unknown:
            raise StoreConfigError(
                f"{source}: unknown option {unknown[0]!r} in {url!r} (known: {', '.join(_OPTIONS)})"
            )
        stream = opts.get("stream", "P8J")
        if not _NAME_RE.fullmatch(stream):
            raise StoreConfigError(f"{source}: bad stream name {stream!r} (A-Z, a-z, 0-9, _, -)")
        prefix = opts.get("prefix", stream.lower())
        if not _PREFIX_RE.fullmatch(prefix):
            raise StoreConfigError(f"{source}: bad subject prefix {prefix!r}")
        try:
            replicas = int(opts.get("replicas", "1"))
            lease = float(opts.get("lease", "30"))
            retry = float(opts.get("retry", "15"))
        except ValueError as exc:
            raise StoreConfigError(f"{source}: bad number in {url!r}: {exc}") from exc
        if not 1 <= replicas <= 5 or not lease >= 1 or not retry > 0:
            raise StoreConfigError(
                f"{source}: need 1 <= replicas <= 5, lease >= 1 s, retry > 0 s in {url!r}"
            )
        return NatsConfig(servers, stream, prefix, replicas, lease, retry, opts.get("monitor"))

    @property
    def url(self) -> str:
        """A URL `parse` reads back to this config."""
        first = urlsplit(self.servers[0])
        hosts = ",".join(urlsplit(s).netloc.rpartition("@")[2] for s in self.servers)
        auth = first.netloc.rpartition("@")[0]
        query = f"stream={self.stream}"
        if self.prefix != self.stream.lower():
            query += f"&prefix={self.prefix}"
        if self.replicas != 1:
            query += f"&replicas={self.replicas}"
        if self.lease_s != 30.0:
            query += f"&lease={self.lease_s:g}"
        if self.retry_s != 15.0:
            query += f"&retry={self.retry_s:g}"
        netloc = f"{auth}@{hosts}" if auth else hosts
        return urlunsplit((first.scheme, netloc, "", query, ""))

    def subject(self, session_id: str) -> str:
        """The subject of one session's log."""
        return f"{self.prefix}.s.{session_id}"

    @property
    def subjects(self) -> str:
        """The wildcard of every session's subject."""
        return f"{self.prefix}.s.>"

    def session_of(self, subject: str) -> str:
        """The session id in a session subject."""
        return subject[len(self.prefix) + 3 :]

    @property
    def sessions_bucket(self) -> str:
        """The KV bucket of session summaries."""
        return f"{self.stream}_SESSIONS"

    @property
    def leases_bucket(self) -> str:
        """The KV bucket of writer leases."""
        return f"{self.stream}_LEASES"

    @property
    def blobs_bucket(self) -> str:
        """The object store bucket of blobs."""
        return f"{self.stream}_BLOBS"

    @property
    def duplicate_window_s(self) -> float:
        """The stream's dedup window: well beyond the retry horizon."""
        return max(120.0, 4 * self.retry_s)
