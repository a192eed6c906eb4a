"""SQLAlchemy repository of programmes and sessions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from echo_scheduling.adapters.tables import programmes, sessions
from echo_scheduling.domain.model import Programme, Session


class SqlaProgrammeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, programme: Programme, created_by: str) -> None:
        await self.session.execute(
            sa.insert(programmes).values(
                id=programme.id,
                region=programme.region,
                title=programme.title,
                language=programme.language,
                timezone=programme.timezone,
                session_minutes=programme.session_minutes,
                starts_on=programme.starts_on,
                local_start=programme.local_start,
                session_count=programme.session_count,
                interval_weeks=programme.interval_weeks,
                created_by=created_by,
                created_at=datetime.now(UTC),
            )
        )
        if programme.sessions:
            await self.session.execute(
                sa.insert(sessions),
                [
                    {
                        "id": s.id,
                        "programme_id": s.programme_id,
                        "starts_at": s.starts_at,
                        "ends_at": s.ends_at,
                        "status": s.status,
                        "sequence": s.sequence,
                    }
                    for s in programme.sessions
                ],
            )

    async def get(self, programme_id: uuid.UUID) -> dict[str, Any] | None:
        row = (
            (
                await self.session.execute(
                    sa.select(programmes).where(programmes.c.id == programme_id)
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def list_page(
        self, regions: list[str] | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        where = [programmes.c.region.in_(regions)] if regions is not None else []
        total = await self.session.scalar(
            sa.select(sa.func.count()).select_from(programmes).where(*where)
        )
        rows = (
            await self.session.execute(
                sa.select(programmes)
                .where(*where)
                .order_by(programmes.c.created_at, programmes.c.id)
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        return [dict(r) for r in rows], int(total or 0)

    async def sessions_of(
        self,
        programme_id: uuid.UUID,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Session], int]:
        where = [sessions.c.programme_id == programme_id]
        if start is not None:
            where.append(sessions.c.starts_at >= start)
        if end is not None:
            where.append(sessions.c.starts_at < end)
        total = await self.session.scalar(
            sa.select(sa.func.count()).select_from(sessions).where(*where)
        )
        rows = (
            await self.session.execute(
                sa.select(sessions)
                .where(*where)
                .order_by(sessions.c.starts_at)
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        return [
            Session(
                id=r["id"],
                programme_id=r["programme_id"],
                starts_at=_utc(r["starts_at"]),
                ends_at=_utc(r["ends_at"]),
                status=r["status"],
                sequence=r["sequence"],
            )
            for r in rows
        ], int(total or 0)


def _utc(value: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
