"""What scheduling does with the events it consumes: approved cases, published templates."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from echo_contracts import CaseApproved, new_envelope, subject_for, to_wire
from echo_runtime.testing import eventually, running, token
from echo_scheduling.bootstrap import bootstrap
from echo_scheduling.settings import SchedulingSettings
from nats.js import JetStreamContext

from ..conftest import drained, next_weekday, of_type, stream_events

pytestmark = pytest.mark.integration

#: Well over the consumer's ack wait (10 s): a batch fetched but never handled (seen rarely
#: under load, see the report) is redelivered within it, and the outcome must still be exact.
CONSUMED = 60.0


async def _approve(js: JetStreamContext, programme_id: str, *, msg_suffix: str = "") -> Any:
    event = CaseApproved(
        case_id=uuid.uuid4(),
        programme_id=uuid.UUID(programme_id),
        presenter_id=uuid.uuid4(),
        approved_by=uuid.uuid4(),
    )
    env = new_envelope(event, region="ontario", service="cases")
    await js.publish(
        subject_for("ontario", event), to_wire(env), headers={"Nats-Msg-Id": f"{env.id}"}
    )
    return env


async def test_approved_cases_fill_free_slots_of_the_next_sessions_once_each(
    js: JetStreamContext,
    database_url: str,
    settings_for: Callable[..., Any],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    runtime = bootstrap(settings_for(database_url))
    spoke = token("spoke")
    async with running(runtime) as client:
        created = await client.post(
            "/v1/programmes", json=programme_body(session_count=3), headers=token("hub-admin")
        )
        programme = created.json()
        sessions_url = f"/v1/programmes/{programme['id']}/sessions"

        first = await _approve(js, programme["id"])
        # The same event redelivered under another message id changes nothing.
        await js.publish(
            subject_for("ontario", first.data),
            to_wire(first),
            headers={"Nats-Msg-Id": f"{first.id}-again"},
        )
        second = await _approve(js, programme["id"])
        third = await _approve(js, programme["id"])

        async def placed() -> list[Any]:
            items = (await client.get(sessions_url, headers=spoke)).json()["items"]
            slots = [s["agenda"]["case_slots"] for s in items]
            return slots if sum(len(s) for s in slots) == 3 else []

        slots = await eventually(placed, timeout=CONSUMED)
        await eventually(lambda: drained(runtime))
        events = await stream_events(js, "ECHO_ONTARIO", "echo.ontario.scheduling.agenda_updated")

    assert slots[0] == [
        {"position": 1, "case_id": str(first.data.case_id)},
        {"position": 2, "case_id": str(second.data.case_id)},
    ]
    assert slots[1] == [{"position": 1, "case_id": str(third.data.case_id)}]
    assert slots[2] == []
    agendas = of_type(events, "agenda_updated")
    assert len(agendas) == 3
    assert {a.causation_id for a in agendas} == {first.id, second.id, third.id}


async def test_a_case_of_an_unknown_programme_goes_to_the_dead_letters(
    js: JetStreamContext, sqlite_url: str, settings_for: Callable[..., Any]
) -> None:
    runtime = bootstrap(settings_for(sqlite_url))
    async with running(runtime):
        await _approve(js, str(uuid.uuid4()))

        async def dead() -> int:
            return (await js.stream_info("ECHO_DLQ")).state.messages

        assert await eventually(dead, timeout=CONSUMED) == 1


async def test_a_template_replicated_into_two_regions_keeps_its_version_and_local_times(
    js: JetStreamContext, nats_server: Any, database_url: str, tmp_path: Any
) -> None:
    # The superhub's scheduling (here serving northern-ireland) publishes; a hub deployment
    # serving ontario and shanghai receives the template through its own inbox and replicates it.
    superhub = bootstrap(
        SchedulingSettings(
            nats_url=nats_server.url,
            database_url=f"sqlite+aiosqlite:///{tmp_path}/superhub.db",
            regions=["northern-ireland"],
            relay_poll_interval=0.05,
        )
    )
    hub = bootstrap(
        SchedulingSettings(
            nats_url=nats_server.url,
            database_url=database_url,
            regions=["ontario", "shanghai"],
            relay_poll_interval=0.05,
        )
    )
    network_admin = token("network-admin", "*")
    template_body = {
        "title": "ECHO Chronic Pain",
        "session_minutes": 90,
        "frequency": "weekly",
        "interval_weeks": 2,
        "weekday": 1,
        "local_start": "12:00",
        "session_count": 3,
        "curriculum": ["Pain neuroscience", "Opioid tapering", "Mindfulness"],
        "case_template_id": "chronic-pain-v2",
        "credit_rule": "cme-1.5",
    }
    async with running(superhub) as central, running(hub) as regional:
        refused = await central.post(
            "/v1/templates", json=template_body, headers=token("hub-admin")
        )
        assert refused.status_code == 403
        published = await central.post("/v1/templates", json=template_body, headers=network_admin)
        assert published.status_code == 201, published.text
        template = published.json()
        assert template["version"] == 1

        async def arrived(version: int) -> bool:
            got = await regional.get(
                f"/v1/templates/{template['id']}", headers=token("hub-admin", "shanghai")
            )
            return got.status_code == 200 and got.json()["version"] == version

        await eventually(lambda: arrived(1), timeout=CONSUMED)
        starts = date.today() + timedelta(days=7)
        programmes = {}
        for region, tz in (("ontario", "America/Toronto"), ("shanghai", "Asia/Shanghai")):
            response = await regional.post(
                f"/v1/templates/{template['id']}/replicate",
                json={"region": region, "timezone": tz, "starts_on": starts.isoformat()},
                headers=token("hub-admin", region),
            )
            assert response.status_code == 201, response.text
            programmes[region] = response.json()
        wrong = await regional.post(
            f"/v1/templates/{template['id']}/replicate",
            json={"region": "ontario", "timezone": "America/Toronto", "starts_on": str(starts)},
            headers=token("hub-admin", "shanghai"),
        )
        assert wrong.status_code == 403

        changed = {**template_body, "curriculum": ["Something else entirely"]}
        v2 = await central.put(
            f"/v1/templates/{template['id']}", json=changed, headers=network_admin
        )
        assert v2.status_code == 200 and v2.json()["version"] == 2
        await eventually(lambda: arrived(2), timeout=CONSUMED)

        sessions = {}
        for region, p in programmes.items():
            again = await regional.get(f"/v1/programmes/{p['id']}", headers=token("spoke", region))
            assert again.json()["template_version"] == 1
            assert [t["title"] for t in again.json()["curriculum"]] == template_body["curriculum"]
            sessions[region] = (
                await regional.get(
                    f"/v1/programmes/{p['id']}/sessions", headers=token("spoke", region)
                )
            ).json()["items"]
        await eventually(lambda: drained(hub))
        await eventually(lambda: drained(superhub))
        created = of_type(
            await stream_events(js, "ECHO_SHANGHAI", "echo.shanghai.scheduling."),
            "programme_created",
        )
        published = of_type(
            await stream_events(js, "ECHO_SUPERHUB", "echo.network.scheduling."),
            "template_published",
        )

    first_tuesday = next_weekday(1, starts - timedelta(days=1))
    for region, tz in (("ontario", "America/Toronto"), ("shanghai", "Asia/Shanghai")):
        items = sessions[region]
        assert len(items) == 3
        locals_ = [datetime.fromisoformat(s["starts_at"]).astimezone(ZoneInfo(tz)) for s in items]
        assert [(t.hour, t.minute) for t in locals_] == [(12, 0)] * 3
        assert [t.date() for t in locals_] == [
            first_tuesday + timedelta(weeks=2 * n) for n in range(3)
        ]
        assert [s["agenda"]["didactic_topic"] for s in items] == template_body["curriculum"]
    assert [(e.data.template_id, e.data.template_version) for e in created] == [
        (uuid.UUID(template["id"]), 1)
    ]
    assert [(e.data.template_id, e.data.template_version) for e in published] == [
        (uuid.UUID(template["id"]), 1),
        (uuid.UUID(template["id"]), 2),
    ]


async def test_a_case_with_no_free_slot_waits_for_the_next_added_session(
    js: JetStreamContext,
    sqlite_url: str,
    settings_for: Callable[..., Any],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    runtime = bootstrap(settings_for(sqlite_url))
    admin, spoke = token("hub-admin"), token("spoke")
    async with running(runtime) as client:
        programme = (
            await client.post(
                "/v1/programmes",
                json=programme_body(session_count=1, case_slots=1),
                headers=admin,
            )
        ).json()
        first = await _approve(js, programme["id"])
        second = await _approve(js, programme["id"])
        sessions_url = f"/v1/programmes/{programme['id']}/sessions"

        async def both_handled() -> bool:
            info = await js.consumer_info("ECHO_ONTARIO", "scheduling-inbox")
            return (
                info.num_pending == 0
                and info.num_ack_pending == 0
                and info.delivered.consumer_seq >= 2
            )

        await eventually(both_handled, timeout=CONSUMED)
        items = (await client.get(sessions_url, headers=spoke)).json()["items"]
        assert [s["agenda"]["case_slots"] for s in items] == [
            [{"position": 1, "case_id": str(first.data.case_id)}]
        ]
        later = next_weekday(3, date.today() + timedelta(days=20))
        added = await client.post(sessions_url, json={"starts_on": str(later)}, headers=admin)
        assert added.status_code == 201, added.text
        assert added.json()["agenda"]["case_slots"] == [
            {"position": 1, "case_id": str(second.data.case_id)}
        ]
