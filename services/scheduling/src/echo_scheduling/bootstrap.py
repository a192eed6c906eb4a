"""The one place where the scheduling service is wired."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from echo_contracts import CaseApproved, RegistrationConfirmed, TemplatePublished, consumer_for
from echo_contracts.topology import ConsumerSpec
from echo_runtime.service import ServiceRuntime
from echo_runtime.settings import ServiceSettings
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from echo_scheduling.adapters.storage import LinkSigner, LocalDirectoryStorage, S3Storage
from echo_scheduling.adapters.tables import metadata
from echo_scheduling.domain.errors import (
    CaseAlreadyScheduled,
    ConcurrentChange,
    FileTooLarge,
    InvalidAgenda,
    InvalidMaterial,
    InvalidRecurrence,
    MaterialNotFound,
    ProgrammeNotFound,
    SessionCancelledAlready,
    SessionInPast,
    SessionNotFound,
    StorageUnavailable,
    TemplateNotFound,
    UnknownTimeZone,
    UnsupportedFileType,
)
from echo_scheduling.domain.library import SizeLimits
from echo_scheduling.entrypoints.http import router
from echo_scheduling.entrypoints.library_http import router as library_router
from echo_scheduling.service_layer.handlers import (
    when_case_approved_fill_a_case_slot,
    when_registration_confirmed_admit_to_library,
    when_template_published_store_it,
)
from echo_scheduling.service_layer.library import Library
from echo_scheduling.service_layer.ports import MaterialStorage
from echo_scheduling.settings import LibraryStorageKind, SchedulingSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

UNPROCESSABLE = (422, "Unprocessable Content")


#: The scheduling durable with the registrations the library needs. Streams are provisioned from
#: the contracts' spec; until it lists RegistrationConfirmed, `echo-hub streams apply` keeps the
#: old filter on an existing durable (see the README).
INBOX: ConsumerSpec = (
    consumer_for("scheduling")
    if RegistrationConfirmed in consumer_for("scheduling").events
    else dataclasses.replace(
        consumer_for("scheduling"),
        events=(*consumer_for("scheduling").events, RegistrationConfirmed),
    )
)

#: Uploads stream past the service-wide body limit: the route enforces its kind's own limit.
UPLOAD_ROUTE = re.compile(r"^/v1/programmes/[^/]+/materials/?$")
#: Room for the multipart framing and text fields around the largest file.
UPLOAD_OVERHEAD = 64 * 1024


class UploadAwareBodyLimit:
    """The runtime's body limit, with a larger one on the upload route only."""

    def __init__(
        self, app: ASGIApp, /, *, limit_cls: Any, max_bytes: int, upload_bytes: int, **extra: Any
    ) -> None:
        self.default = limit_cls(app, max_bytes=max_bytes, **extra)
        self.upload = limit_cls(app, max_bytes=upload_bytes, **extra)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and UPLOAD_ROUTE.match(scope["path"])
        ):
            await self.upload(scope, receive, send)
        else:
            await self.default(scope, receive, send)


class SchedulingRuntime(ServiceRuntime):
    """The service runtime plus the library (storage, limits, link lifetime)."""

    library: Library

    def create_app(self) -> FastAPI:
        app = super().create_app()
        upload_bytes = self.library.limits.largest + UPLOAD_OVERHEAD
        for n, middleware in enumerate(app.user_middleware):
            if getattr(middleware.cls, "__name__", "") == "BodyLimitMiddleware":
                extra: dict[str, Any] = dict(middleware.kwargs)
                max_bytes = int(extra.pop("max_bytes"))
                app.user_middleware[n] = Middleware(
                    UploadAwareBodyLimit,
                    limit_cls=middleware.cls,
                    max_bytes=max_bytes,
                    upload_bytes=upload_bytes,
                    **extra,
                )
        return app


def build_storage(settings: SchedulingSettings) -> MaterialStorage:
    """The configured material store: a local directory or an S3-compatible bucket."""
    if settings.library_storage is LibraryStorageKind.S3:
        return S3Storage.connect(
            bucket=settings.library_s3_bucket or "",
            endpoint_url=settings.library_s3_endpoint,
            region=settings.library_s3_region,
            access_key_id=settings.library_s3_access_key_id,
            secret_access_key=settings.library_s3_secret_access_key,
            addressing_style=settings.library_s3_addressing_style,
            signer=(
                LinkSigner(settings.library_signing_key)
                if settings.library_s3_downloads == "service"
                else None
            ),
        )
    return LocalDirectoryStorage(
        settings.library_dir or Path("./scheduling-library"),
        LinkSigner(settings.library_signing_key),
    )


def build_library(settings: SchedulingSettings) -> Library:
    """The library's storage, size limits and link lifetime from settings."""
    return Library(
        storage=build_storage(settings),
        limits=SizeLimits(
            recording=settings.library_max_recording_bytes,
            other=settings.library_max_file_bytes,
        ),
        link_ttl=timedelta(seconds=settings.library_link_ttl_seconds),
    )


def bootstrap(settings: ServiceSettings | None = None) -> SchedulingRuntime:
    """Build the scheduling runtime from settings (read from the environment when omitted)."""
    settings = settings or SchedulingSettings()
    if not isinstance(settings, SchedulingSettings):
        settings = SchedulingSettings(**settings.model_dump())
    runtime = SchedulingRuntime(
        settings,
        metadata=metadata,
        migrations=MIGRATIONS,
        routers=[router, library_router],
        consumer=INBOX,
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
            InvalidMaterial: UNPROCESSABLE,
            UnsupportedFileType: (415, "Unsupported Media Type"),
            FileTooLarge: (413, "Content Too Large"),
            MaterialNotFound: (404, "Not Found"),
            StorageUnavailable: (503, "Service Unavailable"),
        },
        title="ECHO scheduling",
    )
    # Handlers emit through the runtime, so they are bound to it after it exists.
    runtime.handlers.update(
        {
            CaseApproved: when_case_approved_fill_a_case_slot(runtime),
            TemplatePublished: when_template_published_store_it,
            RegistrationConfirmed: when_registration_confirmed_admit_to_library,
        }
    )
    runtime.library = build_library(settings)
    return runtime
