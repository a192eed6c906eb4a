"""Programmes and sessions published to the streams show up in the region and network reports."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from echo_contracts import subject_for, to_wire
from echo_reporting.bootstrap import bootstrap
from echo_runtime.testing import running, token
from nats.js import JetStreamContext

from ..conftest import all_consumed, publish
from ..scenario import Scenario

pytestmark = pytest.mark.integration


def _foundation() -> Scenario:
    sc = Scenario()
    start = datetime(2025, 3, 4, 17, 0, tzinfo=UTC)
    hep = sc.programme("hep", "ontario", date(2025, 3, 4))
    pain = sc.programme("pain", "ontario", date(2025, 3, 5))
    dia = sc.programme("dia", "shanghai", date(2025, 3, 6))
    for i in range(3):
        sc.session(f"hep{i}", hep, "ontario", start + timedelta(weeks=i))
    cancelled = sc.session("pain0", pain, "ontario", start)
    sc.cancel(cancelled, pain, "ontario", start)
    sc.session("dia0", dia, "shanghai", start)
    return sc


async def test_region_and_network_reports_count_programmes_and_sessions_from_the_streams(
    js: JetStreamContext, database_url: str, settings_for: Callable[..., Any]
) -> None:
    runtime = bootstrap(settings_for(database_url))
    async with running(runtime) as client:
        await publish(js, _foundation().envelopes)
        hub = token("hub-admin", "ontario")

        await all_consumed(js)
        ontario = (await client.get("/v1/reports/regions/ontario", headers=hub)).json()
        totals = ontario["totals"]
        assert (
            totals["programmes"],
            totals["sessions_scheduled"],
            totals["sessions_cancelled"],
        ) == (
            2,
            3,
            1,
        )
        assert ontario["programmes"]["total"] == 2
        titles = sorted(p["title"] for p in ontario["programmes"]["items"])
        assert titles == ["Hep", "Pain"]

        network = (
            await client.get("/v1/reports/network", headers=token("network-admin", "*"))
        ).json()
        by_region = {r["region"]: r for r in network["regions"]["items"]}
        assert by_region["ontario"]["programmes"] == 2
        assert by_region["ontario"]["sessions_scheduled"] == 3
        assert by_region["ontario"]["sessions_cancelled"] == 1
        assert by_region["shanghai"]["programmes"] == 1
        assert by_region["shanghai"]["sessions_scheduled"] == 1
        assert by_region["northern-ireland"]["programmes"] == 0
        assert network["totals"]["programmes"] == 3
        # Only network events: no programme title (a regional event) is in the network report.
        assert "Hep" not in str(network) and "title" not in str(network)

        sheet = await client.get("/v1/reports/regions/ontario?format=csv", headers=hub)
        assert sheet.status_code == 200
        assert sheet.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(sheet.text)))
        assert rows[0]["level"] == "total" and rows[0]["sessions_scheduled"] == "3"
        assert {r["level"] for r in rows} == {"total", "programme", "month"}


async def test_replayed_events_are_counted_once(
    js: JetStreamContext, sqlite_url: str, settings_for: Callable[..., Any]
) -> None:
    runtime = bootstrap(settings_for(sqlite_url))
    envelopes = _foundation().envelopes
    async with running(runtime) as client:
        await publish(js, envelopes)
        # The same events again, in reverse, as a relay retry after the duplicate window would
        # send them (another message id, so JetStream stores them a second time).
        for env in reversed(envelopes):
            await js.publish(
                subject_for(env.region, env.data),
                to_wire(env),
                headers={"Nats-Msg-Id": f"again-{env.id}"},
            )
        hub = token("observer", "ontario")
        await all_consumed(js)
        totals = (await client.get("/v1/reports/regions/ontario", headers=hub)).json()["totals"]
        assert totals["programmes"] == 2
        assert totals["sessions_total"] == 4
        assert totals["sessions_cancelled"] == 1
