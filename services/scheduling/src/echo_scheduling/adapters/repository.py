"""SQLAlchemy repositories of programmes, sessions (with their case slots) and templates."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from echo_scheduling.adapters.tables import (
    case_slots,
    programmes,
    sessions,
    templates,
    waiting_cases,
)
from echo_scheduling.domain.errors import ConcurrentChange
from echo_scheduling.domain.model import (
    Programme,
    Session,
    SessionKind,
    SessionStatus,
    TeamMember,
    Template,
    Topic,
)
from echo_scheduling.domain.recurrence import Frequency


def _utc(value: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns (always stored in UTC).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _programme(row: Any) -> Programme:
    return Programme(
        id=row["id"],
        region=row["region"],
        title=row["title"],
        language=row["language"],
        timezone=row["timezone"],
        session_minutes=row["session_minutes"],
        starts_on=row["starts_on"],
        local_start=row["local_start"],
        session_count=row["session_count"],
        interval_weeks=row["interval_weeks"],
        frequency=Frequency(row["frequency"]),
        week_of_month=row["week_of_month"],
        ends_on=row["ends_on"],
        excluded_dates=[date.fromisoformat(d) for d in row["excluded_dates"] or []],
        case_slots=row["case_slots"],
        hub_team=[
            TeamMember(
                person_id=uuid.UUID(m["person_id"]),
                name=m["name"],
                role=m["role"],
                email=m.get("email"),
            )
            for m in row["hub_team"] or []
        ],
        curriculum=[
            Topic(position=t["position"], title=t["title"], presenter_name=t.get("presenter_name"))
            for t in row["curriculum"] or []
        ],
        template_id=row["template_id"],
        template_version=row["template_version"],
        rule_count=row["rule_count"],
    )


def _programme_values(programme: Programme) -> dict[str, Any]:
    return {
        "region": programme.region,
        "title": programme.title,
        "language": programme.language,
        "timezone": programme.timezone,
        "session_minutes": programme.session_minutes,
        "starts_on": programme.starts_on,
        "local_start": programme.local_start,
        "session_count": programme.session_count,
        "interval_weeks": programme.interval_weeks,
        "frequency": programme.frequency.value,
        "week_of_month": programme.week_of_month,
        "ends_on": programme.ends_on,
        "excluded_dates": [d.isoformat() for d in sorted(programme.excluded_dates)],
        "case_slots": programme.case_slots,
        "hub_team": [
            {"person_id": str(m.person_id), "name": m.name, "role": m.role, "email": m.email}
            for m in programme.hub_team
        ],
        "curriculum": [
            {"position": t.position, "title": t.title, "presenter_name": t.presenter_name}
            for t in programme.curriculum
        ],
        "template_id": programme.template_id,
        "template_version": programme.template_version,
        "rule_count": programme.rule_count,
    }


def _session(row: Any, slots: dict[int, uuid.UUID] | None = None) -> Session:
    return Session(
        id=row["id"],
        programme_id=row["programme_id"],
        starts_at=_utc(row["starts_at"]),
        ends_at=_utc(row["ends_at"]),
        status=SessionStatus(row["status"]),
        sequence=row["sequence"],
        kind=SessionKind(row["kind"]),
        didactic_topic=row["didactic_topic"],
        presenter_name=row["presenter_name"],
        cancel_reason=row["cancel_reason"],
        case_slots=dict(slots or {}),
    )


def _session_values(s: Session) -> dict[str, Any]:
    return {
        "id": s.id,
        "programme_id": s.programme_id,
        "starts_at": s.starts_at.astimezone(UTC),
        "ends_at": s.ends_at.astimezone(UTC),
        "status": s.status.value,
        "sequence": s.sequence,
        "kind": s.kind.value,
        "didactic_topic": s.didactic_topic,
        "presenter_name": s.presenter_name,
        "cancel_reason": s.cancel_reason,
    }


class SqlaProgrammeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, programme: Programme, created_by: str) -> None:
        await self.session.execute(
            sa.insert(programmes).values(
                id=programme.id,
                created_by=created_by,
                created_at=datetime.now(UTC),
                **_programme_values(programme),
            )
        )
        await SqlaSessionRepository(self.session).add(programme.sessions)

    async def update(self, programme: Programme) -> None:
        await self.session.execute(
            sa.update(programmes)
            .where(programmes.c.id == programme.id)
            .values(**_programme_values(programme))
        )

    async def get(self, programme_id: uuid.UUID) -> Programme | None:
        row = (
            (
                await self.session.execute(
                    sa.select(programmes).where(programmes.c.id == programme_id)
                )
            )
            .mappings()
            .first()
        )
        return _programme(row) if row else None

    async def list_page(
        self,
        regions: list[str] | None,
        limit: int,
        offset: int,
        ids: list[uuid.UUID] | None = None,
    ) -> tuple[list[Programme], int]:
        """A page of programmes in `regions` (all when None), limited to `ids` when given."""
        where = [programmes.c.region.in_(regions)] if regions is not None else []
        if ids is not None:
            where.append(programmes.c.id.in_(ids))
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
        return [_programme(r) for r in rows], int(total or 0)

    async def add_session_count(self, programme_id: uuid.UUID, delta: int) -> None:
        await self.session.execute(
            sa.update(programmes)
            .where(programmes.c.id == programme_id)
            .values(session_count=programmes.c.session_count + delta)
        )


class SqlaSessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, items: Sequence[Session]) -> None:
        if items:
            await self.session.execute(sa.insert(sessions), [_session_values(s) for s in items])

    async def _slots(
        self, session_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, dict[int, uuid.UUID]]:
        out: dict[uuid.UUID, dict[int, uuid.UUID]] = {sid: {} for sid in session_ids}
        if not session_ids:
            return out
        rows = await self.session.execute(
            sa.select(case_slots).where(case_slots.c.session_id.in_(list(session_ids)))
        )
        for r in rows.mappings():
            out[r["session_id"]][r["position"]] = r["case_id"]
        return out

    async def _with_slots(self, rows: Sequence[Any]) -> list[Session]:
        slots = await self._slots([r["id"] for r in rows])
        return [_session(r, slots[r["id"]]) for r in rows]

    async def get(self, session_id: uuid.UUID) -> Session | None:
        row = (
            (await self.session.execute(sa.select(sessions).where(sessions.c.id == session_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return (await self._with_slots([row]))[0]

    async def save(self, s: Session, expected_sequence: int) -> None:
        """Write a changed session; ConcurrentChange when someone else changed it meanwhile."""
        values = _session_values(s)
        del values["id"]
        result = await self.session.execute(
            sa.update(sessions)
            .where(sessions.c.id == s.id, sessions.c.sequence == expected_sequence)
            .values(**values)
        )
        if getattr(result, "rowcount", 1) != 1:
            raise ConcurrentChange(f"session {s.id} was changed meanwhile; read it and retry")

    async def save_slots(self, s: Session) -> None:
        """Replace the case slots of a session with the domain object's."""
        await self.session.execute(sa.delete(case_slots).where(case_slots.c.session_id == s.id))
        if s.case_slots:
            await self.session.execute(
                sa.insert(case_slots),
                [
                    {"session_id": s.id, "position": p, "case_id": c}
                    for p, c in sorted(s.case_slots.items())
                ],
            )

    async def place_case(self, session_id: uuid.UUID, position: int, case_id: uuid.UUID) -> None:
        await self.session.execute(
            sa.insert(case_slots).values(session_id=session_id, position=position, case_id=case_id)
        )

    async def session_of_case(self, case_id: uuid.UUID) -> uuid.UUID | None:
        return await self.session.scalar(
            sa.select(case_slots.c.session_id).where(case_slots.c.case_id == case_id)
        )

    async def page(
        self,
        programme_id: uuid.UUID,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Session], int]:
        where = [sessions.c.programme_id == programme_id]
        if start is not None:
            where.append(sessions.c.starts_at >= start.astimezone(UTC))
        if end is not None:
            where.append(sessions.c.starts_at < end.astimezone(UTC))
        total = await self.session.scalar(
            sa.select(sa.func.count()).select_from(sessions).where(*where)
        )
        rows = (
            (
                await self.session.execute(
                    sa.select(sessions)
                    .where(*where)
                    .order_by(sessions.c.starts_at, sessions.c.id)
                    .limit(limit)
                    .offset(offset)
                )
            )
            .mappings()
            .all()
        )
        return await self._with_slots(rows), int(total or 0)

    async def all_of(self, programme_id: uuid.UUID) -> list[Session]:
        rows = (
            (
                await self.session.execute(
                    sa.select(sessions)
                    .where(sessions.c.programme_id == programme_id)
                    .order_by(sessions.c.starts_at, sessions.c.id)
                )
            )
            .mappings()
            .all()
        )
        return await self._with_slots(rows)

    async def upcoming(self, programme_id: uuid.UUID, after: datetime) -> list[Session]:
        """Scheduled sessions of a programme starting after `after`, soonest first."""
        rows = (
            (
                await self.session.execute(
                    sa.select(sessions)
                    .where(
                        sessions.c.programme_id == programme_id,
                        sessions.c.status == SessionStatus.SCHEDULED.value,
                        sessions.c.starts_at > after.astimezone(UTC),
                    )
                    .order_by(sessions.c.starts_at, sessions.c.id)
                )
            )
            .mappings()
            .all()
        )
        return await self._with_slots(rows)

    async def add_waiting(self, case_id: uuid.UUID, programme_id: uuid.UUID, at: datetime) -> None:
        exists = await self.session.scalar(
            sa.select(waiting_cases.c.case_id).where(waiting_cases.c.case_id == case_id)
        )
        if exists is None:
            await self.session.execute(
                sa.insert(waiting_cases).values(
                    case_id=case_id, programme_id=programme_id, approved_at=at.astimezone(UTC)
                )
            )

    async def waiting(self, programme_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self.session.execute(
            sa.select(waiting_cases.c.case_id)
            .where(waiting_cases.c.programme_id == programme_id)
            .order_by(waiting_cases.c.approved_at, waiting_cases.c.case_id)
        )
        return list(rows.scalars())

    async def remove_waiting(self, case_ids: Sequence[uuid.UUID]) -> None:
        if case_ids:
            await self.session.execute(
                sa.delete(waiting_cases).where(waiting_cases.c.case_id.in_(list(case_ids)))
            )


def _template(row: Any) -> Template:
    hh, mm = row["local_start"].split(":")
    return Template(
        id=row["id"],
        version=row["version"],
        title=row["title"],
        language=row["language"],
        session_minutes=row["session_minutes"],
        frequency=Frequency(row["frequency"]),
        interval_weeks=row["interval_weeks"],
        weekday=row["weekday"],
        week_of_month=row["week_of_month"],
        local_start=time(int(hh), int(mm)),
        session_count=row["session_count"],
        curriculum=list(row["curriculum"] or []),
        case_template_id=row["case_template_id"],
        credit_rule=row["credit_rule"],
    )


class SqlaTemplateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_if_absent(self, template: Template, published_at: datetime) -> bool:
        """Store a template version unless it is already here (versions never change)."""
        exists = await self.session.scalar(
            sa.select(templates.c.version).where(
                templates.c.id == template.id, templates.c.version == template.version
            )
        )
        if exists is not None:
            return False
        await self.session.execute(
            sa.insert(templates).values(
                id=template.id,
                version=template.version,
                title=template.title,
                language=template.language,
                session_minutes=template.session_minutes,
                frequency=template.frequency.value,
                interval_weeks=template.interval_weeks,
                weekday=template.weekday,
                week_of_month=template.week_of_month,
                local_start=template.local_start.strftime("%H:%M"),
                session_count=template.session_count,
                curriculum=list(template.curriculum),
                case_template_id=template.case_template_id,
                credit_rule=template.credit_rule,
                published_at=published_at.astimezone(UTC),
            )
        )
        return True

    async def get(self, template_id: uuid.UUID, version: int | None = None) -> Template | None:
        """A template's given version, or its latest when `version` is None."""
        query = sa.select(templates).where(templates.c.id == template_id)
        if version is not None:
            query = query.where(templates.c.version == version)
        row = (
            (await self.session.execute(query.order_by(templates.c.version.desc()).limit(1)))
            .mappings()
            .first()
        )
        return _template(row) if row else None

    async def latest_version(self, template_id: uuid.UUID) -> int:
        value = await self.session.scalar(
            sa.select(sa.func.max(templates.c.version)).where(templates.c.id == template_id)
        )
        return int(value or 0)

    async def page(self, limit: int, offset: int) -> tuple[list[Template], int]:
        """The latest version of each template, by title."""
        latest = (
            sa.select(templates.c.id, sa.func.max(templates.c.version).label("version"))
            .group_by(templates.c.id)
            .subquery()
        )
        total = await self.session.scalar(sa.select(sa.func.count()).select_from(latest))
        rows = (
            (
                await self.session.execute(
                    sa.select(templates)
                    .join(
                        latest,
                        sa.and_(
                            templates.c.id == latest.c.id, templates.c.version == latest.c.version
                        ),
                    )
                    .order_by(templates.c.title, templates.c.id)
                    .limit(limit)
                    .offset(offset)
                )
            )
            .mappings()
            .all()
        )
        return [_template(r) for r in rows], int(total or 0)
