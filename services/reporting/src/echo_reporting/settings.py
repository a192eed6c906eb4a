"""Reporting settings (environment prefix `REPORTING_`)."""

from __future__ import annotations

from echo_runtime.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_", extra="ignore")

    service: str = "reporting"
    port: int = 8105
    database_url: str = "sqlite+aiosqlite:///./reporting.db"
    #: Events per database transaction when rebuilding the read models from the streams.
    rebuild_batch_size: int = Field(default=2000, ge=1, le=50_000)
    #: Idle wait of a pull (seconds): messages still return at once. Short waits lose the odd
    #: message to a timeout race (redelivered only after ack_wait); see the README.
