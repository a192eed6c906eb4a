"""Object-level authorization, table-driven: who outside a programme can do nothing to its cases."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from echo_cases.adapters.tables import case_audit
from echo_runtime.auth import Role
from echo_runtime.testing import token

pytestmark = pytest.mark.integration

#: Every endpoint that touches a case or a programme's cases: (method, path, json body).
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/cases/{case}", None),
    ("GET", "/v1/cases?programme_id={programme}", None),
    ("GET", "/v1/cases/{case}/audit", None),
    ("POST", "/v1/cases/{case}/review", None),
    ("POST", "/v1/cases/{case}/approve", None),
    ("POST", "/v1/cases/{case}/reject", {"reason": "Not for this programme."}),
    ("POST", "/v1/cases/{case}/presented", None),
    ("POST", "/v1/cases/{case}/recommendations", {"text": "Advice."}),
    ("POST", "/v1/cases/{case}/follow-up", {"weeks": 4}),
    ("POST", "/v1/cases", "submission"),  # type: ignore[list-item]
]

#: Callers from another region, or the right region but another programme.
OUTSIDERS: list[tuple[str, str, bool]] = [
    (role.value, region, other_programme)
    for role in Role
    if role is not Role.NETWORK_ADMIN
    for region, other_programme in (("shanghai", False), ("ontario", True))
]


def _url(path: str, case_id: str, programme_id: uuid.UUID) -> str:
    return path.format(case=case_id, programme=programme_id)


async def test_no_role_of_another_region_or_programme_reaches_a_case(kit: Any) -> None:
    programme = await kit.programme()
    case = await kit.submit(programme)
    other_programme = str(uuid.uuid4())
    refused: list[tuple[str, str, bool, str, int]] = []
    for role, region, other in [*OUTSIDERS, ("network-admin", "*", False)]:
        headers = token(
            role, region, subject=str(uuid.uuid4()), programmes=[other_programme] if other else None
        )
        for method, path, body in ENDPOINTS:
            url = _url(path, case["id"], programme.id)
            if body == "submission":
                body = {"programme_id": str(programme.id), "fields": kit.clean_fields}
            response = await kit.client.request(method, url, json=body, headers=headers)
            refused.append((role, region, other, f"{method} {path}", response.status_code))
    allowed = [r for r in refused if r[-1] not in (403, 404)]
    assert allowed == [], allowed
    # Nothing they did changed the case, and none of them read it.
    got = await kit.client.get(f"/v1/cases/{case['id']}", headers=programme.facilitator())
    assert got.json()["status"] == "submitted"
    async with kit.runtime.db.session() as session:
        readers = set(
            (
                await session.execute(
                    sa.select(case_audit.c.actor).where(case_audit.c.action == "read")
                )
            ).scalars()
        )
    assert readers == {str(programme.facilitator_id)}


async def test_inside_the_programme_each_role_sees_what_it_should(kit: Any) -> None:
    programme = await kit.programme(starts_in=timedelta(days=7))
    case = await kit.submit(programme)
    url = f"/v1/cases/{case['id']}"
    registered_peer = token("spoke", "ontario", subject=str(uuid.uuid4()))
    in_programme = [str(programme.id)]
    cases: list[tuple[str, dict[str, str], int]] = [
        ("presenter", programme.spoke(), 200),
        ("facilitator", programme.facilitator(), 200),
        ("expert", token("expert", "ontario", programmes=in_programme), 200),
        ("hub-admin", token("hub-admin", "ontario", programmes=in_programme), 200),
        ("observer", token("observer", "ontario", programmes=in_programme), 404),
        ("unregistered spoke", registered_peer, 404),
    ]
    for who, headers, expected in cases:
        response = await kit.client.get(url, headers=headers)
        assert response.status_code == expected, who
    # Only facilitators and hub-admins decide; an expert may read but not approve.
    expert = token("expert", "ontario", programmes=in_programme)
    assert (await kit.client.post(f"{url}/approve", headers=expert)).status_code == 403
    assert (await kit.client.post(f"{url}/approve", headers=programme.spoke())).status_code == 403
    listed = await kit.client.get(
        "/v1/cases", params={"programme_id": str(programme.id)}, headers=programme.spoke()
    )
    assert [c["id"] for c in listed.json()["items"]] == [case["id"]]


async def test_registered_participants_read_a_case_once_its_session_has_started(kit: Any) -> None:
    from echo_contracts import AgendaUpdated, CaseSlot, RegistrationConfirmed
    from echo_contracts.events import Profession
    from echo_runtime.testing import eventually

    programme = await kit.programme(starts_in=timedelta(minutes=-5))
    case = await kit.submit(programme)
    peer_id = uuid.uuid4()
    peer = token("spoke", "ontario", subject=str(peer_id))
    await kit.publish(
        RegistrationConfirmed(
            registration_id=uuid.uuid4(),
            participant_id=peer_id,
            programme_id=programme.id,
            clinic_id=uuid.uuid4(),
            profession=Profession.NURSE_PRACTITIONER,
        )
    )
    url = f"/v1/cases/{case['id']}"
    # Before the case is in a session, a registered peer cannot see it.
    assert (await kit.client.get(url, headers=peer)).status_code == 404
    await kit.client.post(f"{url}/approve", headers=programme.facilitator())
    await kit.publish(
        AgendaUpdated(
            session_id=programme.session_id,
            programme_id=programme.id,
            case_slots=[CaseSlot(position=1, case_id=uuid.UUID(case["id"]))],
        )
    )

    async def readable() -> bool:
        return (await kit.client.get(url, headers=peer)).status_code == 200

    # The session started 5 minutes ago: once scheduled into it, the peer may read the case.
    await eventually(readable)
    listed = await kit.client.get(
        "/v1/cases", params={"programme_id": str(programme.id)}, headers=peer
    )
    assert [c["id"] for c in listed.json()["items"]] == [case["id"]]


async def test_every_case_endpoint_needs_a_valid_token(kit: Any) -> None:
    programme = await kit.programme()
    case = await kit.submit(programme)
    forged = {"authorization": "Bearer " + "e30." * 2 + "c2ln"}
    endpoints = [
        *ENDPOINTS,
        ("GET", "/v1/case-templates", None),
        ("PUT", "/v1/case-templates/programmes/{programme}", {"template_id": "echo-default"}),
    ]
    for headers in ({}, forged):
        for method, path, body in endpoints:
            url = _url(path, case["id"], programme.id)
            if body == "submission":
                body = {"programme_id": str(programme.id), "fields": kit.clean_fields}
            response = await kit.client.request(method, url, json=body, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["content-type"] == "application/problem+json"
