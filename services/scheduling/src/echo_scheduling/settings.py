"""Scheduling settings (environment prefix `SCHEDULING_`)."""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from echo_runtime.settings import Environment, ServiceSettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

#: Signs local download links in development only; refused in production.
DEV_LIBRARY_SECRET = "echo-library-development-only-change-me"  # noqa: S105


class LibraryStorageKind(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class SchedulingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULING_", extra="ignore")

    service: str = "scheduling"
    port: int = 8101
    database_url: str = "sqlite+aiosqlite:///./scheduling.db"

    #: The service's data directory (`echo-hub dev` gives one); the local library goes under it.
    data_dir: Path | None = None

    # ------------------------------------------------------------------ library
    #: Where material files go: `local` (a directory) or `s3` (any S3-compatible bucket).
    library_storage: LibraryStorageKind = LibraryStorageKind.LOCAL
    #: The directory of the `local` store (created on first upload); default `DATA_DIR/library`,
    #: else `./scheduling-library`.
    library_dir: Path | None = None
    #: Signs the service's own download links (`local` store). Production with the `local` store
    #: refuses to start without it (every replica must share it); `s3` needs none.
    library_signing_secret: str | None = None
    #: S3 store: endpoint (unset = AWS), bucket, region, credentials (unset = boto3's chain).
    library_s3_endpoint: str | None = None
    library_s3_bucket: str | None = None
    library_s3_region: str = "us-east-1"
    library_s3_access_key_id: str | None = None
    library_s3_secret_access_key: str | None = None
    library_s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    #: S3 downloads: `presigned` (a 307 to a presigned GET: the bucket serves, browsers must
    #: reach it) or `service` (the service's own signed link; it streams the file from the bucket).
    library_s3_downloads: Literal["presigned", "service"] = "presigned"
    #: How long a download link works.
    library_link_ttl_seconds: int = Field(default=300, ge=1, le=7 * 86400)
    #: Largest recording, and largest other file, in bytes.
    library_max_recording_bytes: int = Field(default=500_000_000, ge=1024)
    library_max_file_bytes: int = Field(default=50_000_000, ge=1024)
    #: Public base URL of this service for local download links (default: the request's).
    library_public_url: str | None = None

    @model_validator(mode="after")
    def _library_checks(self) -> Self:
        production = self.environment is Environment.PRODUCTION
        if self.library_signing_secret == DEV_LIBRARY_SECRET and production:
            raise ValueError(
                "production refuses the development LIBRARY_SIGNING_SECRET: set a random one"
                " shared by every replica"
            )
        if self.library_signing_secret is None:
            signs_own_links = (
                self.library_storage is LibraryStorageKind.LOCAL
                or self.library_s3_downloads == "service"
            )
            if production and signs_own_links:
                # A per-process secret would make a link signed by one replica fail on another.
                raise ValueError(
                    "production with the service's own download links (LIBRARY_STORAGE=local,"
                    " or s3 with LIBRARY_S3_DOWNLOADS=service) needs"
                    " SCHEDULING_LIBRARY_SIGNING_SECRET:"
                    " set one random secret (at least 16 characters) shared by every replica,"
                    " or use S3 presigned links (LIBRARY_S3_DOWNLOADS=presigned need no secret)"
                )
            # S3 signs its own links; the local secret then signs nothing, but stays unguessable.
            self.library_signing_secret = (
                secrets.token_urlsafe(32) if production else DEV_LIBRARY_SECRET
            )
        if len(self.library_signing_secret) < 16:
            raise ValueError("LIBRARY_SIGNING_SECRET needs at least 16 characters")
        if self.library_dir is None:
            self.library_dir = (
                self.data_dir / "library" if self.data_dir else Path("./scheduling-library")
            )
        if self.library_public_url is None:
            self.library_public_url = self.public_url
        if self.library_storage is LibraryStorageKind.S3 and not self.library_s3_bucket:
            raise ValueError("LIBRARY_STORAGE=s3 needs LIBRARY_S3_BUCKET")
        return self

    @property
    def library_signing_key(self) -> bytes:
        return (self.library_signing_secret or DEV_LIBRARY_SECRET).encode()
