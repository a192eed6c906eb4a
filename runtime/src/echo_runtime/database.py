"""SQLAlchemy 2 async engines for SQLite and PostgreSQL, transactions, and Alembic migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int | None = None) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and foreign keys, PostgreSQL a pool.

    Statement parameters are hidden from error messages: they may hold case text or personal data.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        # No pre-ping (three round trips at every checkout on asyncpg): a connection the server
        # closed is noticed by the driver while it idles in the pool and replaced at checkout
        # (`_drop_closed`); old connections are recycled.
        pool_recycle=1800,
        hide_parameters=True,
    )
    event.listen(engine.sync_engine, "checkout", _drop_closed)
    return engine


def _drop_closed(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection the server has closed (a restart, `pg_terminate_backend`).

    The pool then discards it and checks out another or opens a new one: no round trip.
    """
    driver = getattr(dbapi_conn, "_connection", None)
    is_closed = getattr(driver, "is_closed", None)
    if is_closed is not None and is_closed():
        raise DisconnectionError("the server closed this pooled connection")


class Database:
    """One service's database: an engine, sessions, and a signal that outbox rows were committed."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.outbox_committed = asyncio.Event()

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on any error."""
        async with self.sessions.begin() as session:
            yield session
        self.outbox_committed.set()

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[AsyncConnection]:
        """A connection for lookups outside any transaction (each statement on its own).

        On PostgreSQL this saves the BEGIN and ROLLBACK round trips a session's reads cost;
        use it for reads that need no consistent snapshot across statements.
        """
        async with self.engine.connect() as conn:
            if self.is_postgres:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads (no transaction is committed)."""
        async with self.sessions() as session:
            yield session

    async def ping(self) -> None:
        """Raise unless the database answers."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def migrate(database: Database, script_location: Path, revision: str = "head") -> None:
    """Run a service's Alembic migrations to `revision` on its database."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    async with database.engine.begin() as conn:
        await conn.run_sync(_upgrade, config, revision)


def run_alembic_env(target_metadata: Any) -> None:
    """The body of every service's `migrations/env.py` (online mode on a given connection)."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run migrations with `python -m echo_<service> migrate` (it passes the connection)"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
