"""Use cases on programmes: one function per command."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, time

from echo_contracts import ProgrammeCreated, ProgrammeProfileUpdated, SessionScheduled
from echo_runtime.service import ServiceRuntime

from echo_scheduling.adapters.repository import SqlaProgrammeRepository
from echo_scheduling.domain.model import Programme


@dataclass(frozen=True)
class CreateProgramme:
    region: str
    title: str
    language: str
    timezone: str
    session_minutes: int
    starts_on: date
    local_start: time
    session_count: int
    interval_weeks: int
    created_by: str


async def create_programme(runtime: ServiceRuntime, cmd: CreateProgramme) -> Programme:
    """Create a programme, generate its sessions, and emit their events in one transaction."""
    programme = Programme(
        id=uuid.uuid4(),
        region=cmd.region,
        title=cmd.title,
        language=cmd.language,
        timezone=cmd.timezone,
        session_minutes=cmd.session_minutes,
        starts_on=cmd.starts_on,
        local_start=cmd.local_start,
        session_count=cmd.session_count,
        interval_weeks=cmd.interval_weeks,
    )
    sessions = programme.generate_sessions()
    async with runtime.db.transaction() as session:
        await SqlaProgrammeRepository(session).add(programme, cmd.created_by)
        await runtime.emit(
            session,
            programme.region,
            ProgrammeCreated(
                programme_id=programme.id,
                region=programme.region,
                language=programme.language,
                timezone=programme.timezone,
                session_minutes=programme.session_minutes,
                starts_on=programme.starts_on,
                ends_on=sessions[-1].starts_at.date(),
            ),
            ProgrammeProfileUpdated(programme_id=programme.id, title=programme.title),
            *[
                SessionScheduled(
                    session_id=s.id,
                    programme_id=programme.id,
                    starts_at=s.starts_at,
                    ends_at=s.ends_at,
                    timezone=programme.timezone,
                )
                for s in sessions
            ],
        )
    return programme
