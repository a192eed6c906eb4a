"""Credit from real webhooks: boundaries, identities, reconnections, rule changes, manual entry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from echo_runtime.testing import eventually, token

pytestmark = pytest.mark.integration

JOINED = "meeting.participant_joined"
LEFT = "meeting.participant_left"


async def _attend(
    w: Any, kit: Any, start: float, end: float, instance: str = "i1", **who: Any
) -> None:
    t0 = kit.SESSION_START
    for event, minute in ((JOINED, start), (LEFT, end)):
        body = kit.zoom_body(event, w.meeting_id, instance, t0 + timedelta(minutes=minute), **who)
        r = await w.zoom(body)
        assert r.status_code == 200, r.text


async def _credits(w: Any, person: dict[str, Any]) -> list[float]:
    r = await w.client.get(f"/v1/participants/{person['id']}/credits", headers=w.admin)
    assert r.status_code == 200, r.text
    return [c["hours"] for c in r.json()["items"]]


async def _credit_events(js: Any) -> list[Any]:
    from echo_contracts import decode

    sub = await js.pull_subscribe("echo.ontario.attendance.credit_awarded", stream="ECHO_ONTARIO")
    out = []
    try:
        while True:
            out.extend(decode(m.data) for m in await sub.fetch(100, timeout=0.5))
    except Exception:  # noqa: S110 - drained
        pass
    await sub.unsubscribe()
    return out


async def test_boundaries_identities_reconnections_and_rule_changes(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    async with kit.world(database_url, nats_server.url, js) as w:
        await w.schedule()
        await w.link_meeting()
        # Four people typed the same display name; only email or join token tells them apart.
        a = await w.participant("a@example.org", name="Dr. Sam Lee")
        b = await w.participant("b@example.org", name="Dr. Sam Lee")
        c = await w.participant("c@example.org", name="Dr. Sam Lee")
        d = await w.participant("d@example.org", name="Dr. Sam Lee")
        await _attend(w, kit, 0, 79, email="a@example.org", user_id="1")
        # b joins from a link carrying the join token, without a Zoom email.
        await _attend(w, kit, 10, 90, customer_key=b["join_token"], user_id="2")
        await _attend(w, kit, 19, 100, email="c@example.org", user_id="3")
        # d drops out, reconnects, then the host restarts the meeting (a new uuid).
        await _attend(w, kit, -5, 30, email="d@example.org", user_id="40")
        await _attend(w, kit, 32, 60, email="d@example.org", user_id="41")
        await _attend(w, kit, 62, 110, instance="restarted", email="d@example.org", user_id="42")
        # A walk-in with the same display name, whom nobody registered.
        await _attend(w, kit, 0, 100, email="walkin@example.org", user_id="9")

        records = {r["participant_id"]: r for r in await w.records()}
        assert len(records) == 5
        assert records[a["id"]]["attended_seconds"] == 79 * 60
        assert records[b["id"]]["attended_seconds"] == 80 * 60
        assert records[c["id"]]["attended_seconds"] == 81 * 60
        assert records[d["id"]]["attended_seconds"] == (30 + 28 + 38) * 60
        assert records[None]["guest"] is True
        assert records[None]["attended_seconds"] == 100 * 60

        assert await _credits(w, a) == []
        assert await _credits(w, b) == [1.25]
        assert await _credits(w, c) == [1.25]
        assert await _credits(w, d) == [1.5]

        before = await eventually(lambda: _wait_events(js, 3))
        assert sorted(e.data.hours for e in before) == [1.25, 1.25, 1.5]

        # A new rule: 79% and half hours. Only a, b and c change; d stays at 1.5.
        r = await w.client.put(
            f"/v1/programmes/{w.programme_id}/credit-rule",
            headers=w.admin,
            json={"min_percent": 79, "rounding_hours": "0.5"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 2 and r.json()["credits_changed"] == 3
        credits_after = [await _credits(w, p) for p in (a, b, c, d)]
        assert credits_after == [[1.5], [1.5], [1.5], [1.5]]
        events = await eventually(lambda: _wait_events(js, 6))
        changes = sorted((e.data.participant_id, e.data.delta_hours) for e in events[3:])
        assert changes == sorted([(_id(a), 1.5), (_id(b), 0.25), (_id(c), 0.25)])
        assert {e.data.rule_version for e in events[3:]} == {2}

        # The same rule again: the same credits, and nothing to announce.
        again = await w.client.put(
            f"/v1/programmes/{w.programme_id}/credit-rule",
            headers=w.admin,
            json={"min_percent": 79, "rounding_hours": "0.5"},
        )
        assert again.json()["version"] == 3 and again.json()["credits_changed"] == 0
        assert [await _credits(w, p) for p in (a, b, c, d)] == credits_after
        assert len(await _credit_events(js)) == 6

        recompute = await w.client.post(
            f"/v1/programmes/{w.programme_id}/credits/recompute", headers=w.admin
        )
        assert recompute.status_code == 200, recompute.text
        assert recompute.json()["credits_changed"] == 0
        assert recompute.json()["records_changed"] == 0

        # Rule changes need a hub-admin of the programme.
        facilitator = await w.client.put(
            f"/v1/programmes/{w.programme_id}/credit-rule",
            headers=token("facilitator"),
            json={"min_percent": 50},
        )
        assert facilitator.status_code == 403
        invalid = await w.client.put(
            f"/v1/programmes/{w.programme_id}/credit-rule",
            headers=w.admin,
            json={"min_percent": 120},
        )
        assert invalid.status_code == 422
        assert invalid.json()["errors"][0]["field"] == "min_percent"


def _id(person: dict[str, Any]) -> Any:
    import uuid

    return uuid.UUID(person["id"])


async def _wait_events(js: Any, n: int) -> list[Any]:
    events = await _credit_events(js)
    return events if len(events) >= n else []


async def test_manual_entry_is_audited_adjusted_and_recredited(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    async with kit.world(database_url, nats_server.url, js) as w:
        await w.schedule()
        await w.link_meeting()
        a = await w.participant("a@example.org")
        await _attend(w, kit, 0, 50, email="a@example.org")
        assert await _credits(w, a) == []
        url = f"/v1/sessions/{w.session_id}/attendance"
        body = {
            "participant_id": a["id"],
            "attended_minutes": 95,
            "reason": "Zoom crashed; present in the room",
        }
        assert (await w.client.post(url, json=body, headers=token("spoke"))).status_code == 403
        assert (await w.client.post(url, json=body, headers=token("observer"))).status_code == 403
        no_reason = await w.client.post(
            url, json={**body, "reason": ""}, headers=token("facilitator")
        )
        assert no_reason.status_code == 422
        assert no_reason.json()["errors"][0]["field"] == "reason"
        too_long = await w.client.post(
            url, json={**body, "attended_minutes": 101}, headers=token("facilitator")
        )
        assert too_long.status_code == 422

        facilitator = token("facilitator", subject="f-1")
        r = await w.client.post(url, json=body, headers=facilitator)
        assert r.status_code == 200, r.text
        assert r.json()["adjusted"] is True and r.json()["attended_seconds"] == 95 * 60
        assert r.json()["source"] == "manual"
        assert await _credits(w, a) == [1.5]
        # Later webhooks do not undo a facilitator's decision.
        await _attend(w, kit, 60, 70, email="a@example.org", user_id="77")
        [record] = await w.records()
        assert record["adjusted"] is True and record["attended_seconds"] == 95 * 60

        audit = await w.client.get(
            f"/v1/sessions/{w.session_id}/attendance-adjustments", headers=w.admin
        )
        assert audit.status_code == 200
        [entry] = audit.json()["items"]
        assert entry["actor"] == "f-1" and entry["reason"] == body["reason"]
        assert entry["previous_seconds"] == 50 * 60 and entry["attended_seconds"] == 95 * 60

        from echo_contracts import decode

        sub = await js.pull_subscribe(
            "echo.ontario.attendance.attendance_recorded", stream="ECHO_ONTARIO"
        )

        async def adjusted_event() -> bool:
            try:
                msgs = await sub.fetch(100, timeout=0.5)
            except Exception:
                return False
            return any(decode(m.data).data.adjusted for m in msgs)

        await eventually(adjusted_event)
