"""Creating and reading programmes over HTTP, with the events they publish, on real NATS and DBs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
from echo_runtime.testing import eventually, running, token
from echo_scheduling.bootstrap import bootstrap
from nats.js import JetStreamContext

from ..conftest import next_weekday, stream_events

pytestmark = pytest.mark.integration

#: The 1st of a month at least a month ahead: no "last week of the month" in its first days.
FIRST_OF_A_MONTH = (date.today().replace(day=1) + timedelta(days=62)).replace(day=1)


async def test_creating_a_programme_publishes_each_event_exactly_once_to_the_region_stream(
    js: JetStreamContext,
    database_url: str,
    settings_for: Callable[..., Any],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    runtime = bootstrap(settings_for(database_url))
    async with running(runtime) as client:
        created = await client.post(
            "/v1/programmes", json=programme_body(session_count=4), headers=token("hub-admin")
        )
        assert created.status_code == 201, created.text
        programme = created.json()
        assert runtime.relay is not None
        await eventually(lambda: _drained(runtime))
        events = await stream_events(js, "ECHO_ONTARIO", "echo.ontario.scheduling.")

    types = Counter(env.type for _, _, env in events)
    assert types == {
        "echo.scheduling.programme_created.v1": 1,
        "echo.scheduling.programme_profile_updated.v1": 1,
        "echo.scheduling.session_scheduled.v1": 4,
    }
    assert len({msg_id for _, msg_id, _ in events}) == len(events)
    assert all(msg_id == str(env.id) for _, msg_id, env in events)
    assert {env.data.programme_id for _, _, env in events} == {UUID(programme["id"])}
    for other in ("ECHO_NORTHERN_IRELAND", "ECHO_SHANGHAI"):
        assert await stream_events(js, other, "echo.") == []


async def _drained(runtime: Any) -> bool:
    return bool(await runtime.relay.backlog() == 0)


async def test_a_programme_can_be_read_back_and_listed_by_its_region_only(
    sqlite_url: str,
    settings_for: Callable[..., Any],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    runtime = bootstrap(settings_for(sqlite_url, messaging=False))
    async with running(runtime) as client:
        ontario = (
            await client.post("/v1/programmes", json=programme_body(), headers=token("hub-admin"))
        ).json()
        shanghai = (
            await client.post(
                "/v1/programmes",
                json=programme_body(region="shanghai", timezone="Asia/Shanghai"),
                headers=token("hub-admin", "shanghai"),
            )
        ).json()

        spoke = token("spoke", "ontario")
        got = await client.get(f"/v1/programmes/{ontario['id']}", headers=spoke)
        assert got.status_code == 200 and got.json()["title"] == ontario["title"]
        hidden = await client.get(f"/v1/programmes/{shanghai['id']}", headers=spoke)
        assert hidden.status_code == 404
        listed = (await client.get("/v1/programmes", headers=spoke)).json()
        assert [p["id"] for p in listed["items"]] == [ontario["id"]]
        assert listed["total"] == 1
        everything = (
            await client.get("/v1/programmes", headers=token("network-admin", "*"))
        ).json()
        assert everything["total"] == 2

        page = (
            await client.get(f"/v1/programmes/{ontario['id']}/sessions?limit=3", headers=spoke)
        ).json()
        assert page["total"] == 4 and len(page["items"]) == 3 and page["next_offset"] == 3
        second = page["items"][1]["starts_at"]
        window = await client.get(
            f"/v1/programmes/{ontario['id']}/sessions",
            params={"from": second, "to": page["items"][2]["starts_at"]},
            headers=spoke,
        )
        assert [s["starts_at"] for s in window.json()["items"]] == [second]

        scoped = token("spoke", "ontario", programmes=[ontario["id"]])
        mine = (await client.get("/v1/programmes", headers=scoped)).json()
        assert (mine["total"], [p["id"] for p in mine["items"]]) == (1, [ontario["id"]])
        elsewhere = token("spoke", "ontario", programmes=[shanghai["id"]])
        assert (await client.get("/v1/programmes", headers=elsewhere)).json()["total"] == 0


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"session_minutes": 29}, "session_minutes"),
        ({"session_minutes": 241}, "session_minutes"),
        ({"session_count": 160, "interval_weeks": 8}, "session_count"),
        ({"session_count": None, "ends_on": "2099-01-01"}, "ends_on"),
        ({"starts_on": "2020-01-07"}, "starts_on"),
        ({"session_count": 1, "excluded_dates": [next_weekday(1).isoformat()]}, "excluded_dates"),
        (
            {
                "session_count": None,
                "frequency": "monthly_by_weekday",
                "week_of_month": -1,
                "starts_on": FIRST_OF_A_MONTH.isoformat(),
                "ends_on": (FIRST_OF_A_MONTH + timedelta(days=2)).isoformat(),
            },
            "ends_on",
        ),
        (
            {
                "starts_on": next_weekday(1, date.today() + timedelta(days=14)).isoformat(),
                "ends_on": (date.today() + timedelta(days=1)).isoformat(),
            },
            "ends_on",
        ),
        ({"frequency": "fortnightly"}, "frequency"),
        ({"week_of_month": 5}, "week_of_month"),
        ({"case_slots": 3}, "case_slots"),
        ({"title": ""}, "title"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_bad_programme_input_is_a_422_naming_the_field(
    sqlite_url: str,
    settings_for: Callable[..., Any],
    programme_body: Callable[..., dict[str, Any]],
    override: dict[str, Any],
    field: str,
) -> None:
    runtime = bootstrap(settings_for(sqlite_url, messaging=False))
    async with running(runtime) as client:
        response = await client.post(
            "/v1/programmes", json=programme_body(**override), headers=token("hub-admin")
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]]
        listed = (await client.get("/v1/programmes", headers=token("hub-admin"))).json()
        assert listed["total"] == 0


async def test_programmes_need_a_token_and_the_hub_admin_role_in_that_region(
    sqlite_url: str,
    settings_for: Callable[..., Any],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    runtime = bootstrap(settings_for(sqlite_url, messaging=False))
    async with running(runtime) as client:
        body = programme_body()
        assert (await client.post("/v1/programmes", json=body)).status_code == 401
        assert (await client.get("/v1/programmes")).status_code == 401
        for headers in (token("spoke"), token("facilitator"), token("hub-admin", "shanghai")):
            response = await client.post("/v1/programmes", json=body, headers=headers)
            assert response.status_code == 403, response.text
        assert (await client.get("/v1/programmes", headers=token("hub-admin"))).json()["total"] == 0
