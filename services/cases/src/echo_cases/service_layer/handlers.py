"""Event handlers: what the cases service learns from scheduling and attendance.

Each runs inside the consumer's batch transaction (only the given session, no commit), is
idempotent, and orders by the event's own sequence or time, not by arrival.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from echo_contracts import (
    AgendaUpdated,
    Envelope,
    Event,
    ProgrammeCreated,
    RegistrationConfirmed,
    SessionCancelled,
    SessionRescheduled,
    SessionScheduled,
)
from echo_runtime.consumer import Handler
from echo_runtime.logging import get_logger
from echo_runtime.service import ServiceRuntime
from sqlalchemy.ext.asyncio import AsyncSession

from echo_cases.adapters.repository import SessionInfo, SqlaCaseRepository, SqlaDirectory
from echo_cases.domain.model import CaseStatus, ConcurrentChange

log = get_logger(__name__)

SCHEDULING = "scheduling"
SCHEDULABLE = (CaseStatus.APPROVED, CaseStatus.SCHEDULED, CaseStatus.FOLLOW_UP_DUE)
#: The sequence of a session known only from its agenda (its times are still to come).
PLACEHOLDER_SEQUENCE = -1


async def when_programme_created_remember_region(session: AsyncSession, env: Envelope[Any]) -> None:
    """Know the programme's region, which decides who may submit and read its cases."""
    data: ProgrammeCreated = env.data
    await SqlaDirectory(session).remember_programme(data.programme_id, data.region)


async def _put_times(
    session: AsyncSession,
    env: Envelope[Any],
    session_id: uuid.UUID,
    programme_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    sequence: int,
) -> None:
    directory = SqlaDirectory(session)
    await directory.remember_programme(programme_id, env.region)
    current = await directory.session_info(session_id)
    if current is not None and current.sequence >= sequence:
        return  # a later version of this session was applied already
    await directory.put_session(
        SessionInfo(
            id=session_id,
            programme_id=programme_id,
            region=env.region,
            starts_at=starts_at,
            ends_at=ends_at,
            status="scheduled",
            sequence=sequence,
            agenda_at=current.agenda_at if current else None,
        )
    )


async def when_session_scheduled_record_it(session: AsyncSession, env: Envelope[Any]) -> None:
    """Keep the session's times (they decide when participants may read its cases)."""
    data: SessionScheduled = env.data
    await _put_times(
        session,
        env,
        data.session_id,
        data.programme_id,
        data.starts_at,
        data.ends_at,
        data.sequence,
    )


async def when_session_rescheduled_move_it(session: AsyncSession, env: Envelope[Any]) -> None:
    """Move the session; its cases stay in their slots."""
    data: SessionRescheduled = env.data
    await _put_times(
        session,
        env,
        data.session_id,
        data.programme_id,
        data.starts_at,
        data.ends_at,
        data.sequence,
    )


