"""Attendance settings (environment prefix `ATTENDANCE_`)."""

from __future__ import annotations

from typing import Self

from echo_runtime.settings import Environment, ServiceSettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

DEV_WEBHOOK_SECRET = "echo-development-webhook-secret"  # noqa: S105 - refused in production
DEV_CERTIFICATE_SECRET = "echo-development-certificate-secret"  # noqa: S105
DEV_EVALUATION_SECRET = "echo-development-evaluation-secret"  # noqa: S105


class AttendanceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ATTENDANCE_", extra="ignore")

    service: str = "attendance"
    port: int = 8103
    database_url: str = "sqlite+aiosqlite:///./attendance.db"
    #: One secret per video provider (`ATTENDANCE_WEBHOOK_SECRETS='{"zoom": "...", ...}'`).
    webhook_secrets: dict[str, str] = Field(
        default_factory=lambda: {"zoom": DEV_WEBHOOK_SECRET, "generic": DEV_WEBHOOK_SECRET}
    )
    #: Signed webhooks older (or further in the future) than this are refused.
    webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    #: A join/leave/end timed later than its receipt by more than this (the sender's clock
    #: running ahead) is refused with a 422: presence that has not happened earns no credit.
    presence_clock_skew_seconds: int = Field(default=120, ge=0, le=600)
    #: Webhooks handled at once; the rest queue in memory (below the database pool's size).
    webhook_concurrency: int = Field(default=8, ge=1, le=100)
    #: A join this many minutes before a session starts (or a leave after it ends) still
    #: belongs to it; only time inside the scheduled window counts. A leave or meeting end
    #: later than that still closes the segment its join opened.
    match_buffer_minutes: int = Field(default=60, ge=0, le=180)
    #: The credit rule a new programme starts with (version 1).
    default_min_percent: int = Field(default=80, ge=1, le=100)
    default_rounding_hours: float = Field(default=0.25, gt=0, le=4)
    #: Keys the verification codes printed on certificates.
    certificate_secret: str = DEV_CERTIFICATE_SECRET
    #: A TTF font for certificates (Unicode names); DejaVu Sans when installed, else Helvetica.
    certificate_font: str | None = None
    #: Signs the evaluation links sent to attendees and keys the "already answered" markers.
    evaluation_secret: str = DEV_EVALUATION_SECRET
    #: The start of every evaluation link; default `PUBLIC_URL`, else this host and port.
    public_base_url: str = ""
    #: Run the background job that sends each session's survey after the form's delay.
    evaluation_sender: bool = True
    evaluation_interval_seconds: float = Field(default=30, gt=0, le=3600)
    #: Sessions that ended longer ago than this are not surveyed automatically.
    evaluation_lookback_hours: int = Field(default=72, ge=1, le=24 * 60)
    accreditation_statement: str = (
        "This activity was planned and delivered as accredited continuing professional "
        "development. Participants should claim only the credit commensurate with the "
        "extent of their participation."
    )

    @model_validator(mode="after")
    def _link_base(self) -> Self:
        if not self.public_base_url:
            self.public_base_url = self.public_url or f"http://127.0.0.1:{self.port}"
        return self

    @model_validator(mode="after")
    def _refuse_dev_webhook_secrets(self) -> Self:
        if self.environment is Environment.PRODUCTION:
            weak = [p for p, s in self.webhook_secrets.items() if s == DEV_WEBHOOK_SECRET]
            if (
                weak
                or self.certificate_secret == DEV_CERTIFICATE_SECRET
                or self.evaluation_secret == DEV_EVALUATION_SECRET
            ):
                raise ValueError(
                    "production needs ATTENDANCE_WEBHOOK_SECRETS per provider,"
                    " ATTENDANCE_CERTIFICATE_SECRET and ATTENDANCE_EVALUATION_SECRET;"
                    " the development secrets are refused"
                    + (f" (providers {weak})" if weak else "")
                )
        return self
