"""The engine's pool on a real PostgreSQL: connections the server closed are replaced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from echo_runtime.database import Database
from echo_runtime.testing import PostgresProvider, eventually
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

        # Every connection in the pool is dead: each of these requests still gets an answer,
        # on connections opened afresh.
        after = await asyncio.gather(*(backend_pid() for _ in range(6)))
        assert not set(after) & pooled
    finally:
        await admin.close()
        await database.dispose()
