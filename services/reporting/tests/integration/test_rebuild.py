"""Dropping the read models and replaying the streams gives the same numbers as the live ones."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from echo_reporting.adapters.tables import programmes
from echo_reporting.bootstrap import bootstrap
from echo_reporting.service_layer.rebuild import rebuild
from echo_runtime.database import Database
from echo_runtime.natsserver import NatsServer
from echo_runtime.testing import running, token
from nats.js import JetStreamContext

from ..conftest import REGIONS, all_consumed, publish
from ..scenario import COPD, COPD_SESSIONS, full_scenario, ids

pytestmark = pytest.mark.integration

HEP = ids("programme:hepatitis c ontario")
READS = (
    ("/v1/reports/network", ("network-admin", "*")),
    ("/v1/reports/regions/ontario", ("hub-admin", "ontario")),
    ("/v1/reports/regions/shanghai?from=2025-01-01&to=2025-01-31", ("observer", "shanghai")),
    (f"/v1/reports/programmes/{HEP}", ("facilitator", "ontario")),
    ("/v1/reports/network?format=csv", ("network-admin", "*")),
    (f"/v1/reports/programmes/{COPD}/evaluations", ("observer", "northern-ireland")),
    (f"/v1/reports/sessions/{COPD_SESSIONS[0]}/evaluations", ("observer", "northern-ireland")),
    (f"/v1/reports/programmes/{COPD}/evaluations?format=csv", ("observer", "northern-ireland")),
)


async def _read_all(client: Any) -> list[Any]:
    out = []
    for path, (role, region) in READS:
        response = await client.get(path, headers=token(role, region))
        assert response.status_code == 200, response.text
        if "csv" in path:
            out.append(response.text)
        else:
            body = response.json()
            body.pop("as_of")
            out.append(body)
    return out


async def test_rebuild_replays_every_region_and_matches_the_live_read_models(
    js: JetStreamContext, database_url: str, settings_for: Callable[..., Any]
) -> None:
    settings = settings_for(database_url)
    envelopes = full_scenario().envelopes
    async with running(bootstrap(settings)) as client:
        await publish(js, envelopes)
        await all_consumed(js)
        live = await _read_all(client)

    # A stale row the streams know nothing about: the rebuild must drop it.
    db = Database(database_url)
    async with db.transaction() as session:
        await session.execute(
            sa.insert(programmes).values(
                id=uuid.uuid4(), region="ontario", created=True, created_stamp="x", title_stamp=""
            )
        )
    await db.dispose()

    lines: list[str] = []
    result = await rebuild(settings, progress=lines.append)
    assert result.events == len(envelopes) and result.skipped == 0
    assert result.rows["sessions"] == 13 and result.rows["programmes"] == 4
    # The survey, library and guest read models are rebuilt too.
    assert (result.rows["evaluations"], result.rows["responses"], result.rows["materials"]) == (
        3,
        7,
        5,
    )
    assert "ontario: 48/48 events, done" in lines
    assert "northern-ireland: 56/56 events, done" in lines
    assert any(line.startswith("rebuilt from 122 events") for line in lines)

    async with running(bootstrap(settings_for(database_url, messaging=False))) as client:
        assert await _read_all(client) == live


async def test_the_rebuild_command_prints_progress(
    js: JetStreamContext, sqlite_url: str, nats_server: NatsServer
) -> None:
    await publish(js, full_scenario().envelopes)
    env = {
        **os.environ,
        "REPORTING_NATS_URL": nats_server.url,
        "REPORTING_DATABASE_URL": sqlite_url,
        "REPORTING_REGIONS": ",".join(REGIONS),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "echo_reporting",
        "rebuild",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert "ontario: 48/48 events, done" in text
    assert "shanghai: 18/18 events, done" in text
    assert "northern-ireland: 56/56 events, done" in text
    assert "evaluations=3, responses=7, materials=5" in text
    assert "rebuilt from 122 events" in text


async def test_a_rebuild_while_the_service_runs_loses_nothing_published_meanwhile(
    js: JetStreamContext, database_url: str, settings_for: Callable[..., Any]
) -> None:
    settings = settings_for(database_url)
    envelopes = full_scenario().envelopes
    first, later = envelopes[:70], envelopes[70:]
    async with running(bootstrap(settings)) as client:
        await publish(js, first)
        await all_consumed(js)

        async def keep_publishing() -> None:
            for env in later:
                await publish(js, [env])
                await asyncio.sleep(0.01)

        lines: list[str] = []
        await asyncio.gather(rebuild(settings, progress=lines.append), keep_publishing())
        await all_consumed(js)
        got = await _read_all(client)

    # Every event is in the read models: the same numbers as a rebuild from the streams alone.
    assert got[0]["totals"]["sessions_held"] == 11
    assert got[5]["totals"]["responses"] == 7
    fresh = await rebuild(settings, progress=lambda _: None)
    assert fresh.events == len(envelopes)
    async with running(bootstrap(settings_for(database_url, messaging=False))) as client:
        assert await _read_all(client) == got
