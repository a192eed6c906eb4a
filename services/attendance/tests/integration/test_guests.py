"""Guests over real NATS and both databases: caps, register-after-N, privacy of name and email."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from echo_attendance.adapters.tables import guests
from echo_runtime.testing import eventually, token

pytestmark = pytest.mark.integration

JOINED = "meeting.participant_joined"
GUESTS = {
    "g1": ("Walk In One", "guest.one@clinic-example.org"),
    "g2": ("Walk In Two", "guest.two@clinic-example.org"),
    "g3": ("Walk In Three", "guest.three@clinic-example.org"),
}


async def test_guest_cap_and_register_after_n_sessions_are_enforced(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    async with kit.world(database_url, nats_server.url, js) as w:
        await w.schedule()
        await w.link_meeting()
        s1 = w.session_id
        s2, s3 = uuid.uuid4(), uuid.uuid4()
        week = timedelta(days=7)
        await w.add_session(s2, kit.SESSION_START + week, kit.SESSION_END + week)
        await w.add_session(s3, kit.SESSION_START + 2 * week, kit.SESSION_END + 2 * week)
        member = await w.participant("member@example.org")
        policy_url = f"/v1/programmes/{w.programme_id}/guest-policy"
        page = token("facilitator")  # the join page's service token

        # Bad policies are refused naming the field; only a hub-admin sets one.
        for body, field in (
            ({"max_guests_per_session": -1}, "max_guests_per_session"),
            ({"register_after_sessions": 0}, "register_after_sessions"),
            ({"max_guests": 2}, "max_guests"),
        ):
            r = await w.client.put(policy_url, headers=w.admin, json=body)
            assert r.status_code == 422 and field in r.json()["detail"], r.text
        policy = {"max_guests_per_session": 2, "register_after_sessions": 2}
        assert (await w.client.put(policy_url, headers=page, json=policy)).status_code == 403
        r = await w.client.put(policy_url, headers=w.admin, json=policy)
        assert r.status_code == 200 and r.json()["max_guests_per_session"] == 2
        assert (await w.client.get(policy_url, headers=token("spoke"))).json() == r.json()

        async def join(session: uuid.UUID, who: str, headers: Any = page) -> Any:
            name, email = GUESTS[who]
            return await w.client.post(
                f"/v1/sessions/{session}/join", headers=headers, json={"name": name, "email": email}
            )

        # Session 1: two guest places. The third guest is refused with what to do.
        one, two = await join(s1, "g1"), await join(s1, "g2")
        assert one.status_code == 200 and one.json()["admitted_as"] == "guest", one.text
        assert two.status_code == 200 and two.json()["guest_id"] != one.json()["guest_id"]
        full = await join(s1, "g3")
        assert full.status_code == 409, full.text
        assert "guest places are full" in full.json()["detail"]
        assert "register" in full.json()["detail"]
        # An admitted guest keeps their place; a registered participant is never a guest.
        again = await join(s1, "g1")
        assert again.status_code == 200 and again.json()["guest_id"] == one.json()["guest_id"]
        r = await w.client.post(
            f"/v1/sessions/{s1}/join", headers=page, json={"email": "Member@Example.org"}
        )
        assert r.status_code == 200 and r.json()["admitted_as"] == "participant"
        assert r.json()["participant_id"] == member["id"]
        r = await w.client.post(
            f"/v1/sessions/{s1}/join", headers=token("spoke", subject=member["id"]), json={}
        )
        assert r.status_code == 200 and r.json()["admitted_as"] == "participant"
        # A spoke not registered to the programme: told how to register, or joins as a guest.
        outsider = token("spoke", subject=str(uuid.uuid4()))
        r = await w.client.post(f"/v1/sessions/{s1}/join", headers=outsider, json={})
        assert r.status_code == 422 and "registrations" in r.json()["detail"]
        assert (await join(s1, "g3", outsider)).status_code == 409  # places still full
        # Bad input: no email to identify a guest, or a malformed one.
        r = await w.client.post(f"/v1/sessions/{s1}/join", headers=page, json={"name": "X"})
        assert r.status_code == 422 and "email" in r.json()["detail"]
        r = await w.client.post(f"/v1/sessions/{s1}/join", headers=page, json={"email": "nope"})
        assert r.status_code == 422 and "email" in r.json()["detail"]
        assert (await join(s1, "g1", token("observer"))).status_code == 403

        # The refused guest comes in through Zoom anyway: recorded, flagged, not admitted.
        at = kit.SESSION_START
        for who, user_id in (("g1", "101"), ("g3", "103")):
            name, email = GUESTS[who]
            body = kit.zoom_body(
                JOINED, w.meeting_id, "i1", at, email=email, user_id=user_id, user_name=name
            )
            r = await w.zoom(body)
            assert r.status_code == 200 and r.json()["guest"] is True, r.text
        records = {r["guest_id"]: r for r in await w.records()}
        assert records[one.json()["guest_id"]]["over_limit"] is False
        [flagged] = [r for gid, r in records.items() if gid != one.json()["guest_id"]]
        assert flagged["over_limit"] is True and flagged["guest"] is True

        # A facilitator records g2 by hand (no video tool): the same guest, by email.
        manual = f"/v1/sessions/{s1}/attendance"
        name, email = GUESTS["g2"]
        entry = {"attended_minutes": 60, "reason": "joined by phone bridge"}
        for bad in (
            entry,
            {**entry, "participant_id": member["id"], "guest": {"name": name, "email": email}},
            {**entry, "guest": {"name": name, "email": "not-an-email"}},
        ):
            r = await w.client.post(manual, headers=page, json=bad)
            assert r.status_code == 422, r.text
        r = await w.client.post(
            manual, headers=page, json={**entry, "guest": {"name": name, "email": email.upper()}}
        )
        assert r.status_code == 200, r.text
        assert r.json()["guest_id"] == two.json()["guest_id"] and r.json()["over_limit"] is False
        assert r.json()["attended_seconds"] == 3600 and r.json()["adjusted"] is True
        audit = await w.client.get(f"/v1/sessions/{s1}/attendance-adjustments", headers=page)
        [adjustment] = audit.json()["items"]
        assert adjustment["guest_id"] == two.json()["guest_id"]
        assert adjustment["participant_id"] is None

        # g1 attends session 2 as well; at session 3 they have attended 2: register first.
        name, email = GUESTS["g1"]
        body = kit.zoom_body(
            JOINED, w.meeting_id, "i2", at + timedelta(days=7), email=email, user_id="201"
        )
        assert (await w.zoom(body)).status_code == 200
        # The last place of session 2 (g1 took one by joining): two guests race, one gets it.
        racing = await asyncio.gather(join(s2, "g2"), join(s2, "g3"))
        assert sorted(r.status_code for r in racing) == [200, 409], [r.text for r in racing]
        third = await join(s3, "g1")
        assert third.status_code == 403, third.text
        assert "attended 2 sessions of this programme as a guest" in third.json()["detail"]
        assert "Register to continue" in third.json()["detail"]
        # g2 attended only session 1: still welcome.
        assert (await join(s3, "g2")).status_code == 200

        # One guest per email in the programme, whichever way they came (page, Zoom, by hand).
        async with w.runtime.db.session() as session:
            stored = (await session.execute(sa.select(guests))).mappings().all()
        assert sorted((g["email"], g["name"]) for g in stored) == sorted(
            (email, name) for name, email in GUESTS.values()
        )

        # Guests are published as ids only: no name, no email on any subject of the stream.
        async def guest_events() -> list[Any]:
            events = await kit.stream_events(js, "attendance_recorded")
            guests = [e for e in events if e.data.guest]
            return guests if len(guests) >= 4 else []

        recorded = await eventually(guest_events, timeout=30)
        assert {e.data.guest_id for e in recorded} == {
            uuid.UUID(one.json()["guest_id"]),
            uuid.UUID(two.json()["guest_id"]),
            uuid.UUID(flagged["guest_id"]),
        }
        assert all(e.data.participant_id is None for e in recorded)
        bodies = [m.data.decode() for m in await kit.stream_messages(js)]
        assert bodies
        for name, email in GUESTS.values():
            assert not any(email in b or name in b for b in bodies), email
