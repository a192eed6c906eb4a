"""OAuth2 bearer JWTs: RS256 against a JWKS in production, a local HS256 key in development.

Claims: `sub`, `roles` (list), `regions` (list; `*` = every region), `programmes` (list of ids;
absent = every programme of those regions), `aud`, `iss`, `exp`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Any, Literal

import jwt
from echo_contracts.types import Region
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from echo_runtime.problems import Problem


class Role(StrEnum):
    NETWORK_ADMIN = "network-admin"
    HUB_ADMIN = "hub-admin"
    FACILITATOR = "facilitator"
    EXPERT = "expert"
    SPOKE = "spoke"
    OBSERVER = "observer"


ALL_REGIONS = "*"


class Principal(BaseModel):
    """Who is calling, with which roles, in which regions and programmes."""

    model_config = ConfigDict(frozen=True)

    subject: str
    roles: frozenset[Role]
    regions: frozenset[str]
    programmes: frozenset[uuid.UUID] | None = None

    @property
    def subject_id(self) -> uuid.UUID:
        """The subject as a UUID (people in this platform are identified by UUIDs)."""
        try:
            return uuid.UUID(self.subject)
        except ValueError:
            return uuid.uuid5(uuid.NAMESPACE_URL, f"echo-subject:{self.subject}")

    def in_region(self, region: str) -> bool:
        return ALL_REGIONS in self.regions or region in self.regions

    def in_programme(self, programme_id: uuid.UUID | None) -> bool:
        return programme_id is None or self.programmes is None or programme_id in self.programmes

    def has_any(self, roles: Iterable[Role]) -> bool:
        return bool(self.roles.intersection(roles))

    def allows(
        self, roles: Iterable[Role], region: str, programme_id: uuid.UUID | None = None
    ) -> bool:
        """True when one of `roles` applies in `region` (and `programme_id` when given).

        A network-admin may act in every region and programme.
        """
        if Role.NETWORK_ADMIN in self.roles:
            return True
        return self.has_any(roles) and self.in_region(region) and self.in_programme(programme_id)

    def require(
        self, roles: Iterable[Role], region: str, programme_id: uuid.UUID | None = None
    ) -> None:
        """Raise a 403 problem unless `allows(...)`."""
        allowed = list(roles)
        wanted = sorted(r.value for r in allowed)
        if not self.allows(allowed, region, programme_id):
            raise Problem(
                403,
                "Forbidden",
                f"this action needs one of the roles {wanted} in region {region!r}"
                + (f" and programme {programme_id}" if programme_id else "")
                + "; ask a hub-admin for a token with that scope",
            )


class Claims(BaseModel):
    """The claims this platform reads from a verified token, parsed strictly in one place.

    `regions` is a list of region slugs or the single string `"*"` (every region); a lone
    region name as a string (`"ontario"`) is refused, never read character by character.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    sub: str = Field(min_length=1, max_length=255)
    roles: list[Role] = Field(default_factory=list, max_length=len(Role))
    #: `["*"]` (what `echo-hub token --region '*'` mints) means every region too.
    regions: list[Region | Literal["*"]] | Literal["*"] = Field(
        default_factory=list, max_length=100
    )
    programmes: list[uuid.UUID] | None = Field(default=None, max_length=1000)

    def principal(self) -> Principal:
        return Principal(
            subject=self.sub,
            roles=frozenset(self.roles),
            regions=frozenset([ALL_REGIONS] if self.regions == ALL_REGIONS else self.regions),
            programmes=None if self.programmes is None else frozenset(self.programmes),
        )


def _claims_problem(error: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:5]]
    return (
        "the token's claims are not valid ("
        + "; ".join(parts)
        + '); `roles` is a list of roles, `regions` a list of region slugs or the string "*",'
        " `programmes` a list of programme ids"
    )


