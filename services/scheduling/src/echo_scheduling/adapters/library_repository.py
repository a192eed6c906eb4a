"""SQLAlchemy repository of the library: materials and registered participants."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from echo_contracts.events import MaterialKind
from sqlalchemy.ext.asyncio import AsyncSession

from echo_scheduling.adapters.tables import library_members, materials, sessions
from echo_scheduling.domain.library import Material


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def fold(text: str) -> str:
    """The form titles are searched in: case-folded (Unicode-aware, unlike SQLite's lower())."""
    return text.casefold()


def _material(row: Any) -> Material:
    return Material(
        id=row["id"],
        programme_id=row["programme_id"],
        session_id=row["session_id"],
        kind=MaterialKind(row["kind"]),
        title=row["title"],
        language=row["language"],
        size_bytes=row["size_bytes"],
        content_type=row["content_type"],
        sha256=row["sha256"],
        storage_key=row["storage_key"],
        url=row["url"],
        filename=row["filename"],
        added_by=row["added_by"],
        added_at=_utc(row["added_at"]) or datetime.now(UTC),
        removed=row["removed"],
        removed_at=_utc(row["removed_at"]),
    )


def _like(term: str) -> str:
    escaped = fold(term).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqlaMaterialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, m: Material) -> None:
        await self.session.execute(
            sa.insert(materials).values(
                id=m.id,
                programme_id=m.programme_id,
                session_id=m.session_id,
                kind=m.kind.value,
                title=m.title,
                title_folded=fold(m.title),
                language=m.language,
                size_bytes=m.size_bytes,
                content_type=m.content_type,
                sha256=m.sha256,
                storage_key=m.storage_key,
                url=m.url,
                filename=m.filename,
                added_by=m.added_by,
                added_at=m.added_at,
                removed=False,
            )
        )

    async def get(self, material_id: uuid.UUID) -> Material | None:
        row = (
            (await self.session.execute(sa.select(materials).where(materials.c.id == material_id)))
            .mappings()
            .first()
        )
        return _material(row) if row else None

    async def mark_removed(self, material_id: uuid.UUID, at: datetime) -> bool:
        """Flag the item removed; False when it was already (a concurrent delete won)."""
        done = await self.session.execute(
            sa.update(materials)
            .where(materials.c.id == material_id, materials.c.removed == sa.false())
            .values(removed=True, removed_at=at)
        )
        return bool(getattr(done, "rowcount", 0))

    def _live(self, programme_id: uuid.UUID) -> sa.ColumnElement[bool]:
        return sa.and_(materials.c.programme_id == programme_id, materials.c.removed == sa.false())

    async def page(
        self,
        programme_id: uuid.UUID,
        limit: int,
        offset: int,
        *,
        session_id: uuid.UUID | None = None,
        kind: MaterialKind | None = None,
    ) -> tuple[list[Material], int]:
        """The programme's items (newest first), optionally of one session or kind."""
        where = [self._live(programme_id)]
        if session_id is not None:
            where.append(materials.c.session_id == session_id)
        if kind is not None:
            where.append(materials.c.kind == kind.value)
        total = (
            await self.session.execute(
                sa.select(sa.func.count()).select_from(materials).where(*where)
            )
        ).scalar_one()
        rows = (
            (
                await self.session.execute(
                    sa.select(materials)
                    .where(*where)
                    .order_by(materials.c.added_at.desc(), materials.c.id)
                    .limit(limit)
                    .offset(offset)
                )
            )
            .mappings()
            .all()
        )
        return [_material(r) for r in rows], int(total)

    async def search(
        self, programme_id: uuid.UUID, term: str, session_ids: list[uuid.UUID]
    ) -> list[Material]:
        """Live items whose title contains `term` (any case), or that belong to `session_ids`."""
        match: sa.ColumnElement[bool] = materials.c.title_folded.like(_like(term), escape="\\")
        if session_ids:
            match = sa.or_(match, materials.c.session_id.in_(session_ids))
        rows = (
            (
                await self.session.execute(
                    sa.select(materials)
                    .where(self._live(programme_id), match)
                    .order_by(materials.c.added_at.desc(), materials.c.id)
                    .limit(500)
                )
            )
            .mappings()
            .all()
        )
        return [_material(r) for r in rows]

    async def session_topics(self, programme_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
        """(session id, didactic topic) of the programme's sessions that have a topic."""
        rows = await self.session.execute(
            sa.select(sessions.c.id, sessions.c.didactic_topic)
            .where(sessions.c.programme_id == programme_id, sessions.c.didactic_topic.is_not(None))
            .order_by(sessions.c.starts_at)
        )
        return [(r[0], r[1]) for r in rows]

    async def session_in_programme(self, session_id: uuid.UUID, programme_id: uuid.UUID) -> bool:
        found = await self.session.execute(
            sa.select(sessions.c.id).where(
                sessions.c.id == session_id, sessions.c.programme_id == programme_id
            )
        )
        return found.first() is not None

    # ------------------------------------------------------------------ members

    async def add_member(
        self,
        programme_id: uuid.UUID,
        participant_id: uuid.UUID,
        registration_id: uuid.UUID,
        at: datetime,
    ) -> bool:
        """Remember a registration; False when the participant was already registered."""
        if await self.is_member(programme_id, participant_id):
            return False
        await self.session.execute(
            sa.insert(library_members).values(
                programme_id=programme_id,
                participant_id=participant_id,
                registration_id=registration_id,
                registered_at=at,
            )
        )
        return True

    async def is_member(self, programme_id: uuid.UUID, participant_id: uuid.UUID) -> bool:
        found = await self.session.execute(
            sa.select(library_members.c.participant_id).where(
                library_members.c.programme_id == programme_id,
                library_members.c.participant_id == participant_id,
            )
        )
        return found.first() is not None
