"""Sessions over HTTP: one-off, reschedule, cancel, agenda, calendar; each change's event once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import icalendar
import pytest
from echo_runtime.testing import eventually, running, token
from echo_scheduling.bootstrap import bootstrap
from nats.js import JetStreamContext

from ..conftest import drained, next_weekday, of_type, stream_events

pytestmark = pytest.mark.integration

TORONTO = ZoneInfo("America/Toronto")
CURRICULUM = [
    {"title": "Opioid tapering", "presenter_name": "Dr. A. Expert"},
    {"title": "Buprenorphine starts"},
]


async def _programme(client: Any, body: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    created = await client.post("/v1/programmes", json=body, headers=token("hub-admin"))
    assert created.status_code == 201, created.text
    programme = created.json()
    sessions = await client.get(
        f"/v1/programmes/{programme['id']}/sessions", headers=token("spoke")
    )
    return programme, sessions.json()["items"]


async def test_session_changes_publish_their_events_exactly_once(
    js: JetStreamContext,
    database_url: str,
    settings_for: Callable[..., Any],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    runtime = bootstrap(settings_for(database_url))
    admin, facilitator = token("hub-admin"), token("facilitator")
    async with running(runtime) as client:
        programme, sessions = await _programme(
            client, programme_body(session_count=4, curriculum=CURRICULUM)
        )
        first, second, third = sessions[0], sessions[1], sessions[2]
        assert first["agenda"]["presenter_name"] == "Dr. A. Expert"
        assert second["warnings"] == ["presenter_missing"]
        assert third["warnings"] == ["didactic_topic_missing", "presenter_missing"]

        new_start = datetime.fromisoformat(first["starts_at"]) + timedelta(days=1, hours=1)
        moved = await client.patch(
            f"/v1/sessions/{first['id']}", json={"starts_at": new_start.isoformat()}, headers=admin
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["sequence"] == 1
        assert datetime.fromisoformat(moved.json()["starts_at"]) == new_start
        past = await client.patch(
            f"/v1/sessions/{first['id']}",
            json={"starts_at": "2020-01-01T12:00:00-05:00"},
            headers=admin,
        )
        assert past.status_code == 422
        assert [e["field"] for e in past.json()["errors"]] == ["starts_at"]

        for _ in range(2):  # a retried cancel changes nothing more
            cancelled = await client.post(
                f"/v1/sessions/{second['id']}/cancel",
                json={"reason": "Statutory holiday"},
                headers=admin,
            )
            assert cancelled.status_code == 200, cancelled.text
            assert cancelled.json()["status"] == "cancelled"
            assert cancelled.json()["sequence"] == 1
        again = await client.patch(
            f"/v1/sessions/{second['id']}", json={"starts_at": new_start.isoformat()}, headers=admin
        )
        assert again.status_code == 409

        agenda = await client.put(
            f"/v1/sessions/{third['id']}/agenda",
            json={"didactic_topic": "Naloxone distribution"},
            headers=facilitator,
        )
        assert agenda.status_code == 200, agenda.text
        assert agenda.json()["warnings"] == ["presenter_missing"]

        one_off_day = next_weekday(4, date.today() + timedelta(days=30))
        one_off = await client.post(
            f"/v1/programmes/{programme['id']}/sessions",
            json={"starts_on": one_off_day.isoformat(), "local_start": "15:30"},
            headers=admin,
        )
        assert one_off.status_code == 201, one_off.text
        assert one_off.json()["kind"] == "one_off"
        local = datetime.fromisoformat(one_off.json()["local_starts_at"])
        assert (local.date(), local.hour, local.minute) == (one_off_day, 15, 30)

        await eventually(lambda: drained(runtime))
        events = await stream_events(js, "ECHO_ONTARIO", "echo.ontario.scheduling.")

    rescheduled = of_type(events, "session_rescheduled")
    assert [(e.data.session_id, e.data.sequence) for e in rescheduled] == [(UUID(first["id"]), 1)]
    assert rescheduled[0].data.previous_starts_at == datetime.fromisoformat(first["starts_at"])
    cancelled_events = of_type(events, "session_cancelled")
    assert [(e.data.session_id, e.data.sequence) for e in cancelled_events] == [
        (UUID(second["id"]), 1)
    ]
    assert len(of_type(events, "session_scheduled")) == 5
    agendas = of_type(events, "agenda_updated")
    # Two from the curriculum at creation, the facilitator's edit, the one-off session.
    assert len(agendas) == 4
    edited = [a for a in agendas if a.data.session_id == UUID(third["id"])]
    assert edited[0].data.warnings == ["presenter_missing"]
    assert len({env.id for _, _, env in events}) == len(events)


async def test_the_calendar_keeps_uids_raises_sequence_and_marks_cancellations(
    sqlite_url: str,
    settings_for: Callable[..., Any],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    runtime = bootstrap(settings_for(sqlite_url, messaging=False))
    admin, spoke = token("hub-admin"), token("spoke")
    async with running(runtime) as client:
        programme, sessions = await _programme(client, programme_body(session_count=3))
        url = f"/v1/programmes/{programme['id']}/calendar.ics"
        before = await client.get(url, headers=spoke)
        assert before.status_code == 200
        assert before.headers["content-type"].startswith("text/calendar")
        cal = icalendar.Calendar.from_ical(before.content)
        uids = [str(e["UID"]) for e in cal.walk("VEVENT")]
        assert [u.split("@")[0] for u in uids] == [s["id"] for s in sessions]

        new_start = datetime.fromisoformat(sessions[0]["starts_at"]) + timedelta(days=2)
        await client.patch(
            f"/v1/sessions/{sessions[0]['id']}",
            json={"starts_at": new_start.isoformat()},
            headers=admin,
        )
        await client.post(
            f"/v1/sessions/{sessions[2]['id']}/cancel", json={"reason": "x"}, headers=admin
        )
        after = icalendar.Calendar.from_ical((await client.get(url, headers=spoke)).content)
        by_uid = {str(e["UID"]): e for e in after.walk("VEVENT")}
        assert set(by_uid) == set(uids)
        moved = by_uid[uids[0]]
        assert int(moved["SEQUENCE"]) == 1
        start = moved.decoded("DTSTART")
        assert str(start.tzinfo) == "America/Toronto" or moved["DTSTART"].params["TZID"] == (
            "America/Toronto"
        )
        assert start.astimezone(UTC) == new_start.astimezone(UTC)
        assert (start.hour, start.minute) == (12, 0)
        assert str(by_uid[uids[2]]["STATUS"]) == "CANCELLED"
        assert int(by_uid[uids[2]]["SEQUENCE"]) == 1
        assert str(by_uid[uids[1]]["STATUS"]) == "CONFIRMED"
        assert [str(t["TZID"]) for t in after.walk("VTIMEZONE")] == ["America/Toronto"]

        other_region = await client.get(url, headers=token("spoke", "shanghai"))
        assert other_region.status_code == 404
        assert (await client.get(url)).status_code == 401


async def test_editing_the_rule_replans_future_sessions_and_keeps_exclusions(
    js: JetStreamContext,
    database_url: str,
    settings_for: Callable[..., Any],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    runtime = bootstrap(settings_for(database_url))
    admin, spoke = token("hub-admin"), token("spoke")
    async with running(runtime) as client:
        programme, sessions = await _programme(client, programme_body(session_count=4))
        skipped = datetime.fromisoformat(sessions[1]["local_starts_at"]).date()
        url = f"/v1/programmes/{programme['id']}"
        excluded = await client.patch(url, json={"exclude_dates": [str(skipped)]}, headers=admin)
        assert excluded.status_code == 200, excluded.text
        moved = await client.patch(url, json={"local_start": "08:30"}, headers=admin)
        assert moved.status_code == 200, moved.text
        assert moved.json()["excluded_dates"] == [str(skipped)]
        denied = await client.patch(url, json={"local_start": "09:00"}, headers=spoke)
        assert denied.status_code == 403
        after = (await client.get(f"{url}/sessions", headers=spoke)).json()["items"]
        await eventually(lambda: drained(runtime))
        events = await stream_events(js, "ECHO_ONTARIO", "echo.ontario.scheduling.")

    live = [s for s in after if s["status"] == "scheduled"]
    assert len(live) == 3
    assert skipped not in [datetime.fromisoformat(s["local_starts_at"]).date() for s in live]
    assert {datetime.fromisoformat(s["local_starts_at"]).time().isoformat() for s in live} == {
        "08:30:00"
    }
    assert [e.data.session_id for e in of_type(events, "session_cancelled")] == [
        UUID(sessions[1]["id"])
    ]
    assert len(of_type(events, "session_rescheduled")) == 3
    assert len(of_type(events, "session_scheduled")) == 4
