"""Walking skeleton: events over real NATS into the service's tables; the HTTP API's edges."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from echo_contracts import AgendaUpdated, SessionScheduled
from echo_contracts.events import CaseSlot
from echo_notifications.bootstrap import build
from echo_notifications.settings import NotificationsSettings
from echo_runtime.testing import running, token

pytestmark = pytest.mark.integration


async def test_participants_and_sessions_become_recipients_reminders_and_a_delivery_log(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    async with kit.world(database_url, nats_server.url, js, background=False) as w:
        await w.programme(language="fr", timezone="Europe/Paris")
        pid = await w.participant("ana@example.org", name="Ana Diaz", language="fr")
        session_id = uuid.uuid4()
        starts = datetime(2030, 3, 5, 17, 0, tzinfo=UTC)
        await w.publish(
            SessionScheduled(
                session_id=session_id,
                programme_id=w.programme_id,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=90),
                timezone="Europe/Paris",
            ),
            AgendaUpdated(
                session_id=session_id,
                programme_id=w.programme_id,
                didactic_topic="Hepatitis C in primary care",
                case_slots=[CaseSlot(position=1, case_id=uuid.uuid4())],
            ),
        )

        [recipient] = await w.table("recipients")
        assert (recipient["id"], recipient["email"], recipient["language"]) == (
            pid,
            "ana@example.org",
            "fr",
        )
        reminders = sorted(await w.table("reminders"), key=lambda r: r["due_at"])
        assert [r["kind"] for r in reminders] == ["day_before", "hour_before"]
        assert [r["due_at"].replace(tzinfo=UTC) for r in reminders] == [
            starts - timedelta(days=1),
            starts - timedelta(hours=1),
        ]
        [agenda] = await w.table("agendas")
        assert agenda["didactic_topic"] == "Hepatitis C in primary care"
        assert agenda["case_count"] == 1

        # The registration confirmation is recorded (not yet sent: no dispatcher runs here).
        admin = token("hub-admin", "ontario")
        response = await w.client.get(f"/v1/deliveries?recipient={pid}", headers=admin)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] == 1
        [delivery] = page["items"]
        assert delivery["template"] == "registration_confirmed"
        assert delivery["channel"] == "email" and delivery["status"] == "pending"
        cause = delivery["cause_event_id"]
        by_event = await w.client.get(f"/v1/deliveries?event_id={cause}", headers=admin)
        assert [d["id"] for d in by_event.json()["items"]] == [delivery["id"]]

        # Another region's hub-admin sees neither the log nor the participant's preferences.
        elsewhere = token("hub-admin", "shanghai")
        assert (await w.client.get("/v1/deliveries", headers=elsewhere)).json()["total"] == 0
        hidden = await w.client.get(f"/v1/participants/{pid}/preferences", headers=elsewhere)
        assert hidden.status_code == 404
        # The hub-admin of the region may read and change them.
        seen = await w.client.get(f"/v1/participants/{pid}/preferences", headers=admin)
        assert seen.status_code == 200 and seen.json()["channels"] == ["email"]
        changed = await w.client.put(
            f"/v1/participants/{pid}/preferences",
            json={"channels": ["email"], "language": "zh-Hans"},
            headers=admin,
        )
        assert changed.status_code == 200, changed.text
        # A facilitator may read but not change them.
        facilitator = token("facilitator", "ontario")
        assert (
            await w.client.get(f"/v1/participants/{pid}/preferences", headers=facilitator)
        ).json()["language"] == "zh-Hans"
        refused = await w.client.put(
            f"/v1/participants/{pid}/preferences",
            json={"channels": ["email"]},
            headers=facilitator,
        )
        assert refused.status_code == 403


async def test_preferences_api_authenticates_validates_and_paginates(
    database_url: str,
) -> None:
    settings = NotificationsSettings(database_url=database_url, messaging=False, dispatcher=False)
    runtime, _ = build(settings)
    me = uuid.uuid4()
    mine = token("spoke", "ontario", subject=str(me))
    url = f"/v1/participants/{me}/preferences"
    async with running(runtime) as client:
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers={"authorization": "Bearer nope"})).status_code == 401

        defaults = await client.get(url, headers=mine)
        assert defaults.status_code == 200
        assert defaults.json() == {
            "participant_id": str(me),
            "channels": ["email"],
            "language": None,
            "timezone": None,
            "quiet_hours": None,
            "webhook_url": None,
            "topics": None,
            "opted_out": [],
        }
        body = {
            "channels": ["email", "webhook"],
            "language": "fr",
            "timezone": "America/Montreal",
            "quiet_hours": {"start": "21:30", "end": "07:00"},
            "webhook_url": "https://clinic.example.org/echo-hook",
        }
        saved = await client.put(url, json=body, headers=mine)
        assert saved.status_code == 200, saved.text
        again = (await client.get(url, headers=mine)).json()
        assert again["quiet_hours"] == {"start": "21:30:00", "end": "07:00:00"}
        assert again["channels"] == ["email", "webhook"] and again["language"] == "fr"

        # Someone else's preferences: not even their existence is revealed.
        other = token("spoke", "ontario", subject=str(uuid.uuid4()))
        assert (await client.get(url, headers=other)).status_code == 404
        assert (await client.put(url, json=body, headers=other)).status_code == 404

        async def invalid(patch: dict[str, Any]) -> list[str]:
            response = await client.put(url, json={**body, **patch}, headers=mine)
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            return [e["field"] for e in response.json()["errors"]]

        assert await invalid({"timezone": "Mars/Olympus"}) == ["timezone"]
        assert await invalid({"language": "de"}) == ["language"]
        assert await invalid({"channels": ["sms"]}) == ["channels"]
        assert await invalid({"channels": ["pigeon"]}) == ["channels.0"]
        assert await invalid({"channels": []}) == ["channels"]
        assert await invalid({"webhook_url": None}) == ["webhook_url"]
        assert await invalid({"webhook_url": "not a url"}) == ["webhook_url"]
        assert await invalid({"quiet_hours": {"start": "22:00", "end": "22:00"}}) == ["quiet_hours"]
        assert await invalid({"colour": "blue"}) == ["colour"]
        assert await invalid({"topics": ["certificate_issued"]}) == ["topics"]
        # Only optional messages can be opted out of (not one's own case or session changes).
        opt = await client.put(url, json={**body, "opted_out": ["recommendations"]}, headers=mine)
        assert opt.status_code == 422
        [error] = opt.json()["errors"]
        assert error["field"] == "opted_out"
        assert "choose from ['evaluations', 'library']" in error["message"]
        assert await invalid({"opted_out": "evaluations"}) == ["opted_out"]
        # Nothing invalid was stored.
        assert (await client.get(url, headers=mine)).json() == again
        muted = await client.put(
            url, json={**body, "opted_out": ["library", "evaluations", "library"]}, headers=mine
        )
        assert muted.status_code == 200, muted.text
        assert (await client.get(url, headers=mine)).json()["opted_out"] == [
            "library",
            "evaluations",
        ]

        assert (await client.get("/v1/deliveries")).status_code == 401
        listed = await client.get("/v1/deliveries?limit=5&offset=0", headers=mine)
        assert listed.status_code == 200
        assert listed.json() == {
            "items": [],
            "total": 0,
            "limit": 5,
            "offset": 0,
            "next_offset": None,
        }
        assert (await client.get("/v1/deliveries?limit=0", headers=mine)).status_code == 422
        peek = await client.get(f"/v1/deliveries?recipient={uuid.uuid4()}", headers=mine)
        assert peek.status_code == 403
        bad = await client.get("/v1/deliveries?recipient=x", headers=mine)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.recipient"
