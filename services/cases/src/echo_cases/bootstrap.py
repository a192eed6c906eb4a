"""The one place where the cases service is wired."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from echo_runtime.service import ServiceRuntime
from echo_runtime.settings import ServiceSettings
from fastapi import FastAPI

from echo_cases.adapters.phi_screener import RegexPhiScreener
from echo_cases.adapters.tables import metadata
from echo_cases.domain.model import (
    CaseNotFound,
    CaseStoreUnavailable,
    ConcurrentChange,
    IllegalTransition,
    InvalidCaseForm,
    SessionNotStarted,
    UnknownProgramme,
)
from echo_cases.domain.screening import CaseContainsPhi, PhiScreener
from echo_cases.entrypoints.http import router
from echo_cases.service_layer.handlers import build_handlers, presented_loop
from echo_cases.settings import CasesSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class CasesRuntime(ServiceRuntime):
    """The runtime plus the PHI screener the routes use."""

    def __init__(self, settings: ServiceSettings, screener: PhiScreener, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.phi_screener = screener

    def create_app(self) -> FastAPI:
        app = super().create_app()
        app.state.phi_screener = self.phi_screener
        return app


def bootstrap(
    settings: ServiceSettings | None = None, *, screener: PhiScreener | None = None
) -> ServiceRuntime:
    """Build the cases runtime from settings (read from the environment when omitted)."""
    settings = settings or CasesSettings()
    regions = getattr(settings, "phone_regions", ["CA", "GB", "CN"])
    runtime = CasesRuntime(
        settings,
        screener or RegexPhiScreener(regions),
        metadata=metadata,
        migrations=MIGRATIONS,
        routers=[router],
        domain_errors={
            CaseContainsPhi: (422, "Unprocessable Content"),
            InvalidCaseForm: (422, "Unprocessable Content"),
            UnknownProgramme: (422, "Unprocessable Content"),
            IllegalTransition: (409, "Conflict"),
            SessionNotStarted: (409, "Conflict"),
            ConcurrentChange: (409, "Conflict"),
            CaseNotFound: (404, "Not Found"),
            CaseStoreUnavailable: (503, "Service Unavailable"),
        },
        background=[presented_loop],
        title="ECHO cases",
    )
    runtime.handlers.update(build_handlers(runtime))
    return runtime
