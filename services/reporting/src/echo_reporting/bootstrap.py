"""The one place where the reporting service is wired."""

from __future__ import annotations

from echo_contracts import ALL_EVENTS, consumer_for
from echo_runtime.service import ServiceRuntime
from echo_runtime.settings import ServiceSettings

from echo_reporting.adapters.tables import metadata
from echo_reporting.domain.metrics import InvalidDateRange
from echo_reporting.entrypoints.dashboard import router as dashboard_router
from echo_reporting.entrypoints.http import router
from echo_reporting.service_layer.projections import when_any_event_update_read_models
from echo_reporting.service_layer.rebuild import MIGRATIONS
from echo_reporting.settings import ReportingSettings


def bootstrap(settings: ServiceSettings | None = None) -> ServiceRuntime:
    """Build the reporting runtime from settings (read from the environment when omitted)."""
    return ServiceRuntime(
        settings or ReportingSettings(),
        metadata=metadata,
        migrations=MIGRATIONS,
        handlers=dict.fromkeys(ALL_EVENTS, when_any_event_update_read_models),
        routers=[router, dashboard_router],
        domain_errors={InvalidDateRange: (422, "Unprocessable Content")},
        title="ECHO reporting",
        consumer=consumer_for("reporting", "projections"),
    )
