"""Keep the programmes and session windows told by scheduling; recompute when a window moves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from echo_contracts import (
    Envelope,
    ProgrammeCreated,
    ProgrammeProfileUpdated,
    SessionCancelled,
    SessionRescheduled,
    SessionScheduled,
)
from echo_runtime.logging import get_logger
from echo_runtime.service import ServiceRuntime
from sqlalchemy.ext.asyncio import AsyncSession

from echo_attendance.adapters.repository import SqlaAttendanceRepository
from echo_attendance.domain.model import CreditRule
from echo_attendance.service_layer.recording import refresh_record
from echo_attendance.settings import AttendanceSettings

log = get_logger(__name__)


class ScheduleHandlers:
    """Event handlers; they only use the session they are given (one transaction per batch)."""

    def __init__(self, settings: AttendanceSettings) -> None:
        self.settings = settings
        self.runtime: ServiceRuntime | None = None

    def mapping(self) -> dict[type[Any], Any]:
        return {
            ProgrammeCreated: self.when_programme_created_record_it,
            ProgrammeProfileUpdated: self.when_profile_updated_keep_title,
            SessionScheduled: self.when_session_changed_update_window,
            SessionRescheduled: self.when_session_changed_update_window,
            SessionCancelled: self.when_session_changed_update_window,
        }

    async def when_programme_created_record_it(
        self, session: AsyncSession, env: Envelope[Any]
    ) -> None:
        """Record the programme's region and give it the default credit rule (version 1)."""
        data: ProgrammeCreated = env.data
        repo = SqlaAttendanceRepository(session)
        await repo.upsert_programme(
            data.programme_id,
            data.region,
            data.timezone,
            data.session_minutes,
            data.starts_on,
            data.ends_on,
        )
        if await repo.rule(data.programme_id) is None:
            rule = CreditRule(
                1,
                self.settings.default_min_percent,
                Decimal(str(self.settings.default_rounding_hours)),
            )
            await repo.add_rule(data.programme_id, rule, "default")

    async def when_profile_updated_keep_title(
        self, session: AsyncSession, env: Envelope[Any]
    ) -> None:
        """Keep the programme's title for certificates (the latest profile by event time wins)."""
        data: ProgrammeProfileUpdated = env.data
        await SqlaAttendanceRepository(session).set_title(data.programme_id, data.title, env.time)

    async def when_session_changed_update_window(
        self, session: AsyncSession, env: Envelope[Any]
    ) -> None:
        """Apply the latest window by sequence (not arrival); recompute records if it moved."""
        data = env.data
        repo = SqlaAttendanceRepository(session)
        if isinstance(data, SessionCancelled):
            status, ends_at = "cancelled", None
        else:
            status, ends_at = "scheduled", data.ends_at
        changed = await repo.apply_session(
            data.session_id,
            data.programme_id,
            env.region,
            data.sequence,
            status,
            data.starts_at,
            ends_at,
        )
        if not changed or isinstance(data, SessionCancelled):
            return
        row = await repo.session_row(data.session_id)
        assert row is not None
        events = []
        for record in await repo.records_of_session(data.session_id):
            events.extend(await refresh_record(repo, row, record))
        if events and self.runtime is not None:
            await self.runtime.emit(session, env.region, *events, cause=env)
            log.info("attendance_recomputed", session_id=str(data.session_id), events=len(events))
