"""Walking skeleton: schedule events in over real NATS, participants, signed join/leave, records."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from echo_contracts import SessionCancelled, SessionRescheduled, decode
from echo_runtime.testing import eventually, token

pytestmark = pytest.mark.integration


async def _events(js: Any, subject: str) -> list[Any]:
    """Every event published on a subject of the ontario stream (read back from JetStream)."""
    sub = await js.pull_subscribe(subject, stream="ECHO_ONTARIO")
    out = []
    try:
        while True:
            msgs = await sub.fetch(100, timeout=0.5)
            out.extend(decode(m.data) for m in msgs)
    except Exception:  # noqa: S110 - a fetch timeout means the subject is drained
        pass
    await sub.unsubscribe()
    return out


async def test_join_and_leave_become_one_record_and_events(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    async with kit.world(database_url, nats_server.url, js) as w:
        await w.schedule()
        person = await w.participant("sam.lee@example.org")
        await w.link_meeting()
        start = kit.SESSION_START
        join = kit.zoom_body(
            "meeting.participant_joined", w.meeting_id, "inst-1", start, email="Sam.Lee@example.org"
        )
        leave = kit.zoom_body(
            "meeting.participant_left",
            w.meeting_id,
            "inst-1",
            start + timedelta(minutes=90),
            email="sam.lee@example.org",
        )
        r = await w.zoom(join)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "recorded" and r.json()["guest"] is False
        assert (await w.zoom(leave)).status_code == 200

        [record] = await w.records()
        assert record["participant_id"] == person["id"]
        assert record["attended_seconds"] == 90 * 60
        assert record["session_seconds"] == 100 * 60
        assert record["source"] == "zoom" and record["adjusted"] is False

        async def published() -> list[Any]:
            recorded = await _events(js, "echo.ontario.attendance.attendance_recorded")
            credits = await _events(js, "echo.ontario.attendance.credit_awarded")
            return [recorded, credits] if len(recorded) == 2 and credits else []

        recorded, credits = await eventually(published)
        assert [e.data.attended_seconds for e in recorded] == [0, 90 * 60]
        assert credits[-1].data.hours == 1.5 and credits[-1].data.rule_version == 1
        # Object-level reads: an observer of the region sees the list, another region's does not.
        url = f"/v1/sessions/{w.session_id}/attendance"
        assert (await w.client.get(url, headers=token("observer"))).status_code == 200
        assert (await w.client.get(url, headers=token("observer", "shanghai"))).status_code == 404
        assert (await w.client.get(url, headers=token("spoke"))).status_code == 403

        # A spoke may register themselves (their token's subject is their participant id).
        me = await w.client.post(
            "/v1/participants",
            headers=w.admin,
            json={
                "region": "ontario",
                "name": "Dr. Self",
                "email": "self@example.org",
                "profession": "nurse_practitioner",
                "clinic": "Clinic",
                "clinic_id": str(uuid.uuid4()),
            },
        )
        mine = token("spoke", subject=me.json()["id"])
        reg_url = f"/v1/programmes/{w.programme_id}/registrations"
        body = {"participant_id": me.json()["id"]}
        assert (await w.client.post(reg_url, json=body, headers=mine)).status_code == 201
        assert (await w.client.post(reg_url, json=body, headers=mine)).status_code == 409
        other = {"participant_id": person["id"]}
        assert (await w.client.post(reg_url, json=other, headers=mine)).status_code == 403

        registered = await _events(js, "echo.ontario.attendance.participant_registered")
        confirmed = await _events(js, "echo.ontario.attendance.registration_confirmed")
        assert uuid.UUID(person["id"]) in {e.data.participant_id for e in registered}
        assert {e.data.programme_id for e in confirmed} == {w.programme_id}


async def test_forged_stale_and_replayed_webhooks_are_refused_and_change_nothing(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    async with kit.world(database_url, nats_server.url, js) as w:
        await w.schedule()
        await w.participant("ana@example.org")
        await w.link_meeting()
        join = kit.zoom_body(
            "meeting.participant_joined",
            w.meeting_id,
            "i1",
            kit.SESSION_START,
            email="ana@example.org",
        )
        forged = await w.client.post(
            "/v1/webhooks/video/zoom",
            content=join,
            headers=kit.zoom_headers(join, secret="not-the-secret"),
        )
        assert forged.status_code == 401
        tampered_headers = kit.zoom_headers(join)
        tampered = await w.client.post(
            "/v1/webhooks/video/zoom",
            content=join.replace(b"ana@", b"bob@"),
            headers=tampered_headers,
        )
        assert tampered.status_code == 401
        import time

        stale = await w.zoom(join, ts=int(time.time()) - 301)
        assert stale.status_code == 401
        assert "timestamp" in stale.json()["detail"]
        unsigned = await w.client.post("/v1/webhooks/video/zoom", content=join)
        assert unsigned.status_code == 401
        assert await w.records() == []

        headers = kit.zoom_headers(join)
        first = await w.client.post("/v1/webhooks/video/zoom", content=join, headers=headers)
        assert first.status_code == 200
        before = await w.records()
        replay = await w.client.post("/v1/webhooks/video/zoom", content=join, headers=headers)
        assert replay.status_code == 401
        assert "replay" in replay.json()["detail"]
        assert await w.records() == before
        unknown = await w.client.post("/v1/webhooks/video/teams", content=join, headers=headers)
        assert unknown.status_code == 404


async def test_url_validation_handshake(kit: Any, sqlite_url: str) -> None:
    import hashlib
    import hmac
    import json

    async with kit.world(sqlite_url, None, None) as w:
        body = json.dumps(
            {
                "event": "endpoint.url_validation",
                "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
            }
        ).encode()
        r = await w.zoom(body)
        assert r.status_code == 200
        expected = hmac.new(
            kit.ZOOM_SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256
        ).hexdigest()
        assert r.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}


async def test_sessions_follow_the_latest_schedule_whatever_the_arrival_order(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    async with kit.world(database_url, nats_server.url, js) as w:
        await w.schedule()
        person = await w.participant("kim@example.org")
        generic = kit.generic_body(
            "join", w.session_id, kit.SESSION_START, join_token=person["join_token"]
        )
        r = await w.client.post(
            "/v1/webhooks/video/generic", content=generic, headers=kit.generic_headers(generic)
        )
        assert r.status_code == 200, r.text
        leave = kit.generic_body(
            "leave",
            w.session_id,
            kit.SESSION_START + timedelta(minutes=60),
            join_token=person["join_token"],
        )
        r = await w.client.post(
            "/v1/webhooks/video/generic", content=leave, headers=kit.generic_headers(leave)
        )
        assert r.status_code == 200, r.text
        [record] = await w.records()
        assert record["attended_seconds"] == 3600 and record["source"] == "generic"

        # Sequence 3 (shortened to 50 minutes) arrives before sequence 2 (moved an hour later).
        later = kit.SESSION_START + timedelta(hours=1)
        await kit.publish(
            js,
            SessionRescheduled(
                session_id=w.session_id,
                programme_id=w.programme_id,
                previous_starts_at=later,
                starts_at=kit.SESSION_START,
                ends_at=kit.SESSION_START + timedelta(minutes=50),
                timezone="America/Toronto",
                sequence=3,
            ),
        )
        await kit.publish(
            js,
            SessionRescheduled(
                session_id=w.session_id,
                programme_id=w.programme_id,
                previous_starts_at=kit.SESSION_START,
                starts_at=later,
                ends_at=later + timedelta(minutes=100),
                timezone="America/Toronto",
                sequence=2,
            ),
        )

        async def shortened() -> bool:
            [rec] = await w.records()
            return bool(rec["session_seconds"] == 3000 and rec["attended_seconds"] == 3000)

        await eventually(shortened)

        await kit.publish(
            js,
            SessionCancelled(
                session_id=w.session_id,
                programme_id=w.programme_id,
                starts_at=kit.SESSION_START,
                sequence=4,
            ),
        )

        async def ignored_after_cancel() -> bool:
            body = kit.generic_body(
                "join", w.session_id, kit.SESSION_START, email="walkin@example.org"
            )
            r = await w.client.post(
                "/v1/webhooks/video/generic", content=body, headers=kit.generic_headers(body)
            )
            return bool(r.json()["status"] == "ignored")

        await eventually(ignored_after_cancel)


async def test_http_edges_auth_validation_pagination(kit: Any, sqlite_url: str) -> None:
    async with kit.world(sqlite_url, None, None) as w:
        body = {
            "region": "ontario",
            "name": "Dr. A",
            "email": "a@example.org",
            "profession": "physician",
            "clinic": "Clinic",
            "clinic_id": str(uuid.uuid4()),
        }
        assert (await w.client.post("/v1/participants", json=body)).status_code == 401
        spoke = await w.client.post("/v1/participants", json=body, headers=token("spoke"))
        assert spoke.status_code == 403
        other_region = await w.client.post(
            "/v1/participants", json=body, headers=token("hub-admin", "shanghai")
        )
        assert other_region.status_code == 403
        bad = await w.client.post(
            "/v1/participants", json={**body, "profession": "wizard"}, headers=w.admin
        )
        assert bad.status_code == 422
        assert [e["field"] for e in bad.json()["errors"]] == ["profession"]
        extra = await w.client.post(
            "/v1/participants", json={**body, "shoe_size": 9}, headers=w.admin
        )
        assert extra.status_code == 422
        created = await w.client.post("/v1/participants", json=body, headers=w.admin)
        assert created.status_code == 201
        dup = await w.client.post("/v1/participants", json=body, headers=w.admin)
        assert dup.status_code == 409
        pid = created.json()["id"]
        # Another region's staff cannot see the participant at all.
        hidden = await w.client.get(
            f"/v1/participants/{pid}/credits", headers=token("hub-admin", "shanghai")
        )
        assert hidden.status_code == 404
        # The participant's own token can read their credits (an empty page).
        own = await w.client.get(
            f"/v1/participants/{pid}/credits", headers=token("spoke", subject=pid)
        )
        assert own.status_code == 200
        assert own.json() == {
            "items": [],
            "total": 0,
            "limit": 50,
            "offset": 0,
            "next_offset": None,
        }
        too_big = await w.client.get(
            f"/v1/participants/{pid}/credits", headers=w.admin, params={"limit": 1000}
        )
        assert too_big.status_code == 422
        unknown_session = await w.client.get(
            f"/v1/sessions/{uuid.uuid4()}/attendance", headers=w.admin
        )
        assert unknown_session.status_code == 404


async def test_early_joins_late_leaves_and_meeting_end_close_segments(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    import json

    async with kit.world(database_url, nats_server.url, js) as w:
        await w.schedule()
        await w.link_meeting()
        early = await w.participant("early@example.org")
        stayer = await w.participant("stayer@example.org")
        t0 = kit.SESSION_START
        joined, left = "meeting.participant_joined", "meeting.participant_left"
        # Joined 50 minutes early, left 100 minutes after the end (far beyond the buffer).
        for body in (
            kit.zoom_body(
                joined,
                w.meeting_id,
                "m1",
                t0 - timedelta(minutes=50),
                email="early@example.org",
                user_id="1",
            ),
            kit.zoom_body(
                left,
                w.meeting_id,
                "m1",
                t0 + timedelta(minutes=200),
                email="early@example.org",
                user_id="1",
            ),
            kit.zoom_body(
                joined,
                w.meeting_id,
                "m1",
                t0 + timedelta(minutes=10),
                email="stayer@example.org",
                user_id="2",
            ),
        ):
            r = await w.zoom(body)
            assert r.status_code == 200 and r.json()["status"] == "recorded", r.text
        # The stayer never sent a leave: the host ended the meeting at minute 70.
        ended = json.dumps(
            {
                "event": "meeting.ended",
                "event_ts": 0,
                "payload": {
                    "object": {
                        "id": w.meeting_id,
                        "uuid": "m1",
                        "end_time": kit.iso(t0 + timedelta(minutes=70)),
                    }
                },
            }
        ).encode()
        assert (await w.zoom(ended)).json()["status"] == "recorded"
        records = {r["participant_id"]: r["attended_seconds"] for r in await w.records()}
        assert records == {early["id"]: 100 * 60, stayer["id"]: 60 * 60}
        # A join long before any session belongs to none of them.
        stray = kit.zoom_body(
            joined, w.meeting_id, "m0", t0 - timedelta(hours=5), email="early@example.org"
        )
        assert (await w.zoom(stray)).json()["status"] == "ignored"
