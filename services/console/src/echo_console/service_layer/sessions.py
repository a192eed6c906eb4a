"""Signed-in sessions, kept server-side: the browser holds only a random id in a cookie."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from echo_runtime.auth import mint_dev_token
from echo_runtime.demo import DEMO_SPOKES, DEMO_STAFF, demo_person_id

from echo_console.adapters.oidc import PendingSignIn, Tokens
from echo_console.domain.people import NETWORK_ADMIN, SPOKE, Person
from echo_console.settings import ConsoleSettings


@dataclass
class ConsoleSession:
    id: str
    person: Person
    #: The bearer token every service call carries (never sent to the browser).
    token: str
    expires_at: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    #: The person's language preference, when the notifications service knows one.
    language: str | None = None
    id_token: str | None = None


class SessionStore:
    """Sessions in memory, keyed by an unguessable id; expired ones are forgotten."""

    def __init__(self, ttl_seconds: int) -> None:
        self.ttl = ttl_seconds
        self._sessions: dict[str, ConsoleSession] = {}
        self._pending: dict[str, PendingSignIn] = {}

    def open(
        self, person: Person, token: str, token_expires_at: float, id_token: str | None = None
    ) -> ConsoleSession:
        self._sweep()
        session = ConsoleSession(
            id=secrets.token_urlsafe(32),
            person=person,
            token=token,
            expires_at=min(time.time() + self.ttl, token_expires_at),
            id_token=id_token,
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> ConsoleSession | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is not None and session.expires_at <= time.time():
            del self._sessions[session_id]
            return None
        return session

    def close(self, session_id: str | None) -> ConsoleSession | None:
        return self._sessions.pop(session_id, None) if session_id else None

    def remember(self, pending: PendingSignIn) -> None:
        self._sweep()
        self._pending[pending.state] = pending

    def take(self, state: str) -> PendingSignIn | None:
        """The pending sign-in of `state`, once (a replayed callback finds nothing)."""
        pending = self._pending.pop(state, None)
        if pending is None or time.time() - pending.created > 600:
            return None
        return pending

    def _sweep(self) -> None:
        now = time.time()
        for key in [k for k, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[key]
        for key in [k for k, p in self._pending.items() if now - p.created > 600]:
            del self._pending[key]


@dataclass(frozen=True)
class DemoPerson:
    key: str
    name: str
    role: str
    region: str
    subject: uuid.UUID


def demo_people(regions: Iterable[str]) -> list[DemoPerson]:
    """The people `echo-hub dev` seeds, each role in each region, and one network-admin."""
    people = [
        DemoPerson(
            "network:network-admin",
            "Noor Superhub",
            NETWORK_ADMIN,
            "*",
            demo_person_id("network", NETWORK_ADMIN),
        )
    ]
    for region in regions:
        for name, role in DEMO_STAFF:
            people.append(
                DemoPerson(f"{region}:{role}", name, role, region, demo_person_id(region, role))
            )
        for n, (name, _) in enumerate(DEMO_SPOKES):
            people.append(
                DemoPerson(
                    f"{region}:spoke{n}", name, SPOKE, region, demo_person_id(region, str(n))
                )
            )
    return people


def sign_in_demo(store: SessionStore, settings: ConsoleSettings, key: str) -> ConsoleSession:
    """A development sign-in as one demo person, with a token minted like `echo-hub token`."""
    chosen = next((p for p in demo_people(settings.regions) if p.key == key), None)
    if chosen is None:
        raise LookupError(f"no demo person {key!r}")
    ttl = settings.session_ttl_seconds
    token = mint_dev_token(
        settings.auth_dev_secret,
        subject=str(chosen.subject),
        roles=[chosen.role],
        regions=[chosen.region],
        ttl_seconds=ttl,
        audience=settings.auth_audience,
        issuer=settings.auth_issuer,
    )
    person = Person(
        subject=str(chosen.subject),
        name=chosen.name,
        roles=frozenset({chosen.role}),
        regions=frozenset({chosen.region}),
    )
    return store.open(person, token, time.time() + ttl)


def _names(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(v for v in value.replace(",", " ").split() if v)
    return frozenset(str(v) for v in value)


def person_from_claims(claims: Mapping[str, Any], settings: ConsoleSettings) -> Person:
    """Roles, regions and programmes from the claim names this hub's provider uses."""
    programmes = claims.get(settings.oidc_programmes_claim)
    return Person(
        subject=str(claims["sub"]),
        name=str(claims.get(settings.oidc_name_claim) or claims["sub"]),
        roles=_names(claims.get(settings.oidc_roles_claim)),
        regions=_names(claims.get(settings.oidc_regions_claim)),
        programmes=None if programmes is None else _names(programmes),
    )


def sign_in_oidc(store: SessionStore, settings: ConsoleSettings, tokens: Tokens) -> ConsoleSession:
    person = person_from_claims(tokens.claims, settings)
    return store.open(person, tokens.access_token, tokens.expires_at, id_token=tokens.id_token)
