"""Who reads which report: 401 without a token, 403 outside role or region, 404 when hidden."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from echo_reporting.bootstrap import bootstrap
from echo_runtime.testing import running, token
from nats.js import JetStreamContext

from ..conftest import all_consumed, publish
from ..scenario import Scenario, ids

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "path",
    ["/v1/reports/network", "/v1/reports/regions/ontario", f"/v1/reports/programmes/{ids('x')}"],
)
async def test_reports_need_a_bearer_token(
    sqlite_url: str, settings_for: Callable[..., Any], path: str
) -> None:
    async with running(bootstrap(settings_for(sqlite_url, messaging=False))) as client:
        response = await client.get(path)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        bad = await client.get(path, headers={"authorization": "Bearer not-a-jwt"})
        assert bad.status_code == 401


@pytest.mark.parametrize(
    ("role", "region", "status"),
    [
        ("network-admin", "*", 200),
        ("observer", "ontario", 200),
        ("hub-admin", "ontario", 403),
        ("facilitator", "ontario", 403),
        ("spoke", "ontario", 403),
    ],
)
async def test_network_report_is_for_network_admins_and_observers(
    sqlite_url: str, settings_for: Callable[..., Any], role: str, region: str, status: int
) -> None:
    async with running(bootstrap(settings_for(sqlite_url, messaging=False))) as client:
        response = await client.get("/v1/reports/network", headers=token(role, region))
        assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("role", "region", "status"),
    [
        ("network-admin", "*", 200),
        ("hub-admin", "ontario", 200),
        ("facilitator", "ontario", 200),
        ("expert", "ontario", 200),
        ("observer", "ontario", 200),
        ("hub-admin", "shanghai", 403),
        ("observer", "shanghai", 403),
        ("spoke", "ontario", 403),
    ],
)
async def test_region_report_is_for_hub_roles_and_observers_of_that_region(
    sqlite_url: str, settings_for: Callable[..., Any], role: str, region: str, status: int
) -> None:
    async with running(bootstrap(settings_for(sqlite_url, messaging=False))) as client:
        response = await client.get("/v1/reports/regions/ontario", headers=token(role, region))
        assert response.status_code == status, response.text


async def test_a_region_this_deployment_does_not_serve_is_not_found(
    sqlite_url: str, settings_for: Callable[..., Any]
) -> None:
    async with running(bootstrap(settings_for(sqlite_url, messaging=False))) as client:
        response = await client.get(
            "/v1/reports/regions/namibia", headers=token("network-admin", "*")
        )
        assert response.status_code == 404


async def test_programme_report_needs_access_to_that_programme(
    js: JetStreamContext, sqlite_url: str, settings_for: Callable[..., Any]
) -> None:
    sc = Scenario()
    hep = sc.programme("hep", "ontario", date(2025, 3, 4))
    other = ids("programme:other")
    async with running(bootstrap(settings_for(sqlite_url))) as client:
        await publish(js, sc.envelopes)
        await all_consumed(js)
        path = f"/v1/reports/programmes/{hep}"
        ok = await client.get(path, headers=token("facilitator", "ontario", programmes=[str(hep)]))
        assert ok.status_code == 200 and ok.json()["totals"]["programmes"] == 1
        assert ok.json()["title"] == "Hep"
        for headers in (
            token("facilitator", "ontario", programmes=[str(other)]),
            token("hub-admin", "shanghai"),
            token("spoke", "ontario"),
        ):
            hidden = await client.get(path, headers=headers)
            assert hidden.status_code == 404, hidden.text
        unknown = await client.get(
            f"/v1/reports/programmes/{other}", headers=token("network-admin", "*")
        )
        assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("format=xml", "format"),
        ("from=yesterday", "from"),
        ("to=2025-13-01", "to"),
        ("from=2025-03-01&to=2025-02-01", "to"),
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
    ],
)
async def test_bad_query_is_a_422_naming_the_field(
    sqlite_url: str, settings_for: Callable[..., Any], query: str, field: str
) -> None:
    async with running(bootstrap(settings_for(sqlite_url, messaging=False))) as client:
        response = await client.get(
            f"/v1/reports/regions/ontario?{query}", headers=token("hub-admin", "ontario")
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert any(e["field"].endswith(field) for e in response.json()["errors"])


async def test_a_region_that_is_not_a_slug_is_a_422(
    sqlite_url: str, settings_for: Callable[..., Any]
) -> None:
    async with running(bootstrap(settings_for(sqlite_url, messaging=False))) as client:
        response = await client.get(
            "/v1/reports/regions/Not%20A%20Region", headers=token("network-admin", "*")
        )
        assert response.status_code == 422
        assert any(e["field"].endswith("region") for e in response.json()["errors"])


async def test_network_regions_are_paginated(
    sqlite_url: str, settings_for: Callable[..., Any]
) -> None:
    async with running(bootstrap(settings_for(sqlite_url, messaging=False))) as client:
        page = (
            await client.get("/v1/reports/network?limit=2", headers=token("network-admin", "*"))
        ).json()["regions"]
        assert page["total"] == 3 and len(page["items"]) == 2 and page["next_offset"] == 2
        rest = (
            await client.get(
                "/v1/reports/network?limit=2&offset=2", headers=token("network-admin", "*")
            )
        ).json()["regions"]
        assert [r["region"] for r in rest["items"]] == ["shanghai"] and rest["next_offset"] is None
