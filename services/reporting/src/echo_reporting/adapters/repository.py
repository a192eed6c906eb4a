"""SQLAlchemy store of the read models: one row per aggregate, read back as a `ReadModel`."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from echo_reporting.adapters.tables import READ_MODELS
from echo_reporting.domain.model import KINDS, ReadModel, Row


def _row(mapping: Any) -> Row:
    row = dict(mapping)
    for key, value in row.items():
        # SQLite returns naive datetimes for timezone-aware columns.
        if isinstance(value, datetime) and value.tzinfo is None:
            row[key] = value.replace(tzinfo=UTC)
    return row


def _by_id(row: Row) -> Row:
    """Parameters of `_update_by_id`: the id under a name no column has."""
    params = dict(row)
    params["_id"] = params.pop("id")
    return params


@functools.cache
def _select_by_ids(kind: str, dialect: str) -> sa.Select[Any]:
    """The rows of a list of ids, built once.

    PostgreSQL: `WHERE id = ANY(:ids)`, one array parameter, so the SQL text (and asyncpg's
    prepared statement) is the same whatever the number of ids; `FOR UPDATE`, so a run that
    comes while a rebuild holds the tables (EXCLUSIVE) reads the rebuilt rows once it commits,
    instead of the old ones it would then write back over them. Elsewhere an expanding
    `IN (...)`, rendered with one placeholder per id at each execution. (SQLite needs no lock:
    the consumer's transaction starts with its inbox INSERT, which takes SQLite's one write lock
    before the run reads, so a rebuild writes entirely before or entirely after the run.)
    """
    table = READ_MODELS[kind]
    if dialect == "postgresql":
        ids = sa.bindparam("ids", type_=postgresql.ARRAY(sa.Uuid))
        return sa.select(table).where(table.c.id == sa.any_(ids)).with_for_update()
    return sa.select(table).where(table.c.id.in_(sa.bindparam("ids", expanding=True)))


@functools.cache
def _update_by_id(kind: str) -> sa.Update:
    """`UPDATE <table> SET <every other column> WHERE id = :_id`, for executemany."""
    table = READ_MODELS[kind]
    return (
        sa.update(table)
        .where(table.c.id == sa.bindparam("_id"))
        .values({c.name: sa.bindparam(c.name) for c in table.columns if c.name != "id"})
    )


class SqlaReadModelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_many(self, kind: str, keys: Iterable[uuid.UUID]) -> dict[uuid.UUID, Row]:
        """The rows of `keys` that exist, by id, in one statement (the live consumer's runs)."""
        dialect = self.session.get_bind().dialect.name
        found = await self.session.execute(_select_by_ids(kind, dialect), {"ids": list(keys)})
        return {row["id"]: row for row in map(_row, found.mappings())}

    async def insert_many(self, kind: str, rows: Iterable[Row]) -> int:
        """Insert new rows in one statement (rebuild, and a live run's rows not stored yet)."""
        batch = list(rows)
        if batch:
            await self.session.execute(sa.insert(READ_MODELS[kind]), batch)
        return len(batch)

    async def update_many(self, kind: str, rows: Iterable[Row]) -> int:
        """Overwrite existing rows (every column but the id) in one executemany statement."""
        batch = list(rows)
        if batch:
            await self.session.execute(_update_by_id(kind), [_by_id(row) for row in batch])
        return len(batch)

    async def lock(self) -> None:
        """Hold every read model against other writers until the transaction ends.

        PostgreSQL: an EXCLUSIVE table lock (readers go on reading the committed rows). SQLite has
        one writer: the first write of the transaction (`clear`) takes the lock.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            names = ", ".join(READ_MODELS[kind].name for kind in KINDS)
            await self.session.execute(sa.text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))

    async def clear(self) -> None:
        """Drop every read-model row (the rebuild starts from nothing)."""
        for kind in KINDS:
            await self.session.execute(sa.delete(READ_MODELS[kind]))

    async def region_of_programme(self, programme_id: uuid.UUID) -> str | None:
        """The region a programme's events came from, from any row that names it."""
        table = READ_MODELS["programmes"]
        region = await self.session.scalar(
            sa.select(table.c.region).where(table.c.id == programme_id)
        )
        if region is not None:
            return str(region)
        for kind in (
            "sessions",
            "registrations",
            "attendance",
            "cases",
            "credits",
            "evaluations",
            "responses",
            "materials",
        ):
            t = READ_MODELS[kind]
            region = await self.session.scalar(
                sa.select(t.c.region).where(t.c.programme_id == programme_id).limit(1)
            )
            if region is not None:
                return str(region)
        return None

    async def place_of_session(self, session_id: uuid.UUID) -> tuple[str, uuid.UUID] | None:
        """The (region, programme id) of a session, from any row that names it."""
        for kind, column in (
            ("sessions", "id"),
            ("evaluations", "id"),
            ("responses", "session_id"),
            ("attendance", "session_id"),
        ):
            t = READ_MODELS[kind]
            found = (
                await self.session.execute(
                    sa.select(t.c.region, t.c.programme_id)
                    .where(t.c[column] == session_id, t.c.programme_id.is_not(None))
                    .limit(1)
                )
            ).first()
            if found is not None:
                return str(found[0]), found[1]
        return None

    async def load(self, region: str | None = None) -> ReadModel:
        """Every row (of one region when given) as an in-memory read model."""
        model = ReadModel()
        for kind in KINDS:
            table = READ_MODELS[kind]
            query = sa.select(table)
            if region is not None:
                query = query.where(table.c.region == region)
            for mapping in (await self.session.execute(query)).mappings():
                row = _row(mapping)
                model.rows[kind][row["id"]] = row
        return model

    async def load_programme(self, region: str, programme_id: uuid.UUID) -> ReadModel:
        """Only the rows of one programme in `region` (as `load(region).of_programme(id)`).

        One indexed statement a kind (`programme_id`), and the participants the programme's
        registrations and attendance name: reads in proportion to the programme, not the region.
        """
        model = ReadModel()
        people: set[uuid.UUID] = set()
        for kind in KINDS:
            table = READ_MODELS[kind]
            if kind == "participants":
                continue
            column = table.c.id if kind == "programmes" else table.c.programme_id
            query = sa.select(table).where(table.c.region == region, column == programme_id)
            for mapping in (await self.session.execute(query)).mappings():
                row = _row(mapping)
                model.rows[kind][row["id"]] = row
                if kind in ("registrations", "attendance") and row["participant_id"] is not None:
                    people.add(row["participant_id"])
        if people:
            table = READ_MODELS["participants"]
            query = sa.select(table).where(
                table.c.region == region, table.c.id.in_(sa.bindparam("ids", expanding=True))
            )
            found = await self.session.execute(query, {"ids": sorted(people, key=str)})
            for mapping in found.mappings():
                row = _row(mapping)
                model.rows["participants"][row["id"]] = row
        return model

    async def load_session(self, region: str, session_id: uuid.UUID) -> ReadModel:
        """Only the rows about one session in `region` (as `of_session(load(region), id)`)."""
        model = ReadModel()
        for kind, column in (
            ("sessions", "id"),
            ("evaluations", "id"),
            ("attendance", "session_id"),
            ("responses", "session_id"),
            ("materials", "session_id"),
        ):
            table = READ_MODELS[kind]
            query = sa.select(table).where(table.c.region == region, table.c[column] == session_id)
            for mapping in (await self.session.execute(query)).mappings():
                row = _row(mapping)
                model.rows[kind][row["id"]] = row
        return model

    async def regions(self) -> list[str]:
        """Every region any row came from."""
        found: set[str] = set()
        for kind in KINDS:
            table = READ_MODELS[kind]
            found.update(
                str(r)
                for r in (
                    await self.session.execute(sa.select(table.c.region).distinct())
                ).scalars()
            )
        return sorted(found)
