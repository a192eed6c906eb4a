"""The one place where the attendance service is wired."""

from __future__ import annotations

from pathlib import Path

from echo_runtime.service import ServiceRuntime
from echo_runtime.settings import ServiceSettings

from echo_attendance.adapters.tables import metadata
from echo_attendance.domain.model import (
    AlreadyRegistered,
    DuplicateParticipant,
    InvalidAttendance,
    NoCreditYet,
    NotRegistered,
    ParticipantNotFound,
    ProgrammeNotFound,
    RegionMismatch,
    SessionNotFound,
)
from echo_attendance.domain.webhooks import InvalidWebhook, UnknownProvider, WebhookRejected
from echo_attendance.entrypoints.http import router
from echo_attendance.service_layer.presence import receipt_janitor
from echo_attendance.service_layer.schedule import ScheduleHandlers
from echo_attendance.settings import AttendanceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def bootstrap(settings: ServiceSettings | None = None) -> ServiceRuntime:
    """Build the attendance runtime from settings (read from the environment when omitted)."""
    settings = settings or AttendanceSettings()
    if not isinstance(settings, AttendanceSettings):
        raise TypeError("attendance needs AttendanceSettings")
    handlers = ScheduleHandlers(settings)
    runtime = ServiceRuntime(
        settings,
        metadata=metadata,
        migrations=MIGRATIONS,
        handlers=handlers.mapping(),
        routers=[router],
        domain_errors={
            WebhookRejected: (401, "Unauthorized"),
            UnknownProvider: (404, "Not Found"),
            InvalidWebhook: (422, "Unprocessable Content"),
            ParticipantNotFound: (404, "Not Found"),
            ProgrammeNotFound: (404, "Not Found"),
            SessionNotFound: (404, "Not Found"),
            NoCreditYet: (404, "Not Found"),
            DuplicateParticipant: (409, "Conflict"),
            AlreadyRegistered: (409, "Conflict"),
            RegionMismatch: (422, "Unprocessable Content"),
            NotRegistered: (422, "Unprocessable Content"),
            InvalidAttendance: (422, "Unprocessable Content"),
        },
        background=[receipt_janitor(settings)],
        title="ECHO attendance",
    )
    # Handlers emit follow-up events through the runtime they are registered with.
    handlers.runtime = runtime
    return runtime
