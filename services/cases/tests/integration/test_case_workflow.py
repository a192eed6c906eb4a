"""A case from submission to follow-up, over HTTP and JetStream, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from echo_contracts import AgendaUpdated, CaseSlot
from echo_runtime.testing import eventually, token

pytestmark = pytest.mark.integration


async def test_a_case_goes_from_submission_to_follow_up(kit: Any) -> None:
    programme = await kit.programme()
    case = await kit.submit(programme)
    assert case["status"] == "submitted"
    assert case["presenter_id"] == str(programme.spoke_id)
    assert case["fields"]["age_band"] == "50-59"

    approved = await kit.client.post(
        f"/v1/cases/{case['id']}/approve", headers=programme.facilitator()
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"

    # Scheduling places the approved case in the session's first case slot.
    await kit.publish(
        AgendaUpdated(
            session_id=programme.session_id,
            programme_id=programme.id,
            case_slots=[CaseSlot(position=1, case_id=uuid.UUID(case["id"]))],
        )
    )

    async def scheduled() -> Any:
        got = await kit.client.get(f"/v1/cases/{case['id']}", headers=programme.facilitator())
        return got.json() if got.json()["status"] == "scheduled" else None

    placed = await eventually(scheduled)
    assert placed["session_id"] == str(programme.session_id)
    assert placed["slot"] == 1

    issued = await kit.client.post(
        f"/v1/cases/{case['id']}/recommendations",
        json={"text": "Start an SGLT2 inhibitor; recheck eGFR in 4 weeks.", "follow_up_weeks": 8},
        headers=programme.facilitator(),
    )
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["status"] == "follow_up_due"
    assert body["recommendations"].startswith("Start an SGLT2")
    due = datetime.now(UTC).date() + timedelta(weeks=8)
    assert body["follow_up_due_on"] == due.isoformat()

    async def all_published() -> list[str] | None:
        names = [type(e.data).__name__ for e in await kit.case_events()]
        return names if "FollowUpRequested" in names else None

    assert await eventually(all_published) == [
        "CaseSubmitted",
        "CaseReviewStarted",
        "CaseApproved",
        "CaseScheduled",
        "CasePresented",
        "RecommendationsIssued",
        "RecommendationsRecorded",
        "FollowUpRequested",
    ]

    # The audit trail says who read or changed the case, in order, without its text.
    trail = await kit.client.get(f"/v1/cases/{case['id']}/audit", headers=programme.facilitator())
    assert trail.status_code == 200
    entries = trail.json()["items"]
    changes = [
        (e["action"], e["to_status"]) for e in entries if e["action"] not in ("read", "listed")
    ]
    assert changes == [
        ("submitted", "submitted"),
        ("approved", "approved"),
        ("scheduled", "scheduled"),
        ("recommendations_issued", "follow_up_due"),
    ]
    actors = {e["action"]: e["actor"] for e in entries}
    assert actors["submitted"] == str(programme.spoke_id)
    assert actors["approved"] == str(programme.facilitator_id)
    assert actors["scheduled"] == "scheduling"
    assert any(e["action"] == "read" for e in entries)
    await kit.client.get(
        "/v1/cases", params={"programme_id": str(programme.id)}, headers=programme.spoke()
    )
    again = await kit.client.get(
        f"/v1/cases/{case['id']}/audit", headers=programme.facilitator(), params={"limit": 200}
    )
    listed = [e for e in again.json()["items"] if e["action"] == "listed"]
    assert [e["actor"] for e in listed] == [str(programme.spoke_id)]
    spoke_trail = await kit.client.get(f"/v1/cases/{case['id']}/audit", headers=programme.spoke())
    assert spoke_trail.status_code == 403


async def test_an_illegal_move_is_a_conflict_naming_the_current_state(kit: Any) -> None:
    programme = await kit.programme()
    case = await kit.submit(programme)

    early = await kit.client.post(
        f"/v1/cases/{case['id']}/recommendations",
        json={"text": "Too early."},
        headers=programme.facilitator(),
    )
    assert early.status_code == 409
    assert early.json()["current_state"] == "submitted"
    assert "is submitted" in early.json()["detail"]

    rejected = await kit.client.post(
        f"/v1/cases/{case['id']}/reject",
        json={"reason": "Please state the specific question."},
        headers=programme.facilitator(),
    )
    assert rejected.json()["status"] == "rejected"
    again = await kit.client.post(
        f"/v1/cases/{case['id']}/approve", headers=programme.facilitator()
    )
    assert again.status_code == 409
    assert again.json()["current_state"] == "rejected"


async def test_a_cancelled_session_returns_its_case_to_the_approved_pool(kit: Any) -> None:
    from echo_contracts import SessionCancelled

    programme = await kit.programme(starts_in=timedelta(days=7))
    case = await kit.submit(programme)
    await kit.client.post(f"/v1/cases/{case['id']}/approve", headers=programme.facilitator())
    await kit.publish(
        AgendaUpdated(
            session_id=programme.session_id,
            programme_id=programme.id,
            case_slots=[CaseSlot(position=2, case_id=uuid.UUID(case["id"]))],
        )
    )

    async def status() -> str:
        got = await kit.client.get(f"/v1/cases/{case['id']}", headers=programme.facilitator())
        return str(got.json()["status"])

    await eventually(lambda: _is(status, "scheduled"))
    # The session has not started: recording recommendations is refused.
    early = await kit.client.post(
        f"/v1/cases/{case['id']}/recommendations",
        json={"text": "Not yet."},
        headers=programme.facilitator(),
    )
    assert early.status_code == 409
    await kit.publish(
        SessionCancelled(
            session_id=programme.session_id,
            programme_id=programme.id,
            starts_at=datetime.now(UTC) + timedelta(days=7),
            sequence=1,
        )
    )
    await eventually(lambda: _is(status, "approved"))


async def _is(status: Any, wanted: str) -> bool:
    return bool(await status() == wanted)


async def test_lists_are_paginated_and_need_a_token(kit: Any) -> None:
    programme = await kit.programme()
    for _ in range(3):
        await kit.submit(programme)

    anonymous = await kit.client.get("/v1/cases", params={"programme_id": str(programme.id)})
    assert anonymous.status_code == 401

    first = await kit.client.get(
        "/v1/cases",
        params={"programme_id": str(programme.id), "limit": 2},
        headers=programme.facilitator(),
    )
    assert first.status_code == 200
    page = first.json()
    assert (len(page["items"]), page["total"], page["next_offset"]) == (2, 3, 2)
    rest = await kit.client.get(
        "/v1/cases",
        params={"programme_id": str(programme.id), "limit": 2, "offset": 2},
        headers=programme.facilitator(),
    )
    assert len(rest.json()["items"]) == 1
    assert rest.json()["next_offset"] is None

    templates = await kit.client.get("/v1/case-templates", headers=programme.spoke())
    assert templates.status_code == 200
    default = next(t for t in templates.json()["items"] if t["id"] == "echo-default")
    required = {f["name"] for f in default["fields"] if f["required"]}
    assert {"presenting_question", "age_band", "specific_question"} <= required


async def test_an_invalid_form_names_the_field(kit: Any) -> None:
    programme = await kit.programme()
    fields = {**kit.clean_fields, "age_band": "54"}
    del fields["specific_question"]
    response = await kit.client.post(
        "/v1/cases",
        json={"programme_id": str(programme.id), "fields": fields},
        headers=programme.spoke(),
    )
    assert response.status_code == 422
    named = {e["field"] for e in response.json()["errors"]}
    assert named == {"fields.age_band", "fields.specific_question"}

    missing = await kit.client.post("/v1/cases", json={"fields": {}}, headers=programme.spoke())
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "programme_id"

    # A conditional field: the pregnancy status is required for a female patient.
    female = {**kit.clean_fields, "sex": "female"}
    conditional = await kit.client.post(
        "/v1/cases",
        json={"programme_id": str(programme.id), "fields": female},
        headers=programme.spoke(),
    )
    assert conditional.status_code == 422
    assert conditional.json()["errors"][0]["field"] == "fields.pregnancy_status"


async def test_a_spoke_not_registered_in_the_programme_cannot_submit(kit: Any) -> None:
    programme = await kit.programme()
    stranger = token("spoke", "ontario", subject=str(uuid.uuid4()))
    response = await kit.client.post(
        "/v1/cases",
        json={"programme_id": str(programme.id), "fields": kit.clean_fields},
        headers=stranger,
    )
    assert response.status_code == 403
    observer = token("observer", "ontario")
    response = await kit.client.post(
        "/v1/cases",
        json={"programme_id": str(programme.id), "fields": kit.clean_fields},
        headers=observer,
    )
    assert response.status_code == 403


async def test_a_programme_presents_cases_on_the_template_its_hub_chose(kit: Any) -> None:
    programme = await kit.programme()
    url = f"/v1/case-templates/programmes/{programme.id}"
    chosen = {"template_id": "echo-mental-health"}
    assert (await kit.client.put(url, json=chosen, headers=programme.spoke())).status_code == 403
    unknown = await kit.client.put(
        url, json={"template_id": "no-such-form"}, headers=programme.facilitator()
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "template_id"
    put = await kit.client.put(url, json=chosen, headers=programme.facilitator())
    assert put.status_code == 200
    assert (put.json()["id"], put.json()["version"]) == ("echo-mental-health", 1)

    listed = await kit.client.get(
        "/v1/case-templates", params={"programme_id": str(programme.id)}, headers=programme.spoke()
    )
    assert [t["id"] for t in listed.json()["items"]] == ["echo-mental-health"]
    outsider = token("spoke", "shanghai")
    hidden = await kit.client.get(
        "/v1/case-templates", params={"programme_id": str(programme.id)}, headers=outsider
    )
    assert hidden.status_code == 404

    # The default form is no longer enough: the mental-health fields are required.
    incomplete = await kit.client.post(
        "/v1/cases",
        json={"programme_id": str(programme.id), "fields": kit.clean_fields},
        headers=programme.spoke(),
    )
    assert incomplete.status_code == 422
    assert {e["field"] for e in incomplete.json()["errors"]} == {
        "fields.substance_use",
        "fields.safety_risk",
    }
    wrong = await kit.client.post(
        "/v1/cases",
        json={
            "programme_id": str(programme.id),
            "template_id": "echo-default",
            "fields": kit.clean_fields,
        },
        headers=programme.spoke(),
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "template_id"
    case = await kit.submit(
        programme,
        substance_use="opioids",
        substance_details="Fentanyl smoked daily for 2 years, 2 overdoses reversed with naloxone.",
        safety_risk="No current suicidal ideation; lives with a partner.",
    )
    assert (case["template_id"], case["template_version"]) == ("echo-mental-health", 1)


async def test_two_facilitators_approving_at_once_approve_once(kit: Any) -> None:
    import asyncio

    programme = await kit.programme()
    case = await kit.submit(programme)
    url = f"/v1/cases/{case['id']}/approve"
    answers = await asyncio.gather(
        *[kit.client.post(url, headers=programme.facilitator()) for _ in range(4)]
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409, 409, 409], [a.text for a in answers]

    async def approvals() -> int | None:
        names = [type(e.data).__name__ for e in await kit.case_events()]
        return names.count("CaseApproved") if "CaseApproved" in names else None

    assert await eventually(approvals) == 1


async def test_a_follow_up_presentation_keeps_the_first_recommendations(kit: Any) -> None:
    from echo_contracts import SessionScheduled

    programme = await kit.programme()
    case = await kit.submit(programme)
    url = f"/v1/cases/{case['id']}"
    await kit.client.post(f"{url}/approve", headers=programme.facilitator())

    async def placed_in(session_id: uuid.UUID) -> None:
        await kit.publish(
            AgendaUpdated(
                session_id=session_id,
                programme_id=programme.id,
                case_slots=[CaseSlot(position=1, case_id=uuid.UUID(case["id"]))],
            )
        )

        async def there() -> bool:
            got = (await kit.client.get(url, headers=programme.facilitator())).json()
            return bool(got["status"] == "scheduled" and got["session_id"] == str(session_id))

        await eventually(there)

    await placed_in(programme.session_id)
    first = await kit.client.post(
        f"{url}/recommendations",
        json={"text": "Start buprenorphine 8 mg.", "follow_up_weeks": 6},
        headers=programme.facilitator(),
    )
    assert first.json()["status"] == "follow_up_due"

    # Six weeks later (here: a session that started ten minutes ago) the case comes back.
    follow_up = uuid.uuid4()
    starts = datetime.now(UTC) - timedelta(minutes=10)
    await kit.publish(
        SessionScheduled(
            session_id=follow_up,
            programme_id=programme.id,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=90),
            timezone="America/Toronto",
        )
    )
    await placed_in(follow_up)
    second = await kit.client.post(
        f"{url}/recommendations",
        json={"text": "Increase to 16 mg; add naloxone kit."},
        headers=programme.facilitator(),
    )
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["status"] == "recommendations_issued"
    assert body["recommendations"] == "Increase to 16 mg; add naloxone kit."
    history = [h["text"] for h in body["recommendation_history"]]
    assert history == ["Start buprenorphine 8 mg.", "Increase to 16 mg; add naloxone kit."]
    assert body["recommendation_history"][0]["follow_up_due_on"] is not None
    read = (await kit.client.get(url, headers=programme.spoke())).json()
    assert [h["text"] for h in read["recommendation_history"]] == history
