"""The engine's pool on a real PostgreSQL: connections the server closed are replaced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from echo_runtime.database import Database
from echo_runtime.natsserver import NatsServer
from echo_runtime.problems import database_unavailable
from echo_runtime.settings import ServiceSettings
from echo_runtime.testing import PostgresProvider, eventually, running, token
from probe.service import probe
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

pytestmark = pytest.mark.integration


@pytest.fixture
async def postgres_url(postgres: PostgresProvider) -> AsyncIterator[str]:
    url = await postgres.create()
    try:
        yield url
    finally:
        await postgres.drop(url)


async def test_requests_after_the_server_killed_every_pooled_connection_succeed(
    postgres_url: str,
) -> None:
    """What a PostgreSQL restart does to the pool, without restarting the machine's server."""
    database = Database(postgres_url, pool_size=4)
    admin = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:

        async def backend_pid() -> int:
            async with database.transaction() as session:
                # Hold the connection a moment so the four transactions use four connections.
                await session.execute(text("SELECT pg_sleep(0.05)"))
                return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())

        pooled = set(await asyncio.gather(*(backend_pid() for _ in range(4))))
        assert len(pooled) >= 2, "the pool holds several open connections"

        killed = await admin.fetchval(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()) t"
        )
        assert killed == len(pooled)

        async def gone() -> bool:
            alive = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = any($1::int[])", list(pooled)
            )
            return alive == 0

        await eventually(gone)

        def noticed() -> bool:
            # The driver learns of a killed connection from the socket: the server's error
            # first, the end of the stream a moment later (a loaded machine has shown the
            # gap). A restart is seconds before the next request; here the test waits for it.
            idle: Any = database.engine.pool._pool._queue._queue  # type: ignore[attr-defined]
            return all(entry.dbapi_connection._connection.is_closed() for entry in idle)

        await eventually(noticed)

        # Every connection in the pool is dead: each of these requests still gets an answer,
        # on connections opened afresh.
        after = await asyncio.gather(*(backend_pid() for _ in range(6)))
        assert not set(after) & pooled
    finally:
        await admin.close()
        await database.dispose()


async def test_a_database_that_refuses_connections_gets_503_and_recovers(
    postgres_url: str, nats_server: NatsServer
) -> None:
    """Out of connections, restarting, or closed to new sessions: a clear 503 with Retry-After
    (nothing half written), not a 500; the next request after it is back succeeds."""
    admin_url = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    name = postgres_url.rsplit("/", 1)[1]
    runtime = probe(
        ServiceSettings(
            service="probe",
            nats_url=nats_server.url,
            database_url=postgres_url,
            regions=["ontario"],
        )
    )
    body = {"region": "ontario", "minutes": 90}
    async with running(runtime) as client:
        ok = await client.post("/v1/probe/sessions", json=body, headers=token("hub-admin"))
        assert ok.status_code == 201, ok.text
        admin = await asyncpg.connect(admin_url.rsplit("/", 1)[0] + "/postgres")
        try:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
            refused = await client.post("/v1/probe/sessions", json=body, headers=token("hub-admin"))
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "1"
            assert refused.headers["content-type"] == "application/problem+json"
            assert "nothing was saved, retry" in refused.json()["detail"]
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
        again = await client.post("/v1/probe/sessions", json=body, headers=token("hub-admin"))
        assert again.status_code == 201, again.text
        async with runtime.db.transaction() as session:
            stored = (await session.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
        assert stored == 2  # the refused request left nothing behind


def test_only_errors_of_reaching_the_database_are_outages() -> None:
    """A statement's own error (a constraint, a missing table) stays a server error."""

    def dbapi(cls: type[sa_exc.DBAPIError], message: str, statement: str | None) -> Exception:
        return cls(statement, None, Exception(message))

    assert database_unavailable(sa_exc.TimeoutError("QueuePool limit reached"))
    assert database_unavailable(dbapi(sa_exc.DBAPIError, "too many clients already", None))
    assert database_unavailable(dbapi(sa_exc.OperationalError, "database is locked", "INSERT"))
    assert database_unavailable(dbapi(sa_exc.InterfaceError, "connection is closed", "SELECT"))
    assert not database_unavailable(dbapi(sa_exc.IntegrityError, "duplicate key", "INSERT"))
    assert not database_unavailable(dbapi(sa_exc.OperationalError, "no such table: x", "SELECT"))
    assert not database_unavailable(ValueError("not a database error"))


def test_the_pool_is_sized_from_the_settings() -> None:
    settings = ServiceSettings(
        service="probe",
        database_url="postgresql+asyncpg://echo@127.0.0.1:5432/echo",
        database_pool_size=4,
        database_max_overflow=0,
    )
    runtime = probe(settings)
    pool: Any = runtime.db.engine.pool
    assert (pool.size(), pool._max_overflow) == (4, 0)
    with pytest.raises(ValueError, match="database_max_overflow"):
        ServiceSettings(service="probe", database_max_overflow=-1)
