"""SQLAlchemy 2 async engines for SQLite and PostgreSQL, transactions, and Alembic migrations."""

from __future__ import annotations

import asyncio
import fcntl
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
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


class SchemaMismatch(RuntimeError):
    """The database is not at the revision this code was built for: the service refuses to start."""


def _heads(connection: Connection) -> tuple[str, ...]:
    return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))


def _upgrade(connection: Connection, config: Config, revision: str) -> tuple[str, ...]:
    """Upgrade; return the revisions the database was at before (empty: no schema)."""
    before = _heads(connection)
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
    return before


def _config(script_location: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    return config


def _lock_key(script_location: Path) -> int:
    """One advisory lock key per service (its migrations directory's name, e.g. `migrations`
    under services/cases): a signed 32-bit int, stable across processes and versions."""
    return zlib.crc32(f"echo-migrate:{script_location.resolve().parent.name}".encode()) - 2**31


@contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    """An exclusive lock on `<database>.migrate.lock` next to the SQLite file."""
    database = make_url(url).database
    if not database or database == ":memory:":
        yield
        return
    path = Path(database).with_name(Path(database).name + ".migrate.lock")
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


async def migrate(
    database: Database, script_location: Path, revision: str = "head"
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Run a service's Alembic migrations to `revision` on its database, one process at a time.

    PostgreSQL: a transaction-scoped advisory lock (`pg_advisory_xact_lock`) held for the whole
    upgrade; SQLite: an exclusive file lock. A process that waited finds the schema at head and
    changes nothing, so any number of replicas or Jobs may start at once. Returns the revisions
    before and after (equal when there was nothing to do).
    """
    config = _config(script_location)
    if database.is_postgres:
        async with database.engine.begin() as conn:
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(script_location)}
            )
            before = await conn.run_sync(_upgrade, config, revision)
            after = await conn.run_sync(_heads)
        return before, after
    with _sqlite_file_lock(database.url):
        async with database.engine.begin() as conn:
            before = await conn.run_sync(_upgrade, config, revision)
            after = await conn.run_sync(_heads)
    return before, after


def _revisions(
    connection: Connection, script_location: Path
) -> tuple[set[str], set[str], set[str]]:
    script = ScriptDirectory.from_config(_config(script_location))
    current = set(MigrationContext.configure(connection).get_current_heads())
    known = {rev.revision for rev in script.walk_revisions()}
    return current, set(script.get_heads()), known


async def check_schema(database: Database, script_location: Path, service: str) -> None:
    """Refuse (SchemaMismatch) unless the database is exactly at this code's head revision."""
    async with database.engine.connect() as conn:
        current, heads, known = await conn.run_sync(_revisions, script_location)
    if current == heads:
        return
    migrate_hint = (
        f"run `python -m echo_{service} migrate` first (in Kubernetes the {service}-migrate Job,"
        f" in compose the {service}-migrate service), then start the service again"
    )
    if not current:
        raise SchemaMismatch(
            f"{service}: the database has no schema (head is {', '.join(sorted(heads))});"
            f" {migrate_hint}"
        )
    unknown = current - known
    if unknown:
        raise SchemaMismatch(
            f"{service}: the database is at revision {', '.join(sorted(unknown))}, newer than"
            f" this version knows (head {', '.join(sorted(heads))}): it was migrated by a newer"
            " release; deploy that release, or downgrade the schema with the newer release's"
            " migrate command before rolling back (deploy/README.md, upgrade and rollback)"
        )
    raise SchemaMismatch(
        f"{service}: the database is at revision {', '.join(sorted(current))}, behind this"
        f" version's head {', '.join(sorted(heads))}; {migrate_hint}"
    )


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
