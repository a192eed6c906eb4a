"""The one place where the scheduling service is wired."""

from __future__ import annotations

from pathlib import Path

from echo_contracts import CaseApproved, TemplatePublished
from echo_runtime.service import ServiceRuntime
from echo_runtime.settings import ServiceSettings

from echo_scheduling.adapters.tables import metadata
from echo_scheduling.domain.errors import (
    CaseAlreadyScheduled,
    ConcurrentChange,
    InvalidAgenda,
    InvalidRecurrence,
    ProgrammeNotFound,
    SessionCancelledAlready,
    SessionInPast,
    SessionNotFound,
    TemplateNotFound,
    UnknownTimeZone,
)
from echo_scheduling.entrypoints.http import router
from echo_scheduling.service_layer.handlers import (
    when_case_approved_fill_a_case_slot,
    when_template_published_store_it,
)
from echo_scheduling.settings import SchedulingSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

UNPROCESSABLE = (422, "Unprocessable Content")


def bootstrap(settings: ServiceSettings | None = None) -> ServiceRuntime:
    """Build the scheduling runtime from settings (read from the environment when omitted)."""
    runtime = ServiceRuntime(
        settings or SchedulingSettings(),
        metadata=metadata,
        migrations=MIGRATIONS,
        routers=[router],
        domain_errors={
            UnknownTimeZone: UNPROCESSABLE,
            InvalidRecurrence: UNPROCESSABLE,
            SessionInPast: UNPROCESSABLE,
            InvalidAgenda: UNPROCESSABLE,
            ProgrammeNotFound: (404, "Not Found"),
            SessionNotFound: (404, "Not Found"),
            TemplateNotFound: (404, "Not Found"),
            SessionCancelledAlready: (409, "Conflict"),
            ConcurrentChange: (409, "Conflict"),
            CaseAlreadyScheduled: (409, "Conflict"),
        },
        title="ECHO scheduling",
    )
    # Handlers emit through the runtime, so they are bound to it after it exists.
    runtime.handlers.update(
        {
            CaseApproved: when_case_approved_fill_a_case_slot(runtime),
            TemplatePublished: when_template_published_store_it,
        }
    )
    return runtime
