"""Cases settings (environment prefix `CASES_`)."""

from __future__ import annotations

from typing import Annotated

import phonenumbers
from echo_runtime.settings import ServiceSettings
from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict


class CasesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CASES_", extra="ignore")

    service: str = "cases"
    port: int = 8102
    database_url: str = "sqlite+aiosqlite:///./cases.db"
    #: Phone numbers are parsed as national numbers of these regions (ISO 3166 codes).
    phone_regions: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["CA", "GB", "CN"]
    )
    #: How often scheduled cases whose session has ended are marked presented (seconds).
    presented_check_interval: float = Field(default=60.0, gt=0)

    @field_validator("phone_regions", mode="before")
    @classmethod
    def _split_phone_regions(cls, value: object) -> object:
        if isinstance(value, str):
            return [r.strip().upper() for r in value.split(",") if r.strip()]
        return value

    @field_validator("phone_regions")
    @classmethod
    def _known_phone_regions(cls, value: list[str]) -> list[str]:
        unknown = [r for r in value if r.upper() not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown phone regions {unknown}; use ISO 3166 codes such as CA, GB")
        return [r.upper() for r in value]
