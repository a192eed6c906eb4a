"""The Alembic migrations build exactly the tables the code uses, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from echo_reporting.adapters.tables import metadata
from echo_reporting.service_layer.rebuild import MIGRATIONS
from echo_runtime.database import Database, migrate

pytestmark = pytest.mark.integration


async def test_migrated_schema_matches_the_tables_of_the_code(database_url: str) -> None:
    db = Database(database_url)
    try:
        await migrate(db, MIGRATIONS)

        def differences(connection: Any) -> list[Any]:
            return list(compare_metadata(MigrationContext.configure(connection), metadata))

        async with db.engine.connect() as conn:
            diff = await conn.run_sync(differences)
    finally:
        await db.dispose()
    assert diff == []
