"""SQLAlchemy repositories: cases (with their audit trail) and what the cases service learns
about programmes, sessions and registrations from other services' events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from echo_cases.adapters.tables import (
    case_audit,
    case_recommendations,
    cases,
    outbox,
    programme_templates,
    programmes,
    registrations,
    sessions,
)
from echo_cases.domain.model import AFTER_SESSION, Case, CaseStatus, ConcurrentChange


def _utc(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns.
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _case(row: Any) -> Case:
    due = row["follow_up_due_on"]
    return Case(
        id=row["id"],
        programme_id=row["programme_id"],
        region=row["region"],
        presenter_id=row["presenter_id"],
        template_id=row["template_id"],
        template_version=row["template_version"],
        fields=dict(row["fields"]),
        status=CaseStatus(row["status"]),
        session_id=row["session_id"],
        slot=row["slot"],
        rejection_reason=row["rejection_reason"],
        recommendations=row["recommendations"],
        follow_up_due_on=due if isinstance(due, date) or due is None else date.fromisoformat(due),
        created_at=_utc(row["created_at"]) or datetime.now(UTC),
        version=row["version"],
    )


def _values(case: Case) -> dict[str, Any]:
    return {
        "programme_id": case.programme_id,
        "region": case.region,
        "presenter_id": case.presenter_id,
        "template_id": case.template_id,
        "template_version": case.template_version,
        "fields": case.fields,
        "status": case.status.value,
        "session_id": case.session_id,
        "slot": case.slot,
        "rejection_reason": case.rejection_reason,
        "recommendations": case.recommendations,
        "follow_up_due_on": case.follow_up_due_on,
    }


@dataclass(frozen=True)
class SessionInfo:
    id: uuid.UUID
    programme_id: uuid.UUID
    region: str
    starts_at: datetime | None
    ends_at: datetime | None
    status: str
    sequence: int
    agenda_at: datetime | None


class SqlaCaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, case_id: uuid.UUID, *, for_update: bool = False) -> Case | None:
        query = sa.select(cases).where(cases.c.id == case_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).mappings().first()
        return _case(row) if row else None

    async def save(self, case: Case) -> None:
        """Write a changed case; ConcurrentChange when someone else wrote it since we read it."""
        result = await self.session.execute(
            sa.update(cases)
            .where(cases.c.id == case.id, cases.c.version == case.version)
            .values(updated_at=datetime.now(UTC), version=case.version + 1, **_values(case))
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentChange(
                f"case {case.id} was changed by someone else just now; read it again and retry"
            )
        case.version += 1

    async def in_session(self, session_id: uuid.UUID) -> list[Case]:
        rows = (
            await self.session.execute(sa.select(cases).where(cases.c.session_id == session_id))
        ).mappings()
        return [_case(r) for r in rows]

    async def many(self, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, Case]:
        if not case_ids:
            return {}
        rows = (
            await self.session.execute(sa.select(cases).where(cases.c.id.in_(case_ids)))
        ).mappings()
        return {r["id"]: _case(r) for r in rows}

    async def scheduled_before(self, moment: datetime, limit: int = 200) -> list[Case]:
        """Scheduled cases whose session has ended by `moment`."""
        rows = (
            await self.session.execute(
                sa.select(cases)
                .join(sessions, sessions.c.id == cases.c.session_id)
                .where(
                    cases.c.status == CaseStatus.SCHEDULED.value,
                    sessions.c.ends_at.is_not(None),
                    sessions.c.ends_at <= moment,
                )
                .limit(limit)
            )
        ).mappings()
        return [_case(r) for r in rows]

    async def list_visible(
        self,
        programme_id: uuid.UUID,
        *,
        everything: bool,
        viewer: uuid.UUID,
        registered: bool,
        now: datetime,
        status: CaseStatus | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Case], int]:
        """The programme's cases that a viewer may read (hub: all; participant: see access)."""
        where: list[Any] = [cases.c.programme_id == programme_id]
        if status is not None:
            where.append(cases.c.status == status.value)
        if not everything:
            after = [cases.c.presenter_id == viewer]
            if registered:
                after.append(cases.c.status.in_([s.value for s in AFTER_SESSION]))
                after.append(
                    sa.and_(
                        cases.c.status == CaseStatus.SCHEDULED.value,
                        sessions.c.starts_at.is_not(None),
                        sessions.c.starts_at <= now,
                    )
                )
            where.append(sa.or_(*after))
        base = cases.outerjoin(sessions, sessions.c.id == cases.c.session_id)
        total = await self.session.scalar(
            sa.select(sa.func.count()).select_from(base).where(*where)
        )
        rows = (
            await self.session.execute(
                sa.select(cases)
                .select_from(base)
                .where(*where)
                .order_by(cases.c.created_at, cases.c.id)
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        return [_case(r) for r in rows], int(total or 0)

    async def audit(
        self,
        case_id: uuid.UUID,
        actor: str,
        action: str,
        from_status: CaseStatus | None = None,
        to_status: CaseStatus | None = None,
    ) -> None:
        """Record who read or changed a case (ids and actions only)."""
        await self.session.execute(
            sa.insert(case_audit).values(
                case_id=case_id,
                actor=actor[:64],
                action=action,
                from_status=from_status.value if from_status else None,
                to_status=to_status.value if to_status else None,
                at=datetime.now(UTC),
            )
        )

    async def add_recommendations(self, case: Case, issued_by: uuid.UUID) -> None:
        """Keep this set of recommendations beside the ones the case had before."""
        assert case.recommendations is not None
        await self.session.execute(
            sa.insert(case_recommendations).values(
                case_id=case.id,
                text=case.recommendations,
                issued_by=issued_by,
                issued_at=datetime.now(UTC),
                follow_up_due_on=case.follow_up_due_on,
            )
        )

    async def recommendation_history(self, case_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = (
            await self.session.execute(
                sa.select(
                    case_recommendations.c.text,
                    case_recommendations.c.issued_by,
                    case_recommendations.c.issued_at,
                    case_recommendations.c.follow_up_due_on,
                )
                .where(case_recommendations.c.case_id == case_id)
                .order_by(case_recommendations.c.id)
            )
        ).mappings()
        return [{**dict(r), "issued_at": _utc(r["issued_at"])} for r in rows]

    async def audit_trail(
        self, case_id: uuid.UUID, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        where = case_audit.c.case_id == case_id
        total = await self.session.scalar(
            sa.select(sa.func.count()).select_from(case_audit).where(where)
        )
        rows = (
            await self.session.execute(
                sa.select(case_audit)
                .where(where)
                .order_by(case_audit.c.id)
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        return [{**dict(r), "at": _utc(r["at"])} for r in rows], int(total or 0)


def _bound_insert(table: sa.Table, prefix: str, columns: list[str]) -> sa.Insert:
    """INSERT of `columns` with named, typed bind parameters (`prefix` keeps the names of
    different tables apart when they share one statement); built once, compiled once."""
    return sa.insert(table).values(
        {name: sa.bindparam(f"{prefix}{name}", type_=table.c[name].type) for name in columns}
    )


_CASE_COLUMNS = [c.name for c in cases.c]
_AUDIT_COLUMNS = ["case_id", "actor", "action", "from_status", "to_status", "at"]
_OUTBOX_COLUMNS = ["event_id", "subject", "event_type", "body", "traceparent", "created_at"]
_INSERT_CASE = _bound_insert(cases, "c_", _CASE_COLUMNS)
_INSERT_AUDIT = _bound_insert(case_audit, "a_", _AUDIT_COLUMNS)
_INSERT_OUTBOX = _bound_insert(outbox, "o_", _OUTBOX_COLUMNS)
#: PostgreSQL: the three rows in one statement (data-modifying CTEs), atomic on its own.
_INSERT_SUBMISSION = _INSERT_OUTBOX.add_cte(
    _INSERT_CASE.cte("new_case"), _INSERT_AUDIT.cte("new_audit")
)


async def store_submission(
    conn: AsyncConnection, case: Case, actor: str, outbox_row: dict[str, Any]
) -> None:
    """Store a new case, its `submitted` audit row and its outbox row, all or nothing.

    The hot path of the service (`POST /v1/cases`), so on Core statements built once instead of
    the ORM session, on the connection of `Database.reads()` the submission's lookup used (one
    pool checkout a request): on PostgreSQL (autocommit there) one statement, atomic on its
    own (one round trip, no BEGIN and COMMIT); on SQLite the lookup's read is ended and the
    three inserts run in one transaction. `outbox_row`: `echo_runtime.outbox.outbox_row`.
    """
    now = datetime.now(UTC)
    params: dict[str, Any] = {
        f"c_{name}": value
        for name, value in {
            "id": case.id,
            "created_at": case.created_at,
            "updated_at": now,
            "version": case.version,
            **_values(case),
        }.items()
    }
    params.update(
        a_case_id=case.id,
        a_actor=actor[:64],
        a_action="submitted",
        a_from_status=None,
        a_to_status=case.status.value,
        a_at=now,
    )
    params.update({f"o_{name}": outbox_row[name] for name in _OUTBOX_COLUMNS})
    if conn.dialect.name == "postgresql":
        assert conn.sync_connection is not None
        assert conn.sync_connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        await conn.execute(_INSERT_SUBMISSION, params)
        return
    if conn.in_transaction():
        await conn.commit()  # the lookup's read
    async with conn.begin():
        await conn.execute(_INSERT_CASE, params)
        await conn.execute(_INSERT_AUDIT, params)
        await conn.execute(_INSERT_OUTBOX, params)


@dataclass(frozen=True)
class SubmissionContext:
    """What a case submission needs to know about its programme and presenter."""

    region: str
    template: tuple[str, int] | None
    registered: bool


#: Everything a submission checks, in one statement built once (see `submission_context`).
_SUBMISSION_CONTEXT = (
    sa.select(
        programmes.c.region,
        programme_templates.c.template_id,
        programme_templates.c.template_version,
        sa.select(registrations.c.id)
        .where(
            registrations.c.participant_id == sa.bindparam("participant_id", type_=sa.Uuid),
            registrations.c.programme_id == sa.bindparam("programme_id", type_=sa.Uuid),
        )
        .limit(1)
        .scalar_subquery()
        .label("registration_id"),
    )
    .select_from(programmes)
    .outerjoin(programme_templates, programme_templates.c.programme_id == programmes.c.id)
    .where(programmes.c.id == sa.bindparam("programme_id", type_=sa.Uuid))
)


async def submission_context(
    conn: AsyncConnection, programme_id: uuid.UUID, participant_id: uuid.UUID
) -> SubmissionContext | None:
    """In one statement: the programme's region, its chosen template, and whether the
    participant is registered in it (None when the programme is unknown).

    The statement is built once (building and hashing it per request cost more CPU than
    running it)."""
    row = (
        await conn.execute(
            _SUBMISSION_CONTEXT, {"programme_id": programme_id, "participant_id": participant_id}
        )
    ).first()
    if row is None:
        return None
    template = (str(row[1]), int(row[2])) if row[1] is not None else None
    return SubmissionContext(str(row[0]), template, row[3] is not None)


class SqlaDirectory:
    """Programmes, sessions and registrations as the cases service knows them from events."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def programme_region(self, programme_id: uuid.UUID) -> str | None:
        region = await self.session.scalar(
            sa.select(programmes.c.region).where(programmes.c.id == programme_id)
        )
        return str(region) if region is not None else None

    async def remember_programme(self, programme_id: uuid.UUID, region: str) -> None:
        if await self.programme_region(programme_id) is None:
            await self.session.execute(
                sa.insert(programmes).values(
                    id=programme_id, region=region, created_at=datetime.now(UTC)
                )
            )

    async def template_of(self, programme_id: uuid.UUID) -> tuple[str, int] | None:
        """The (template id, version) the programme chose, or None for the default."""
        row = (
            await self.session.execute(
                sa.select(
                    programme_templates.c.template_id, programme_templates.c.template_version
                ).where(programme_templates.c.programme_id == programme_id)
            )
        ).first()
        return (str(row[0]), int(row[1])) if row else None

    async def choose_template(
        self, programme_id: uuid.UUID, template_id: str, version: int, actor: str
    ) -> None:
        values = {
            "template_id": template_id,
            "template_version": version,
            "set_by": actor[:64],
            "set_at": datetime.now(UTC),
        }
        if await self.template_of(programme_id) is None:
            await self.session.execute(
                sa.insert(programme_templates).values(programme_id=programme_id, **values)
            )
        else:
            await self.session.execute(
                sa.update(programme_templates)
                .where(programme_templates.c.programme_id == programme_id)
                .values(**values)
            )

    async def session_info(self, session_id: uuid.UUID) -> SessionInfo | None:
        row = (
            (await self.session.execute(sa.select(sessions).where(sessions.c.id == session_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return SessionInfo(
            id=row["id"],
            programme_id=row["programme_id"],
            region=row["region"],
            starts_at=_utc(row["starts_at"]),
            ends_at=_utc(row["ends_at"]),
            status=row["status"],
            sequence=row["sequence"],
            agenda_at=_utc(row["agenda_at"]),
        )

    async def put_session(self, info: SessionInfo) -> None:
        values = {
            "programme_id": info.programme_id,
            "region": info.region,
            "starts_at": info.starts_at,
            "ends_at": info.ends_at,
            "status": info.status,
            "sequence": info.sequence,
            "agenda_at": info.agenda_at,
        }
        if await self.session_info(info.id) is None:
            await self.session.execute(sa.insert(sessions).values(id=info.id, **values))
        else:
            await self.session.execute(
                sa.update(sessions).where(sessions.c.id == info.id).values(**values)
            )

    async def sessions_of(self, programme_id: uuid.UUID) -> list[SessionInfo]:
        rows = (
            await self.session.execute(
                sa.select(sessions.c.id)
                .where(sessions.c.programme_id == programme_id)
                .order_by(sessions.c.starts_at)
            )
        ).scalars()
        found = [await self.session_info(i) for i in list(rows)]
        return [s for s in found if s is not None]

    async def register(
        self, registration_id: uuid.UUID, participant_id: uuid.UUID, programme_id: uuid.UUID
    ) -> None:
        exists = await self.session.scalar(
            sa.select(registrations.c.id).where(registrations.c.id == registration_id)
        )
        if exists is None:
            await self.session.execute(
                sa.insert(registrations).values(
                    id=registration_id, participant_id=participant_id, programme_id=programme_id
                )
            )

    async def is_registered(self, participant_id: uuid.UUID, programme_id: uuid.UUID) -> bool:
        found = await self.session.scalar(
            sa.select(registrations.c.id)
            .where(
                registrations.c.participant_id == participant_id,
                registrations.c.programme_id == programme_id,
            )
            .limit(1)
        )
        return found is not None
