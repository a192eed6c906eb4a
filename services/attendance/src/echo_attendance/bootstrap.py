"""The one place where the attendance service is wired."""

from __future__ import annotations

from pathlib import Path

from echo_runtime.clock import Clock, SystemClock
from echo_runtime.service import ServiceRuntime
from echo_runtime.settings import ServiceSettings

from echo_attendance.adapters.tables import metadata
from echo_attendance.domain.evaluation import (
    AlreadyAnswered,
    EvaluationClosed,
    EvaluationNotOpen,
    FormChangedMeanwhile,
    InvalidAnswers,
    InvalidEvaluationForm,
    InvalidEvaluationLink,
    NoEvaluationForm,
    NotAnAttendee,
    SessionNotEnded,
)
from echo_attendance.domain.guests import (
    GuestIdentityMissing,
    GuestPlacesFull,
    RegistrationRequired,
)
from echo_attendance.domain.model import (
    AlreadyRegistered,
    DuplicateParticipant,
    InvalidAttendance,
    MeetingLinkedElsewhere,
    NoCreditYet,
    NotRegistered,
    ParticipantNotFound,
    PresenceInFuture,
    ProgrammeNotFound,
    ProviderNotConfigured,
    RegionMismatch,
    SessionNotFound,
)
from echo_attendance.domain.webhooks import InvalidWebhook, UnknownProvider, WebhookRejected
from echo_attendance.entrypoints.evaluation_page import router as evaluation_page_router
from echo_attendance.entrypoints.evaluations_http import router as evaluations_router
from echo_attendance.entrypoints.http import router
from echo_attendance.entrypoints.timekeeping import use_clock
from echo_attendance.service_layer.evaluations import EvaluationSender
from echo_attendance.service_layer.presence import receipt_janitor
from echo_attendance.service_layer.schedule import ScheduleHandlers
from echo_attendance.settings import AttendanceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def build(
    settings: ServiceSettings | None = None, *, clock: Clock | None = None
) -> tuple[ServiceRuntime, EvaluationSender]:
    """The runtime and its evaluation sender (tests drive the sender with their own clock)."""
    settings = settings or AttendanceSettings()
    if not isinstance(settings, AttendanceSettings):
        raise TypeError("attendance needs AttendanceSettings")
    clock = clock or SystemClock()
    handlers = ScheduleHandlers(settings)
    sender = EvaluationSender(settings, clock)
    unprocessable = (422, "Unprocessable Content")
    runtime = ServiceRuntime(
        settings,
        metadata=metadata,
        migrations=MIGRATIONS,
        handlers=handlers.mapping(),
        routers=[router, evaluations_router, evaluation_page_router],
        domain_errors={
            WebhookRejected: (401, "Unauthorized"),
            UnknownProvider: (404, "Not Found"),
            InvalidWebhook: unprocessable,
            ParticipantNotFound: (404, "Not Found"),
            ProgrammeNotFound: (404, "Not Found"),
            SessionNotFound: (404, "Not Found"),
            NoCreditYet: (404, "Not Found"),
            DuplicateParticipant: (409, "Conflict"),
            AlreadyRegistered: (409, "Conflict"),
            MeetingLinkedElsewhere: (409, "Conflict"),
            ProviderNotConfigured: unprocessable,
            PresenceInFuture: unprocessable,
            RegionMismatch: unprocessable,
            NotRegistered: unprocessable,
            InvalidAttendance: unprocessable,
            InvalidEvaluationForm: unprocessable,
            InvalidAnswers: unprocessable,
            NoEvaluationForm: (404, "Not Found"),
            SessionNotEnded: (409, "Conflict"),
            FormChangedMeanwhile: (409, "Conflict"),
            AlreadyAnswered: (409, "Conflict"),
            NotAnAttendee: (403, "Forbidden"),
            EvaluationNotOpen: (404, "Not Found"),
            EvaluationClosed: (410, "Gone"),
            InvalidEvaluationLink: (401, "Unauthorized"),
            GuestPlacesFull: (409, "Conflict"),
            RegistrationRequired: (403, "Forbidden"),
            GuestIdentityMissing: unprocessable,
        },
        background=[receipt_janitor(settings)]
        + ([sender.run] if settings.evaluation_sender else []),
        title="ECHO attendance",
    )
    # Handlers emit follow-up events through the runtime they are registered with.
    handlers.runtime = runtime
    sender.bind(runtime)
    use_clock(runtime, clock)
    return runtime, sender


def bootstrap(settings: ServiceSettings | None = None) -> ServiceRuntime:
    """Build the attendance runtime from settings (read from the environment when omitted)."""
    return build(settings)[0]
