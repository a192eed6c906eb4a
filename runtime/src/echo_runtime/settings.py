"""Every service has one pydantic-settings class deriving from `ServiceSettings`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from echo_contracts.types import _REGION_RE, NETWORK_REGION
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from echo_runtime.outbound import OutboundPolicy, parse_networks

DEV_SECRET = "echo-development-only-secret-change-me"  # noqa: S105 - refused outside development


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """Settings every service has; subclasses set `env_prefix` (e.g. `CASES_`) and add their own."""

    model_config = SettingsConfigDict(env_prefix="ECHO_", extra="ignore")

    service: str = "echo"
    environment: Environment = Environment.DEVELOPMENT
    #: The regions this deployment serves (comma separated in the environment).
    regions: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["ontario", "northern-ireland", "shanghai"]
    )
    database_url: str = "sqlite+aiosqlite:///./echo.db"
    nats_url: str = "nats://127.0.0.1:4222"
    nats_user: str | None = None
    nats_password: str | None = None
    nats_creds: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    #: Where people reach this service (links in emails and downloads); `echo-hub dev` sets it.
    public_url: str | None = None
    log_level: str = "INFO"
    #: Serve Prometheus metrics on this port (`<SVC>_METRICS_PORT`, e.g. 9464) and not at
    #: `/metrics` on the public port; unset, `/metrics` is on the public port (development).
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    #: The address the metrics port binds (default: the same as `host`).
    metrics_host: str | None = None
    #: Migrate the database when the service starts. Unset: yes in development and test, no in
    #: production, where the migration Job / one-shot migrates and the service only checks that
    #: the schema is exactly at its head revision (it refuses to start otherwise).
    auto_migrate: bool | None = None
    #: At the superhub: read each region's `network` events from ECHO_NETWORK instead of the
    #: region streams (only services listed in contracts' NETWORK_READERS have such durables).
    network_view: bool = False
    #: Start the broker, consumers and relay with the app; tests of pure HTTP may turn it off.
    messaging: bool = True
    # auth
    auth_audience: str = "echo-network"
    auth_issuer: str = "echo-hub"
    auth_dev_secret: str = DEV_SECRET
    auth_jwks_url: str | None = None
    auth_jwks_json: str | None = None
    #: PostgreSQL connections a process keeps open, and how many more it may open for a burst
    #: (closed again when returned, so each costs a connect and fresh prepared statements).
    #: Size them to the server's `max_connections` across every process and replica.
    database_pool_size: int = Field(default=10, ge=1, le=500)
    database_max_overflow: int = Field(default=10, ge=0, le=500)
    # consumer and relay tuning
    consumer_batch_size: int = Field(default=200, ge=1, le=5000)
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_poll_interval: float = Field(default=0.2, gt=0)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    #: False turns every per-client rate limit off (benchmarks that drive one client hard).
    rate_limits: bool = True
    #: Case submissions (`POST /v1/cases`) per minute per client (token subject, else IP);
    #: a client may spend the minute's allowance at once. 0 turns the limit off.
    rate_limit_per_minute: int = Field(default=60, ge=0)
    #: Networks (CIDRs, comma separated) that requests to user-set URLs may reach although they
    #: are not public (loopback, private, link-local...): a hub's internal webhook receivers.
    #: Empty by default: only public addresses are reached.
    outbound_allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: Video webhooks per minute per sending IP; high, since a provider sends a burst of joins
    #: when a large session starts. 0 turns the limit off.
    webhook_rate_limit_per_minute: int = Field(default=6000, ge=0)

    @property
    def migrates_at_start(self) -> bool:
        if self.auto_migrate is None:
            return self.environment != Environment.PRODUCTION
        return self.auto_migrate

    @field_validator("regions", mode="before")
    @classmethod
    def _split_regions(cls, value: object) -> object:
        if isinstance(value, str):
            return [r.strip() for r in value.split(",") if r.strip()]
        return value

    @field_validator("outbound_allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [n.strip() for n in value.split(",") if n.strip()]
        return value

    @field_validator("outbound_allowed_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value

    @field_validator("regions")
    @classmethod
    def _check_regions(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("serve at least one region, e.g. REGIONS=ontario")
        for region in value:
            if region == NETWORK_REGION or not _REGION_RE.match(region):
                raise ValueError(
                    f"region {region!r} is not a lowercase slug (letters, digits, hyphens)"
                    " other than 'network'"
                )
        return value

    @model_validator(mode="after")
    def _refuse_dev_secrets(self) -> Self:
        """Production verifies RS256 tokens against a JWKS and nothing else: a configuration
        without a JWKS, or with a JWKS and a development secret as well, does not start."""
        if self.environment is not Environment.PRODUCTION:
            return self
        jwks = bool(self.auth_jwks_url or self.auth_jwks_json)
        secret_set = "auth_dev_secret" in self.model_fields_set and bool(self.auth_dev_secret)
        if not jwks:
            raise ValueError(
                "production verifies tokens against a JWKS (RS256): set AUTH_JWKS_URL (your"
                " identity provider's jwks_uri) or AUTH_JWKS_JSON"
                + ("; AUTH_DEV_SECRET is for development only, remove it" if secret_set else "")
            )
        if secret_set:
            raise ValueError(
                "production never accepts development (HS256) tokens, but AUTH_DEV_SECRET is"
                " set beside the JWKS: remove AUTH_DEV_SECRET (or set ENVIRONMENT=development)"
            )
        # the default development secret must not verify anything
        self.auth_dev_secret = ""
        return self

    @property
    def outbound_policy(self) -> OutboundPolicy:
        """The policy of requests to URLs a user can set (see `echo_runtime.outbound`)."""
        return OutboundPolicy(parse_networks(self.outbound_allowed_networks))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