def build_handlers(runtime: ServiceRuntime) -> dict[type[Event], Handler]:
    """The handlers that emit events need the runtime's outbox."""

    async def when_session_cancelled_unschedule_cases(
        session: AsyncSession, env: Envelope[Any]
    ) -> None:
        """A cancelled session gives its cases back to the approved pool."""
        data: SessionCancelled = env.data
        directory = SqlaDirectory(session)
        await directory.remember_programme(data.programme_id, env.region)
        current = await directory.session_info(data.session_id)
        if current is not None and current.sequence > data.sequence:
            return
        await directory.put_session(
            SessionInfo(
                id=data.session_id,
                programme_id=data.programme_id,
                region=env.region,
                starts_at=data.starts_at,
                ends_at=current.ends_at if current else None,
                status="cancelled",
                sequence=data.sequence,
                agenda_at=current.agenda_at if current else None,
            )
        )
        repo = SqlaCaseRepository(session)
        for case in await repo.in_session(data.session_id):
            if case.status is CaseStatus.SCHEDULED:
                case.unschedule()
                await repo.save(case)
                await repo.audit(
                    case.id, SCHEDULING, "unscheduled", CaseStatus.SCHEDULED, case.status
                )

    async def when_agenda_updated_schedule_cases(session: AsyncSession, env: Envelope[Any]) -> None:
        """Cases placed in the session's slots become scheduled; cases taken out, approved."""
        data: AgendaUpdated = env.data
        directory = SqlaDirectory(session)
        await directory.remember_programme(data.programme_id, env.region)
        current = await directory.session_info(data.session_id)
        if current is not None and current.agenda_at is not None and current.agenda_at >= env.time:
            return  # an agenda published later was applied already
        if current is not None and current.status == "cancelled":
            return
        await directory.put_session(
            SessionInfo(
                id=data.session_id,
                programme_id=data.programme_id,
                region=current.region if current else env.region,
                starts_at=current.starts_at if current else None,
                ends_at=current.ends_at if current else None,
                status=current.status if current else "scheduled",
                sequence=current.sequence if current else PLACEHOLDER_SEQUENCE,
                agenda_at=env.time,
            )
        )
        wanted = {s.case_id: s.position for s in data.case_slots if s.case_id is not None}
        repo = SqlaCaseRepository(session)
        for case in await repo.in_session(data.session_id):
            if case.id not in wanted and case.status is CaseStatus.SCHEDULED:
                case.unschedule()
                await repo.save(case)
                await repo.audit(
                    case.id, SCHEDULING, "unscheduled", CaseStatus.SCHEDULED, case.status
                )
        found = await repo.many(list(wanted))
        for case_id, position in wanted.items():
            placed = found.get(case_id)
            if placed is None or placed.programme_id != data.programme_id:
                log.warning("agenda_case_unknown", case_id=str(case_id), event_id=str(env.id))
                continue
            case = placed
            if case.status not in SCHEDULABLE:
                log.warning(
                    "agenda_case_not_schedulable", case_id=str(case_id), status=case.status.value
                )
                continue
            before = case.status
            events = case.schedule(data.session_id, position)
            if events:
                await repo.save(case)
                await repo.audit(case.id, SCHEDULING, "scheduled", before, case.status)
                await runtime.emit(session, case.region, *events, cause=env)

    async def when_registration_confirmed_grant_reading(
        session: AsyncSession, env: Envelope[Any]
    ) -> None:
        """Registered participants may read the programme's cases after their session."""
        data: RegistrationConfirmed = env.data
        await SqlaDirectory(session).register(
            data.registration_id, data.participant_id, data.programme_id
        )

    return {
        ProgrammeCreated: when_programme_created_remember_region,
        SessionScheduled: when_session_scheduled_record_it,
        SessionRescheduled: when_session_rescheduled_move_it,
        SessionCancelled: when_session_cancelled_unschedule_cases,
        AgendaUpdated: when_agenda_updated_schedule_cases,
        RegistrationConfirmed: when_registration_confirmed_grant_reading,
    }


async def mark_presented_cases(runtime: ServiceRuntime) -> int:
    """Scheduled cases whose session has ended were presented in it; say so once."""
    async with runtime.db.transaction() as session:
        repo = SqlaCaseRepository(session)
        done = 0
        for case in await repo.scheduled_before(datetime.now(UTC)):
            events = case.present()
            await repo.save(case)
            await repo.audit(case.id, "system", "presented", CaseStatus.SCHEDULED, case.status)
            await runtime.emit(session, case.region, *events)
            done += 1
    if done:
        log.info("cases_presented", count=done)
    return done


async def presented_loop(runtime: ServiceRuntime) -> None:
    """Background job: mark cases presented after their session, every few seconds."""
    interval = float(getattr(runtime.settings, "presented_check_interval", 60.0))
    while True:
        try:
            await mark_presented_cases(runtime)
        except ConcurrentChange:
            pass  # another replica or a request changed one of them: next round
        except Exception as exc:  # the database restarting: try again next round
            log.warning("presented_check_failed", error=type(exc).__name__)
        await asyncio.sleep(interval)
