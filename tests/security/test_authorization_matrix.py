"""Role x endpoint x region matrix of all five services, in production auth mode (RS256 + JWKS).

Every route of every service's OpenAPI must have an entry in `EXPECTED` (a new route without one
fails the test). Resources are made through the real flow in region `ontario` (a programme and
its sessions in scheduling, a participant and registration in attendance, a case submitted by
that participant) and reach the other services over NATS. Each route is then called with:

* the six roles with a token for `ontario` and the six with a token for `shanghai`;
* no token, an expired token, a token for another audience, an `alg: none` token and a token
  signed by a key that is not in the JWKS (each of those claiming network-admin everywhere).

Expected: 401 for every bad token; for a role/region the route does not allow, 403 (or 404 where
the service hides what the caller may not see); for an allowed one, neither 401/403 nor a 5xx.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from echo_runtime.auth import jwks_from_public_pem
from echo_runtime.natsserver import NatsServer
from echo_runtime.testing import eventually

from tests.security.stack import SERVICES, Served, served_stack

pytestmark = pytest.mark.integration

HOME, AWAY = "ontario", "shanghai"
NA, HA, FA, EX, SP, OB = "network-admin", "hub-admin", "facilitator", "expert", "spoke", "observer"
ROLES = (NA, HA, FA, EX, SP, OB)
ALL = frozenset(ROLES)
BAD_TOKENS = ("no token", "expired", "wrong audience", "alg none", "key not in JWKS")
KID = "echo-matrix"


@dataclass(frozen=True)
class Rule:
    """Who may call a route: `roles` (in the resource's region when `scoped`), or a public or
    self-authenticating route (`public` says why)."""

    roles: frozenset[str] = frozenset()
    scoped: bool = True
    body: Any = None
    params: dict[str, str] | None = None
    public: str | None = None
    #: Authenticates by its own signature (HMAC, signed link): a bearer token never opens it.
    signed: str | None = None


def public(reason: str) -> Rule:
    return Rule(public=reason)


def signed(reason: str, body: Any = None) -> Rule:
    return Rule(signed=reason, body=body)


def allow(
    *roles: str, scoped: bool = True, body: Any = None, params: dict[str, str] | None = None
) -> Rule:
    return Rule(frozenset(roles), scoped, body, params)


OPS = {
    ("GET", "/healthz"): public("liveness probe"),
    ("GET", "/readyz"): public("readiness probe (says only ok/down)"),
    ("GET", "/metrics"): public("Prometheus scrape; the network policy admits only the scraper"),
    ("GET", "/asyncapi.json"): public("event catalogue: schemas, no data"),
    ("GET", "/asyncapi"): public("event catalogue page"),
}
TODAY = date.today()
PROGRAMME = {
    "region": HOME,
    "title": "Matrix programme",
    "timezone": "America/Toronto",
    "starts_on": str(TODAY + timedelta(days=14)),
    "local_start": "12:00",
    "session_count": 4,
}
LINK = {"kind": "link", "title": "Matrix guideline", "url": "https://example.org/guideline"}
TEMPLATE = {"title": "Matrix template", "weekday": 2, "local_start": "12:00"}
CASE_FIELDS = {
    "presenting_question": "How should we adjust insulin for a patient with rising HbA1c?",
    "age_band": "50-59",
    "sex": "male",
    "relevant_history": "Type 2 diabetes for 12 years, hypertension, BMI 34.",
    "medications": "Metformin 1000 mg BID, ramipril 10 mg daily.",
    "investigations": "LDL 2.9 mmol/L, BP 142/88.",
    "what_was_tried": "Diet counselling for 6 months.",
    "specific_question": "Add an SGLT2 inhibitor or a GLP-1 agonist first?",
}
PARTICIPANT = {
    "region": HOME,
    "name": "Matrix Person",
    "email": "matrix.person@example.org",
    "profession": "nurse",
    "clinic": "Matrix clinic",
    "clinic_id": str(uuid.uuid4()),
}

EXPECTED: dict[str, dict[tuple[str, str], Rule]] = {
    "scheduling": {
        **OPS,
        ("POST", "/v1/programmes"): allow(NA, HA, body=PROGRAMME),
        ("GET", "/v1/programmes"): allow(*ROLES, scoped=False),
        ("GET", "/v1/programmes/{programme_id}"): allow(*ROLES),
        ("PATCH", "/v1/programmes/{programme_id}"): allow(NA, HA, body={"title": "Renamed"}),
        ("GET", "/v1/programmes/{programme_id}/sessions"): allow(*ROLES),
        ("POST", "/v1/programmes/{programme_id}/sessions"): allow(
            NA, HA, body={"starts_on": str(TODAY + timedelta(days=60))}
        ),
        ("GET", "/v1/programmes/{programme_id}/calendar.ics"): allow(*ROLES),
        ("GET", "/v1/sessions/{session_id}"): allow(*ROLES),
        ("PATCH", "/v1/sessions/{session_id}"): allow(
            NA,
            HA,
            body={"starts_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()},
        ),
        ("POST", "/v1/sessions/{session_id}/cancel"): allow(NA, HA, body={"reason": "matrix"}),
        ("PUT", "/v1/sessions/{session_id}/agenda"): allow(
            NA, HA, FA, body={"didactic_topic": "Matrix topic"}
        ),
        ("POST", "/v1/templates"): allow(NA, scoped=False, body=TEMPLATE),
        ("GET", "/v1/templates"): allow(*ROLES, scoped=False),
        ("GET", "/v1/templates/{template_id}"): allow(*ROLES, scoped=False),
        ("PUT", "/v1/templates/{template_id}"): allow(NA, scoped=False, body=TEMPLATE),
        # the session library: staff write; staff, hub team and registered spokes read
        ("POST", "/v1/programmes/{programme_id}/materials"): allow(NA, HA, FA, EX, body=LINK),
        ("GET", "/v1/programmes/{programme_id}/materials"): allow(NA, HA, FA, EX),
        ("GET", "/v1/programmes/{programme_id}/library/search"): allow(
            NA, HA, FA, EX, params={"q": "guideline"}
        ),
        ("GET", "/v1/materials/{material_id}"): allow(NA, HA, FA, EX),
        ("GET", "/v1/materials/{material_id}/download"): allow(NA, HA, FA, EX),
        ("DELETE", "/v1/materials/{material_id}"): allow(NA, HA, FA, EX),
        ("GET", "/v1/library/files/{material_id}"): signed(
            "download link: expires + HMAC signature in the query, no bearer token"
        ),
        ("POST", "/v1/templates/{template_id}/replicate"): allow(
            NA,
            HA,
            body={"region": HOME, "timezone": "America/Toronto", "starts_on": str(TODAY)},
        ),
    },
    "cases": {
        **OPS,
        ("GET", "/v1/case-templates"): allow(*ROLES, scoped=False),
        ("PUT", "/v1/case-templates/programmes/{programme_id}"): allow(
            HA, FA, body={"template_id": "echo-default"}
        ),
        # a spoke submits only to a programme it is registered to (the matrix's spoke tokens
        # are of unregistered people; the registered spoke's submission is the seeding step)
        ("POST", "/v1/cases"): allow(
            HA,
            FA,
            body=lambda ids: {"programme_id": ids["programme_id"], "fields": CASE_FIELDS},
        ),
        ("GET", "/v1/cases"): allow(*ROLES, scoped=False),
        ("GET", "/v1/cases/{case_id}"): allow(HA, FA, EX),
        ("POST", "/v1/cases/{case_id}/review"): allow(HA, FA, EX),
        ("POST", "/v1/cases/{case_id}/approve"): allow(HA, FA),
        ("POST", "/v1/cases/{case_id}/reject"): allow(HA, FA, body={"reason": "matrix"}),
        ("POST", "/v1/cases/{case_id}/presented"): allow(HA, FA),
        ("POST", "/v1/cases/{case_id}/recommendations"): allow(HA, FA, body={"text": "Advice."}),
        ("POST", "/v1/cases/{case_id}/follow-up"): allow(HA, FA, body={"weeks": 4}),
        ("GET", "/v1/cases/{case_id}/audit"): allow(HA, FA),
    },
    "attendance": {
        **OPS,
        ("POST", "/v1/participants"): allow(NA, HA, FA, body=PARTICIPANT),
        ("GET", "/v1/participants/{participant_id}"): allow(NA, HA, FA),
        ("POST", "/v1/programmes/{programme_id}/registrations"): allow(
            NA, HA, FA, body=lambda ids: {"participant_id": ids["participant_id"]}
        ),
        ("POST", "/v1/programmes/{programme_id}/video-meetings"): allow(
            NA, HA, FA, body={"provider": "zoom", "meeting_id": "matrix1"}
        ),
        ("GET", "/v1/programmes/{programme_id}/credit-rule"): allow(*ROLES),
        ("PUT", "/v1/programmes/{programme_id}/credit-rule"): allow(
            NA, HA, body={"min_percent": 75}
        ),
        ("POST", "/v1/programmes/{programme_id}/credits/recompute"): allow(NA, HA),
        ("POST", "/v1/webhooks/video/{provider}"): signed(
            "video provider webhook: HMAC signature of the provider's secret", body={}
        ),
        ("POST", "/v1/sessions/{session_id}/attendance"): allow(
            NA,
            HA,
            FA,
            body=lambda ids: {
                "participant_id": ids["participant_id"],
                "attended_minutes": 60,
                "reason": "manual entry by the matrix",
            },
        ),
        ("GET", "/v1/sessions/{session_id}/attendance"): allow(NA, HA, FA, EX, OB),
        # evaluations and guests
        ("PUT", "/v1/programmes/{programme_id}/evaluation-form"): allow(
            NA, HA, body={"questions": []}
        ),
        ("GET", "/v1/programmes/{programme_id}/evaluation-form"): allow(*ROLES),
        ("POST", "/v1/sessions/{session_id}/evaluations/send"): allow(NA, HA, FA),
        ("GET", "/v1/evaluations/{token}"): signed("survey link: the signed token is the key"),
        ("POST", "/v1/evaluations/{token}"): signed(
            "survey link: the signed token is the key", body={"answers": {}}
        ),
        ("POST", "/v1/evaluations/{token}/form"): signed("survey form post of the signed link"),
        # a participant's own survey: only a spoke who attended (no matrix token is one)
        ("GET", "/v1/sessions/{session_id}/evaluation"): allow(),
        ("POST", "/v1/sessions/{session_id}/evaluation"): allow(body={"answers": {}}),
        ("GET", "/v1/sessions/{session_id}/evaluations"): allow(NA, HA, FA),
        ("GET", "/v1/programmes/{programme_id}/evaluation-summary"): allow(NA, HA, FA, EX, OB),
        ("PUT", "/v1/programmes/{programme_id}/guest-policy"): allow(
            NA, HA, body={"max_guests_per_session": 5}
        ),
        ("GET", "/v1/programmes/{programme_id}/guest-policy"): allow(*ROLES),
        ("POST", "/v1/sessions/{session_id}/join"): allow(NA, HA, FA, SP, body={}),
        ("GET", "/v1/sessions/{session_id}/attendance-adjustments"): allow(NA, HA, FA),
        ("GET", "/v1/participants/{participant_id}/credits"): allow(NA, HA, FA),
        ("GET", "/v1/participants/{participant_id}/certificates/{programme_id}"): allow(NA, HA, FA),
    },
    "notifications": {
        **OPS,
        ("GET", "/v1/participants/{participant_id}/preferences"): allow(NA, HA, FA),
        ("PUT", "/v1/participants/{participant_id}/preferences"): allow(
            NA, HA, body={"channels": ["email"]}
        ),
        # hub roles list their regions' deliveries, anyone else only their own
        ("GET", "/v1/deliveries"): allow(*ROLES, scoped=False),
    },
    "reporting": {
        **OPS,
        ("GET", "/v1/reports/network"): allow(NA, OB, scoped=False),
        ("GET", "/v1/reports/regions/{region}"): allow(NA, HA, FA, EX, OB),
        ("GET", "/v1/reports/programmes/{programme_id}"): allow(NA, HA, FA, EX, OB),
        ("GET", "/v1/reports/programmes/{programme_id}/evaluations"): allow(NA, HA, FA, EX, OB),
        ("GET", "/v1/reports/sessions/{session_id}/evaluations"): allow(NA, HA, FA, EX, OB),
        # what the caller may read; a spoke may read no report
        ("GET", "/dashboard"): allow(NA, HA, FA, EX, OB, scoped=False),
    },
}


@dataclass
class Keys:
    signing: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    stranger: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwks(self) -> str:
        pem = self.signing.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return jwks_from_public_pem(pem, KID)

    def claims(self, role: str, region: str, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": str(uuid.uuid4()),
            "roles": [role],
            "regions": [region],
            "aud": "echo-network",
            "iss": "echo-hub",
            "iat": now,
            "exp": now + 3600,
        }
        claims.update(changes)
        return claims

    def token(self, role: str, region: str, **changes: Any) -> dict[str, str]:
        signed_token = jwt.encode(
            self.claims(role, region, **changes), self.signing, "RS256", headers={"kid": KID}
        )
        return {"authorization": f"Bearer {signed_token}"}

    def bad(self, kind: str) -> dict[str, str]:
        claims = self.claims(NA, "*")
        if kind == "no token":
            return {}
        if kind == "expired":
            return self.token(NA, "*", exp=int(time.time()) - 60)
        if kind == "wrong audience":
            return self.token(NA, "*", aud="another-platform")
        if kind == "alg none":
            return {"authorization": f"Bearer {jwt.encode(claims, '', algorithm='none')}"}
        if kind == "key not in JWKS":
            forged = jwt.encode(claims, self.stranger, "RS256", headers={"kid": "not-in-jwks"})
            return {"authorization": f"Bearer {forged}"}
        raise ValueError(kind)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def stack(
    nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory, keys: Keys
) -> Iterator[dict[str, Served]]:
    with served_stack(
        nats_server.url,
        tmp_path_factory.mktemp("matrix"),
        rate_limits=False,
        auth_jwks_json=keys.jwks(),
    ) as running:
        yield running


@pytest.fixture(scope="module")
async def seeded(stack: dict[str, Served], keys: Keys) -> dict[str, str]:
    """Resources in `ontario` made through the real flow; their ids by path parameter name."""
    admin = keys.token(NA, "*")
    hub = keys.token(HA, HOME)
    url = {s: served.url for s, served in stack.items()}
    async with httpx.AsyncClient(timeout=30) as http:
        made = await http.post(f"{url['scheduling']}/v1/programmes", json=PROGRAMME, headers=admin)
        assert made.status_code == 201, made.text
        programme_id = made.json()["id"]
        sessions = await http.get(
            f"{url['scheduling']}/v1/programmes/{programme_id}/sessions", headers=admin
        )
        session_id = sessions.json()["items"][0]["id"]
        template = await http.post(
            f"{url['scheduling']}/v1/templates", json=TEMPLATE, headers=admin
        )
        assert template.status_code == 201, template.text
        material = await http.post(
            f"{url['scheduling']}/v1/programmes/{programme_id}/materials", json=LINK, headers=admin
        )
        assert material.status_code == 201, material.text

        async def attendance_knows() -> bool:
            answer = await http.get(
                f"{url['attendance']}/v1/programmes/{programme_id}/credit-rule", headers=admin
            )
            return answer.status_code == 200

        await eventually(attendance_knows, timeout=60, interval=0.2)
        person = await http.post(
            f"{url['attendance']}/v1/participants", json=PARTICIPANT, headers=hub
        )
        assert person.status_code == 201, person.text
        participant_id = person.json()["id"]
        registration = await http.post(
            f"{url['attendance']}/v1/programmes/{programme_id}/registrations",
            json={"participant_id": participant_id},
            headers=hub,
        )
        assert registration.status_code in (200, 201), registration.text
        spoke = keys.token(SP, HOME, sub=participant_id)
        case: dict[str, Any] = {}

        async def submitted() -> bool:
            answer = await http.post(
                f"{url['cases']}/v1/cases",
                json={"programme_id": programme_id, "fields": CASE_FIELDS},
                headers=spoke,
            )
            case.update(answer.json() if answer.status_code == 201 else {})
            return answer.status_code == 201

        await eventually(submitted, timeout=60, interval=0.5)

        async def others_know() -> bool:
            preferences = await http.get(
                f"{url['notifications']}/v1/participants/{participant_id}/preferences",
                headers=admin,
            )
            report = await http.get(
                f"{url['reporting']}/v1/reports/programmes/{programme_id}", headers=admin
            )
            return preferences.status_code == 200 and report.status_code == 200

        await eventually(others_know, timeout=60, interval=0.5)
    return {
        "programme_id": programme_id,
        "session_id": session_id,
        "template_id": template.json()["id"],
        "participant_id": participant_id,
        "case_id": case["id"],
        "material_id": material.json()["id"],
        "region": HOME,
        "provider": "zoom",
    }


@dataclass
class Cell:
    service: str
    method: str
    path: str
    who: str
    status: int
    expected: str

    def ok(self) -> bool:
        if self.expected == "unauthorized":
            return self.status == 401
        if self.expected == "refused":  # a signed route without its signature
            return self.status in (401, 403, 404, 422)
        if self.expected == "forbidden":
            return self.status in (403, 404)
        return self.status not in (401, 403) and self.status < 500


def expectation(rule: Rule, who: str, role: str | None, region: str | None) -> str:
    if rule.public is not None:
        return "allowed"
    if rule.signed is not None:
        return "refused"
    if role is None:
        return "unauthorized"
    if role not in rule.roles:
        return "forbidden"
    if rule.scoped and region != HOME and role != NA:
        return "forbidden"
    return "allowed"


async def test_every_route_of_every_service_answers_each_role_region_and_bad_token_as_expected(
    stack: dict[str, Served], seeded: dict[str, str], keys: Keys
) -> None:
    missing: list[str] = []
    stale: list[str] = []
    cells: list[Cell] = []
    unseeded: set[str] = set()
    async with httpx.AsyncClient(timeout=30) as http:
        for service in SERVICES:
            served = stack[service]
            spec = (await http.get(f"{served.url}/openapi.json")).json()
            routes = [
                (method.upper(), path) for path, ops in spec["paths"].items() for method in ops
            ]
            table = EXPECTED[service]
            missing += [f"{service} {m} {p}" for m, p in routes if (m, p) not in table]
            stale += [f"{service} {m} {p}" for m, p in table if (m, p) not in routes]
            for method, path in routes:
                rule = table.get((method, path))
                if rule is None:
                    continue
                target = path
                for name in [p.strip("{}") for p in path.split("/") if p.startswith("{")]:
                    if name not in seeded:
                        unseeded.add(f"{service} {path}: {name}")
                    target = target.replace(f"{{{name}}}", seeded.get(name, str(uuid.uuid4())))
                body = rule.body(seeded) if callable(rule.body) else rule.body
                who_list: list[tuple[str, dict[str, str], str | None, str | None]] = [
                    (bad, keys.bad(bad), None, None) for bad in BAD_TOKENS
                ]
                who_list += [
                    (f"{role}@{region}", keys.token(role, region), role, region)
                    for region in (HOME, AWAY)
                    for role in ROLES
                ]
                for who, headers, role, region in who_list:
                    response = await http.request(
                        method,
                        f"{served.url}{target}",
                        headers=headers,
                        json=body if method in ("POST", "PUT", "PATCH") else None,
                        params=rule.params,
                    )
                    cells.append(
                        Cell(
                            service,
                            method,
                            path,
                            who,
                            response.status_code,
                            expectation(rule, who, role, region),
                        )
                    )
    wrong = [c for c in cells if not c.ok()]
    by_expected = Counter(c.expected for c in cells)
    routes_total = len({(c.service, c.method, c.path) for c in cells})
    print(
        f"\nauthorization matrix: {routes_total} routes x 17 cells = {len(cells)} cells"
        f" ({dict(by_expected)}); {len(wrong)} wrong; unseeded parameters: {sorted(unseeded)}"
    )
    for expected in ("unauthorized", "forbidden", "allowed", "refused"):
        statuses = Counter(c.status for c in cells if c.expected == expected)
        print(f"  {expected}: statuses {dict(sorted(statuses.items()))}")
    for c in wrong[:80]:
        print(
            f"  WRONG {c.service} {c.method} {c.path} as {c.who}: {c.status}, expected {c.expected}"
        )
    assert not missing, f"routes without an expectation (add them to EXPECTED): {missing}"
    assert not stale, f"expectations for routes that no longer exist: {stale}"
    assert not wrong, json.dumps([c.__dict__ for c in wrong[:40]], indent=1)
