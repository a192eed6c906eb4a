"""Notifications settings (environment prefix `NOTIFICATIONS_`)."""

from __future__ import annotations

from typing import Self

from echo_runtime.settings import Environment, ServiceSettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

DEV_WEBHOOK_SECRET = "echo-development-webhook-secret-change-me"  # noqa: S105 - refused in production


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    service: str = "notifications"
    port: int = 8104
    database_url: str = "sqlite+aiosqlite:///./notifications.db"

    # email over SMTP
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout: float = Field(default=10.0, gt=0)
    #: Development: write each email as a `.eml` file here instead of using SMTP.
    mail_drop_dir: str | None = None
    mail_from: str = "ECHO network <no-reply@echo.local>"
    #: The right-hand side of every Message-ID (stable per delivery, so resends are recognisable).
    message_id_domain: str = "echo.local"

    # signed webhooks
    webhook_secret: str = DEV_WEBHOOK_SECRET
    webhook_timeout: float = Field(default=5.0, gt=0)

    #: Where participants join a session; `{session_id}` and `{region}` are filled in.
    join_url: str = "http://127.0.0.1:8101/sessions/{session_id}/join"
    #: Where participants find a programme's library (recordings, slides); placeholders
    #: `{programme_id}`, `{region}`, `{material_id}` and `{session_id}` are filled in.
    library_url: str = "http://127.0.0.1:8101/v1/programmes/{programme_id}/materials"
    #: How long a "recommendations are ready" message waits for the recommendations' text (the
    #: regional RecommendationsRecorded), so the presenter gets one message, with the text.
    recommendations_grace_seconds: float = Field(default=120.0, ge=0, le=86400)

    # the background dispatcher
    dispatcher: bool = True
    dispatch_interval: float = Field(default=1.0, gt=0)
    dispatch_batch: int = Field(default=100, ge=1, le=5000)
    send_concurrency: int = Field(default=10, ge=1, le=200)
    max_attempts: int = Field(default=5, ge=1, le=30)
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    #: A claimed delivery whose sender died is claimed again after this long (same Message-ID).
    claim_lease_seconds: float = Field(default=300.0, gt=0)

    @model_validator(mode="after")
    def _library_url_placeholders(self) -> Self:
        try:
            self.library_url.format(programme_id="p", region="r", material_id="m", session_id="s")
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                "NOTIFICATIONS_LIBRARY_URL may use only {programme_id}, {region}, {material_id}"
                " and {session_id} as placeholders"
            ) from None
        return self

    @model_validator(mode="after")
    def _refuse_dev_webhook_secret(self) -> Self:
        if self.environment is Environment.PRODUCTION and self.webhook_secret == DEV_WEBHOOK_SECRET:
            raise ValueError("production needs NOTIFICATIONS_WEBHOOK_SECRET (a random secret)")
        return self
