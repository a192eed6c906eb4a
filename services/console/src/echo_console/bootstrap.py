"""The one place where the console is wired."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from echo_runtime.service import ServiceRuntime
from echo_runtime.settings import ServiceSettings
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from echo_console.adapters.oidc import OidcClient
from echo_console.adapters.platform_api import PlatformApi
from echo_console.entrypoints import cases, me, oversight, programmes, sessions, sign_in
from echo_console.entrypoints.web import (
    HERE,
    Console,
    SecurityHeaders,
    build_templates,
    install_error_pages,
)
from echo_console.service_layer.sessions import SessionStore
from echo_console.settings import ConsoleSettings


class ConsoleRuntime(ServiceRuntime):
    """The shared runtime (logs, traces, health, metrics) without database or messaging."""

    def __init__(self, settings: ConsoleSettings) -> None:
        super().__init__(
            settings,
            metadata=None,
            migrations=None,
            routers=[
                sign_in.router,
                programmes.router,
                sessions.router,
                cases.router,
                me.router,
                oversight.router,
            ],
            title="ECHO console",
        )
        self.console_settings = settings

    def create_app(self) -> FastAPI:
        app = super().create_app()
        settings = self.console_settings
        oidc = (
            OidcClient(
                settings.oidc_issuer,
                settings.oidc_client_id,
                settings.oidc_client_secret,
                settings.oidc_scopes,
                ca_bundle=settings.oidc_ca_bundle,
            )
            if settings.oidc_issuer and settings.oidc_client_id
            else None
        )
        console = Console(
            settings=settings,
            api=PlatformApi(settings),
            store=SessionStore(settings.session_ttl_seconds),
            oidc=oidc,
            templates=build_templates(),
        )
        app.state.console = console
        app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
        install_error_pages(app)
        runtime_lifespan = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(app_: Any) -> AsyncIterator[None]:
            async with runtime_lifespan(app_):
                try:
                    yield
                finally:
                    await console.api.close()
                    if oidc is not None:
                        await oidc.close()

        app.router.lifespan_context = lifespan
        return app

    def asgi(self) -> ASGIApp:
        settings = self.console_settings
        issuer = urlsplit(settings.oidc_issuer or "")
        origin = f" {issuer.scheme}://{issuer.netloc}" if issuer.netloc else ""
        return SecurityHeaders(self.create_app(), form_targets=origin)


def bootstrap(settings: ServiceSettings | None = None) -> ServiceRuntime:
    """Build the console from settings (read from the environment when omitted)."""
    chosen = settings if isinstance(settings, ConsoleSettings) else ConsoleSettings()
    return ConsoleRuntime(chosen)
