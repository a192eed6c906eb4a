"""Write matrix of all five services (issue 15): every write route x role x region x owner, and
every write that names another object by id, in production auth mode (RS256 + JWKS).

Built on the read matrix (`test_authorization_matrix`: its routes table, keys, stack and seeded
resources in `ontario`); here a second region (`shanghai`) is seeded too, so writes can name
objects the caller may not reach. Cells:

* every write route (POST/PUT/PATCH/DELETE of `EXPECTED`) x the six roles in each of the two
  regions, once with the route's valid body and once with an invalid one: a role/region the
  route does not allow never writes (403/404); a read-only role (observer) gets its 403 before
  the body is validated (never a 422 describing the schema); bad tokens are 401s;
* owner: a spoke acting on its own participant record versus another spoke;
* cross references: a hub of `ontario` naming a `shanghai` participant, session, programme,
  region or an already linked video meeting id is refused, and a 409 names nothing of the other
  region.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from echo_runtime.testing import eventually

from tests.security.stack import SERVICES, Served
from tests.security.test_authorization_matrix import (
    AWAY,
    BAD_TOKENS,
    EXPECTED,
    HA,
    HOME,
    NA,
    OB,
    PARTICIPANT,
    PROGRAMME,
    ROLES,
    SP,
    Keys,
    expectation,
    keys,
    seeded,
    stack,
)

pytestmark = pytest.mark.integration
__all__ = ["keys", "seeded", "stack"]  # fixtures of the read matrix, reused here

WRITES = ("POST", "PUT", "PATCH", "DELETE")
INVALID = {"not_a_field": "\u0000", "attended_minutes": "many"}


@dataclass
class Cell:
    part: str
    what: str
    who: str
    status: int
    expected: str
    body: str = ""

    def ok(self) -> bool:
        if self.expected == "unauthorized":
            return self.status == 401
        if self.expected == "forbidden before validation":
            return self.status == 403
        if self.expected == "forbidden":
            return self.status in (403, 404)
        if self.expected == "not written":  # refused by role, region or the body: never a write
            return self.status in (403, 404, 422)
        if self.expected == "refused":  # a cross reference: refused, whatever the reason
            return self.status in (403, 404, 409, 422)
        return self.status not in (401, 403) and self.status < 500


@pytest.fixture(scope="module")
async def away(stack: dict[str, Served], keys: Keys, seeded: dict[str, str]) -> dict[str, str]:
    """A programme, its session, a participant and a material in `shanghai`."""
    admin = keys.token(NA, "*")
    hub = keys.token(HA, AWAY)
    url = {s: served.url for s, served in stack.items()}
    async with httpx.AsyncClient(timeout=30) as http:
        body = {
            **PROGRAMME,
            "region": AWAY,
            "timezone": "Asia/Shanghai",
            "title": "Away programme",
            "starts_on": str(date.today() + timedelta(days=21)),
        }
        made = await http.post(f"{url['scheduling']}/v1/programmes", json=body, headers=hub)
        assert made.status_code == 201, made.text
        programme_id = made.json()["id"]
        sessions = await http.get(
            f"{url['scheduling']}/v1/programmes/{programme_id}/sessions", headers=hub
        )
        session_id = sessions.json()["items"][0]["id"]

        async def attendance_knows() -> bool:
            rule = await http.get(
                f"{url['attendance']}/v1/programmes/{programme_id}/credit-rule", headers=admin
            )
            listed = await http.get(
                f"{url['attendance']}/v1/sessions/{session_id}/attendance", headers=admin
            )
            return rule.status_code == 200 and listed.status_code == 200

        await eventually(attendance_knows, timeout=60, interval=0.2)
        person = await http.post(
            f"{url['attendance']}/v1/participants",
            json={
                **PARTICIPANT,
                "region": AWAY,
                "email": "away.person@example.org",
                "clinic_id": str(uuid.uuid4()),
            },
            headers=hub,
        )
        assert person.status_code == 201, person.text
        linked = await http.post(
            f"{url['attendance']}/v1/programmes/{programme_id}/video-meetings",
            json={"provider": "zoom", "meeting_id": "87964574801"},
            headers=hub,
        )
        assert linked.status_code == 201, linked.text
    return {
        "programme_id": programme_id,
        "session_id": session_id,
        "participant_id": person.json()["id"],
        "meeting_id": "87964574801",
    }


def _target(path: str, ids: dict[str, str]) -> str:
    for name in [p.strip("{}") for p in path.split("/") if p.startswith("{")]:
        path = path.replace(f"{{{name}}}", ids.get(name, str(uuid.uuid4())))
    return path


async def test_every_write_answers_each_role_region_owner_and_cross_reference_as_expected(
    stack: dict[str, Served], seeded: dict[str, str], away: dict[str, str], keys: Keys
) -> None:
    cells: list[Cell] = []
    url = {s: served.url for s, served in stack.items()}
    async with httpx.AsyncClient(timeout=30) as http:

        async def call(
            part: str,
            service: str,
            method: str,
            path: str,
            who: str,
            headers: dict[str, str],
            body: Any,
            expected: str,
        ) -> httpx.Response:
            response = await http.request(
                method, f"{url[service]}{path}", headers=headers, json=body
            )
            cells.append(
                Cell(
                    part,
                    f"{service} {method} {path}",
                    who,
                    response.status_code,
                    expected,
                    response.text[:300],
                )
            )
            return response

        # --- every write route x role x region, valid and invalid bodies
        for service in SERVICES:
            for (method, path), rule in EXPECTED[service].items():
                if method not in WRITES or rule.public or rule.signed:
                    continue
                target = _target(path, seeded)
                valid = rule.body(seeded) if callable(rule.body) else rule.body
                for bad in BAD_TOKENS:
                    await call(
                        "role x region",
                        service,
                        method,
                        target,
                        bad,
                        keys.bad(bad),
                        INVALID,
                        "unauthorized",
                    )
                for region in (HOME, AWAY):
                    for role in ROLES:
                        who = f"{role}@{region}"
                        headers = keys.token(role, region)
                        expected = expectation(rule, who, role, region)
                        invalid_expected = (
                            "forbidden before validation"
                            if role == OB
                            else ("not written" if expected == "forbidden" else "allowed")
                        )
                        await call(
                            "role x region, invalid body",
                            service,
                            method,
                            target,
                            who,
                            headers,
                            INVALID,
                            invalid_expected,
                        )
                        await call(
                            "role x region, valid body",
                            service,
                            method,
                            target,
                            who,
                            headers,
                            valid,
                            expected,
                        )

        # --- owner: a spoke's own participant record versus another spoke's
        owner = keys.token(SP, HOME, sub=seeded["participant_id"])
        stranger = keys.token(SP, HOME, sub=str(uuid.uuid4()))
        own = [
            (
                "notifications",
                "PUT",
                f"/v1/participants/{seeded['participant_id']}/preferences",
                {"channels": ["email"]},
            ),
            (
                "attendance",
                "POST",
                f"/v1/programmes/{seeded['programme_id']}/registrations",
                {"participant_id": seeded["participant_id"]},
            ),
            (
                "cases",
                "POST",
                "/v1/cases",
                {
                    "programme_id": seeded["programme_id"],
                    "fields": EXPECTED["cases"][("POST", "/v1/cases")].body(seeded)["fields"],
                },
            ),
        ]
        for service, method, path, body in own:
            await call("owner", service, method, path, "owner spoke", owner, body, "allowed")
            await call("owner", service, method, path, "other spoke", stranger, body, "forbidden")

        # --- cross references: an ontario hub names shanghai's objects
        hub = keys.token(HA, HOME)
        admin = keys.token(NA, "*")
        home_programme, home_session = seeded["programme_id"], seeded["session_id"]
        crossing = [
            (
                "attendance",
                "POST",
                f"/v1/programmes/{home_programme}/registrations",
                {"participant_id": away["participant_id"]},
                "participant of another region",
            ),
            (
                "attendance",
                "POST",
                f"/v1/sessions/{home_session}/attendance",
                {
                    "participant_id": away["participant_id"],
                    "attended_minutes": 30,
                    "reason": "cross-region manual entry",
                },
                "participant of another region",
            ),
            (
                "attendance",
                "POST",
                f"/v1/programmes/{away['programme_id']}/registrations",
                {"participant_id": seeded["participant_id"]},
                "programme of another region",
            ),
            (
                "attendance",
                "POST",
                f"/v1/programmes/{home_programme}/video-meetings",
                {"provider": "zoom", "meeting_id": away["meeting_id"]},
                "meeting linked in another region",
            ),
            (
                "attendance",
                "POST",
                "/v1/participants",
                {**PARTICIPANT, "region": AWAY, "email": "x.region@example.org"},
                "region of the body",
            ),
            (
                "scheduling",
                "POST",
                "/v1/programmes",
                {**PROGRAMME, "region": AWAY},
                "region of the body",
            ),
            (
                "scheduling",
                "POST",
                f"/v1/templates/{seeded['template_id']}/replicate",
                {"region": AWAY, "timezone": "Asia/Shanghai", "starts_on": str(date.today())},
                "template replicated into another region",
            ),
            (
                "scheduling",
                "POST",
                f"/v1/programmes/{home_programme}/materials",
                {
                    "kind": "link",
                    "title": "Cross session",
                    "url": "https://example.org/x",
                    "session_id": away["session_id"],
                },
                "session of another programme",
            ),
            (
                "scheduling",
                "PUT",
                f"/v1/sessions/{away['session_id']}/agenda",
                {"didactic_topic": "Taken over"},
                "session of another region",
            ),
            (
                "cases",
                "POST",
                "/v1/cases",
                {
                    "programme_id": away["programme_id"],
                    "fields": EXPECTED["cases"][("POST", "/v1/cases")].body(seeded)["fields"],
                },
                "programme of another region",
            ),
            (
                "notifications",
                "PUT",
                f"/v1/participants/{away['participant_id']}/preferences",
                {"channels": ["email"]},
                "participant of another region",
            ),
        ]
        for service, method, path, body, what in crossing:
            answer = await call(
                "cross reference", service, method, path, what, hub, body, "refused"
            )
            leaks = away["programme_id"] in answer.text or AWAY in answer.text
            if answer.status_code == 409 and leaks:
                cells.append(
                    Cell("cross reference", what, "409 naming the other region", 0, "refused")
                )
        # a network-admin does not overwrite a meeting another programme has either
        await call(
            "cross reference",
            "attendance",
            "POST",
            f"/v1/programmes/{home_programme}/video-meetings",
            "network-admin relinking",
            admin,
            {"provider": "zoom", "meeting_id": away["meeting_id"]},
            "refused",
        )

    wrong = [c for c in cells if not c.ok()]
    parts = Counter(c.part for c in cells)
    print(f"\nwrite matrix: {len(cells)} cells ({dict(parts)}); {len(wrong)} wrong")
    for expected in sorted({c.expected for c in cells}):
        statuses = Counter(c.status for c in cells if c.expected == expected)
        print(f"  {expected}: statuses {dict(sorted(statuses.items()))}")
    for c in wrong[:60]:
        print(f"  WRONG [{c.part}] {c.what} as {c.who}: {c.status}, expected {c.expected}")
    assert not wrong, json.dumps([c.__dict__ for c in wrong[:30]], indent=1)
