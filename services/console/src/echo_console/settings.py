"""Console settings (environment prefix `CONSOLE_`)."""

from __future__ import annotations

from typing import Self

from echo_runtime.settings import Environment, ServiceSettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict


class ConsoleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    service: str = "console"
    port: int = 8106
    #: The console owns no data and subscribes to nothing.
    messaging: bool = False
    # The five services' base URLs (what the console calls with the person's token).
    scheduling_url: str = "http://127.0.0.1:8101"
    cases_url: str = "http://127.0.0.1:8102"
    attendance_url: str = "http://127.0.0.1:8103"
    notifications_url: str = "http://127.0.0.1:8104"
    reporting_url: str = "http://127.0.0.1:8105"
    #: Seconds to wait for a service's answer.
    api_timeout: float = Field(default=15.0, gt=0)
    #: How long a sign-in lasts (seconds); it also ends when the token expires.
    session_ttl_seconds: int = Field(default=8 * 3600, ge=60)
    # OpenID Connect (production sign-in)
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid profile"
    #: A CA bundle to trust for the provider (a hub's private CA); the system's otherwise.
    oidc_ca_bundle: str | None = None
    #: Claim names in the identity provider's tokens.
    oidc_roles_claim: str = "roles"
    oidc_regions_claim: str = "regions"
    oidc_programmes_claim: str = "programmes"
    oidc_name_claim: str = "name"

    @property
    def demo_sign_in(self) -> bool:
        """Development and tests offer the demo people; production never does."""
        return self.environment is not Environment.PRODUCTION

    @property
    def secure_cookies(self) -> bool:
        return self.environment is not Environment.DEVELOPMENT

    @model_validator(mode="after")
    def _production_needs_oidc(self) -> Self:
        if self.environment is Environment.PRODUCTION and not (
            self.oidc_issuer and self.oidc_client_id
        ):
            raise ValueError(
                "production needs CONSOLE_OIDC_ISSUER and CONSOLE_OIDC_CLIENT_ID:"
                " people sign in with the hub's identity provider"
            )
        return self
