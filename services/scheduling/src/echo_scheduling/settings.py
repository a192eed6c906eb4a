"""Scheduling settings (environment prefix `SCHEDULING_`)."""

from __future__ import annotations

from echo_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class SchedulingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULING_", extra="ignore")

    service: str = "scheduling"
    port: int = 8101
    database_url: str = "sqlite+aiosqlite:///./scheduling.db"
