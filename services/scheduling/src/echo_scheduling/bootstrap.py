"""The one place where the scheduling service is wired."""

from __future__ import annotations

from pathlib import Path

from echo_runtime.service import ServiceRuntime
from echo_runtime.settings import ServiceSettings

from echo_scheduling.adapters.tables import metadata
from echo_scheduling.domain.model import InvalidRecurrence, ProgrammeNotFound, UnknownTimeZone
from echo_scheduling.entrypoints.http import router
from echo_scheduling.settings import SchedulingSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def bootstrap(settings: ServiceSettings | None = None) -> ServiceRuntime:
    """Build the scheduling runtime from settings (read from the environment when omitted)."""
    return ServiceRuntime(
        settings or SchedulingSettings(),
        metadata=metadata,
        migrations=MIGRATIONS,
        handlers={},
        routers=[router],
        domain_errors={
            UnknownTimeZone: (422, "Unprocessable Content"),
            InvalidRecurrence: (422, "Unprocessable Content"),
            ProgrammeNotFound: (404, "Not Found"),
        },
        title="ECHO scheduling",
    )