class TokenVerifier:
    """Verifies bearer tokens; built once from settings.

    `accept_dev_tokens=False` (production) refuses HS256 whatever secret is configured: only
    RS256 tokens verified against the JWKS are accepted.
    """

    def __init__(
        self,
        *,
        audience: str,
        issuer: str,
        dev_secret: str = "",
        jwks_url: str | None = None,
        jwks_json: str | None = None,
        accept_dev_tokens: bool = True,
    ) -> None:
        self.audience = audience
        self.issuer = issuer
        self.dev_secret = dev_secret if accept_dev_tokens else ""
        self._jwks_client = jwt.PyJWKClient(jwks_url) if jwks_url else None
        self._jwks = jwt.PyJWKSet.from_json(jwks_json) if jwks_json else None

    @property
    def fetches_keys(self) -> bool:
        """Whether verifying may fetch keys over the network (a JWKS URL)."""
        return self._jwks_client is not None

    def _key_for(self, token: str) -> tuple[Any, list[str]]:
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        if alg == "RS256":
            kid = header.get("kid")
            if self._jwks is not None:
                for key in self._jwks.keys:
                    if key.key_id == kid:
                        return key.key, ["RS256"]
                raise jwt.InvalidKeyError(f"key {kid!r} is not in the JWKS")
            if self._jwks_client is not None:
                return self._jwks_client.get_signing_key_from_jwt(token).key, ["RS256"]
            raise jwt.InvalidAlgorithmError("RS256 tokens need a configured JWKS")
        if alg == "HS256" and self.dev_secret:
            return self.dev_secret, ["HS256"]
        raise jwt.InvalidAlgorithmError(f"algorithm {alg!r} is not accepted")

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; a 401 problem otherwise."""
        try:
            key, algorithms = self._key_for(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise Problem(
                401,
                "Unauthorized",
                f"the bearer token is not valid ({type(exc).__name__}: {exc});"
                " get a new one (development: `echo-hub token --role R --region X`)",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None
        try:
            return Claims.model_validate(claims).principal()
        except ValidationError as exc:
            raise Problem(
                401,
                "Unauthorized",
                _claims_problem(exc),
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None


def mint_dev_token(
    secret: str,
    *,
    subject: str | None = None,
    roles: Iterable[str],
    regions: Iterable[str],
    programmes: Iterable[str] | None = None,
    ttl_seconds: int = 12 * 3600,
    audience: str = "echo-network",
    issuer: str = "echo-hub",
) -> str:
    """A development token signed with the local key."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject or str(uuid.uuid4()),
        "roles": [Role(r).value for r in roles],
        "regions": list(regions),
        "aud": audience,
        "iss": issuer,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if programmes is not None:
        claims["programmes"] = [str(uuid.UUID(str(p))) for p in programmes]
    return jwt.encode(claims, secret, algorithm="HS256")


def jwks_from_public_pem(pem: bytes, kid: str) -> str:
    """A JWKS document (JSON) holding one RSA public key."""
    from jwt.algorithms import RSAAlgorithm

    jwk = json.loads(RSAAlgorithm.to_jwk(RSAAlgorithm(RSAAlgorithm.SHA256).prepare_key(pem)))
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return json.dumps({"keys": [jwk]})


def authenticate(request: Request) -> Principal:
    """The caller's principal, or a 401 problem (verifies on the calling thread)."""
    verifier: TokenVerifier = request.app.state.verifier
    return verifier.verify(_bearer(request))


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the caller's principal, or a 401 problem.

    A coroutine: a plain function would be run in a worker thread on every request. Verifying
    against a local key takes microseconds on the event loop; a JWKS URL may have to fetch keys
    over the network, so that verification goes to a thread.
    """
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    verifier: TokenVerifier = request.app.state.verifier
    token = _bearer(request)
    if verifier.fetches_keys:
        principal = await run_in_threadpool(verifier.verify, token)
    else:
        principal = verifier.verify(token)
    request.state.principal = principal
    return principal


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ_ONLY_ROLES = frozenset({Role.OBSERVER})


async def refuse_read_only_writes(request: Request) -> None:
    """Router dependency: a write by a bearer token with read-only roles only is a 403 before
    its body is validated (a 422 would describe the schema to someone who may not write).

    Requests without a bearer token pass through: public and signed routes (webhooks,
    survey links) authenticate themselves, and the route answers the rest with a 401.
    """
    if request.method not in WRITE_METHODS or "authorization" not in request.headers:
        return
    principal = await current_principal(request)
    if principal.roles and principal.roles <= READ_ONLY_ROLES:
        raise Problem(
            403,
            "Forbidden",
            f"the roles {sorted(r.value for r in principal.roles)} are read-only: they may read"
            " reports but change nothing; ask a hub-admin for a token with a role that may",
        )


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(
            401,
            "Unauthorized",
            "send `Authorization: Bearer <token>`"
            " (development: `echo-hub token --role R --region X`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
