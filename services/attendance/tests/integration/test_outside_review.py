"""Findings of the outside security review (issue 15) on attendance, through the real HTTP API,
real NATS and signed webhooks: a meeting id cannot be taken over by another region, a provider
needs a secret before a meeting is linked, and presence timed in the future earns nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from echo_contracts import ProgrammeCreated, SessionScheduled
from echo_runtime.testing import eventually, token

pytestmark = pytest.mark.integration

ZOOM_MEETING = "8796457480"


async def _programme_in(kit: Any, w: Any, region: str) -> uuid.UUID:
    """A programme (and one past session) of `region`, told to the service over JetStream."""
    programme_id = uuid.uuid4()
    await kit.publish(
        w.js,
        ProgrammeCreated(
            programme_id=programme_id,
            region=region,
            language="en",
            timezone="Europe/London",
            session_minutes=100,
            starts_on=date(2026, 1, 5),
        ),
        region=region,
    )
    await kit.publish(
        w.js,
        SessionScheduled(
            session_id=uuid.uuid4(),
            programme_id=programme_id,
            starts_at=kit.SESSION_START,
            ends_at=kit.SESSION_END,
            timezone="Europe/London",
        ),
        region=region,
    )
    hub = token("hub-admin", region)

    async def known() -> bool:
        r = await w.client.get(f"/v1/programmes/{programme_id}/credit-rule", headers=hub)
        return r.status_code == 200

    await eventually(known, timeout=40)
    return programme_id


async def test_a_meeting_linked_in_one_region_cannot_be_taken_over_by_another(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    async with kit.world(database_url, nats_server.url, js) as w:
        w.meeting_id = ZOOM_MEETING
        await w.schedule()
        person = await w.participant("sam.lee@example.org")
        await w.link_meeting()
        ni_programme = await _programme_in(kit, w, "northern-ireland")
        ni_admin = token("hub-admin", "northern-ireland")
        link = {"provider": "zoom", "meeting_id": ZOOM_MEETING}

        taken = await w.client.post(
            f"/v1/programmes/{ni_programme}/video-meetings", json=link, headers=ni_admin
        )
        assert taken.status_code == 409, taken.text
        assert taken.headers["content-type"] == "application/problem+json"
        # nothing the NI admin may not see: neither the Ontario programme nor its region
        assert str(w.programme_id) not in taken.text and "ontario" not in taken.text.lower()
        # ... nor by linking straight to the Ontario programme
        across = await w.client.post(
            f"/v1/programmes/{w.programme_id}/video-meetings", json=link, headers=ni_admin
        )
        assert across.status_code in (403, 404), across.text
        # linking again to its own programme is harmless
        again = await w.client.post(
            f"/v1/programmes/{w.programme_id}/video-meetings", json=link, headers=w.admin
        )
        assert again.status_code == 201, again.text

        # Ontario's signed joins still reach Ontario's session and earn its credit
        start = kit.SESSION_START
        join = kit.zoom_body(
            "meeting.participant_joined", ZOOM_MEETING, "inst-1", start, email=person["email"]
        )
        leave = kit.zoom_body(
            "meeting.participant_left",
            ZOOM_MEETING,
            "inst-1",
            start + timedelta(minutes=95),
            email=person["email"],
        )
        for body in (join, leave):
            answer = await w.zoom(body)
            assert answer.status_code == 200 and answer.json()["status"] == "recorded", answer.text
        [record] = await w.records()
        assert record["participant_id"] == person["id"]
        assert record["attended_seconds"] == 95 * 60


async def test_a_meeting_of_a_provider_without_a_secret_is_refused(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    async with kit.world(database_url, nats_server.url, js) as w:
        await w.schedule()
        refused = await w.client.post(
            f"/v1/programmes/{w.programme_id}/video-meetings",
            json={"provider": "skype", "meeting_id": "123456"},
            headers=w.admin,
        )
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["errors"][0]["field"] == "provider"
        assert "skype" in problem["detail"] and "zoom" in problem["detail"]
        assert "ATTENDANCE_WEBHOOK_SECRETS" in problem["detail"]


async def test_presence_timed_in_the_future_is_refused_and_earns_no_credit(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    async with kit.world(database_url, nats_server.url, js) as w:
        now = datetime.now(UTC).replace(microsecond=0)
        starts, ends = now + timedelta(hours=2), now + timedelta(hours=2, minutes=100)
        await w.schedule(starts, ends)
        person = await w.participant("early.bird@example.org")
        await w.link_meeting()
        join = kit.zoom_body(
            "meeting.participant_joined", w.meeting_id, "i-1", starts, email=person["email"]
        )
        leave = kit.zoom_body(
            "meeting.participant_left", w.meeting_id, "i-1", ends, email=person["email"]
        )
        for body in (join, leave):
            refused = await w.zoom(body)
            assert refused.status_code == 422, refused.text
            assert "later than the moment this delivery was received" in refused.json()["detail"]
        manual = await w.client.post(
            f"/v1/sessions/{w.session_id}/attendance",
            json={"participant_id": person["id"], "attended_minutes": 90, "reason": "in advance"},
            headers=w.admin,
        )
        assert manual.status_code == 422 and "not started yet" in manual.text, manual.text
        assert await w.records() == []
        credits = await w.client.get(f"/v1/participants/{person['id']}/credits", headers=w.admin)
        assert credits.status_code == 200 and credits.json()["items"] == [], credits.text

        # within the documented clock skew (120 s) a join is still taken as "now"
        skewed = kit.zoom_body(
            "meeting.participant_joined",
            w.meeting_id,
            "i-1",
            now + timedelta(seconds=60),
            email=person["email"],
        )
        taken = await w.zoom(skewed)
        assert taken.status_code == 200, taken.text
