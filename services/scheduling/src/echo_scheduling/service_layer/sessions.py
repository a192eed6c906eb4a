"""Use cases on one session: reschedule, cancel, set its agenda."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from echo_contracts import SessionCancelled, SessionRescheduled
from echo_runtime.service import ServiceRuntime
from sqlalchemy.ext.asyncio import AsyncSession

from echo_scheduling.adapters.repository import SqlaProgrammeRepository, SqlaSessionRepository
from echo_scheduling.domain.errors import CaseAlreadyScheduled, SessionNotFound
from echo_scheduling.domain.model import Programme, Session
from echo_scheduling.service_layer import events

Authorize = Callable[[Programme], None]


async def _load(
    session: AsyncSession, session_id: uuid.UUID, authorize: Authorize
) -> tuple[Programme, Session]:
    found = await SqlaSessionRepository(session).get(session_id)
    programme = await SqlaProgrammeRepository(session).get(found.programme_id) if found else None
    if found is None or programme is None:
        raise SessionNotFound(f"no session {session_id}")
    authorize(programme)
    return programme, found


@dataclass(frozen=True)
class RescheduleSession:
    session_id: uuid.UUID
    starts_at: datetime
    minutes: int | None = None


async def reschedule_session(
    runtime: ServiceRuntime,
    cmd: RescheduleSession,
    authorize: Authorize,
    now: datetime | None = None,
) -> tuple[Programme, Session]:
    """Move a session; its calendar UID stays and its sequence rises by one."""
    async with runtime.db.transaction() as session:
        programme, target = await _load(session, cmd.session_id, authorize)
        before = target.sequence
        previous = target.reschedule(
            cmd.starts_at.astimezone(UTC), cmd.minutes, now or datetime.now(UTC)
        )
        await SqlaSessionRepository(session).save(target, before)
        await runtime.emit(
            session,
            programme.region,
            SessionRescheduled(
                session_id=target.id,
                programme_id=programme.id,
                previous_starts_at=previous,
                starts_at=target.starts_at,
                ends_at=target.ends_at,
                timezone=programme.timezone,
                sequence=target.sequence,
            ),
        )
    return programme, target


async def cancel_session(
    runtime: ServiceRuntime, session_id: uuid.UUID, reason: str, authorize: Authorize
) -> tuple[Programme, Session]:
    """Cancel a session with a reason (kept here; the event carries ids only). Idempotent."""
    async with runtime.db.transaction() as session:
        programme, target = await _load(session, session_id, authorize)
        before = target.sequence
        if target.cancel(reason):
            await SqlaSessionRepository(session).save(target, before)
            await runtime.emit(
                session,
                programme.region,
                SessionCancelled(
                    session_id=target.id,
                    programme_id=programme.id,
                    starts_at=target.starts_at,
                    sequence=target.sequence,
                ),
            )
    return programme, target


@dataclass(frozen=True)
class SetAgenda:
    session_id: uuid.UUID
    didactic_topic: str | None
    presenter_name: str | None
    case_slots: dict[int, uuid.UUID] | None = None


async def set_agenda(
    runtime: ServiceRuntime, cmd: SetAgenda, authorize: Authorize
) -> tuple[Programme, Session]:
    """Replace a session's agenda; a missing presenter is a warning on the result, not an error."""
    async with runtime.db.transaction() as session:
        programme, target = await _load(session, cmd.session_id, authorize)
        repo = SqlaSessionRepository(session)
        if cmd.case_slots:
            for case_id in cmd.case_slots.values():
                elsewhere = await repo.session_of_case(case_id)
                if elsewhere is not None and elsewhere != target.id:
                    raise CaseAlreadyScheduled(
                        f"case {case_id} is already in session {elsewhere}; free it there first"
                    )
        target.set_agenda(
            cmd.didactic_topic, cmd.presenter_name, cmd.case_slots, programme.case_slots
        )
        await repo.save(target, target.sequence)
        if cmd.case_slots is not None:
            await repo.save_slots(target)
            await repo.remove_waiting(list(cmd.case_slots.values()))
        await runtime.emit(session, programme.region, events.agenda_updated(target))
    return programme, target
