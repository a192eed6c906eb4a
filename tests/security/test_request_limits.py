"""Request limits on the real services: oversized bodies 413, page sizes 422, floods 429.

Cases and attendance run in-process on a real nats-server and SQLite with their ordinary
bootstrap; only the limits are set low so that a flood is a few dozen requests.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from echo_attendance.bootstrap import bootstrap as attendance_bootstrap
from echo_attendance.settings import AttendanceSettings
from echo_cases.bootstrap import bootstrap as cases_bootstrap
from echo_cases.settings import CasesSettings
from echo_runtime.natsserver import NatsServer
from echo_runtime.testing import REGIONS, eventually, running, token
from nats.js import JetStreamContext

pytestmark = pytest.mark.integration

PER_MINUTE = 30
BODY_LIMIT = 64 * 1024


@pytest.fixture
async def cases(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = CasesSettings(
        nats_url=nats_server.url,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/cases.db",
        regions=list(REGIONS),
        rate_limit_per_minute=PER_MINUTE,
        max_body_bytes=BODY_LIMIT,
    )
    async with running(cases_bootstrap(settings)) as client:
        yield client


@pytest.fixture
async def attendance(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = AttendanceSettings(
        nats_url=nats_server.url,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/attendance.db",
        regions=list(REGIONS),
        webhook_rate_limit_per_minute=PER_MINUTE,
        max_body_bytes=BODY_LIMIT,
    )
    async with running(attendance_bootstrap(settings)) as client:
        yield client


def case_body() -> dict[str, object]:
    return {"programme_id": str(uuid.uuid4()), "fields": {"presenting_question": "q"}}


async def test_oversized_bodies_get_413_declared_or_chunked(
    cases: httpx.AsyncClient, attendance: httpx.AsyncClient
) -> None:
    spoke = token("spoke", "ontario")
    big = b'{"programme_id": "' + b"x" * (BODY_LIMIT + 10) + b'"}'
    json_type = {"content-type": "application/json"}

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    answers = {
        "cases declared": await cases.post("/v1/cases", content=big, headers=spoke | json_type),
        "cases chunked": await cases.post("/v1/cases", content=chunks(), headers=spoke | json_type),
        "webhook declared": await attendance.post("/v1/webhooks/video/zoom", content=big),
        "webhook chunked": await attendance.post("/v1/webhooks/video/zoom", content=chunks()),
    }
    for what, response in answers.items():
        assert response.status_code == 413, (what, response.text)
        assert response.headers["content-type"] == "application/problem+json", what
        assert f"the limit is {BODY_LIMIT} bytes" in response.json()["detail"], what
    assert "content-length" not in answers["cases chunked"].request.headers
    # the service is unharmed
    assert (await cases.get("/healthz")).status_code == 200
    print(f"\nlimits: {len(answers)} oversized bodies refused with 413")


async def test_a_page_size_over_the_maximum_gets_422_naming_limit(cases: httpx.AsyncClient) -> None:
    admin = token("network-admin", "*")
    response = await cases.get("/v1/case-templates", params={"limit": 201}, headers=admin)
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "query.limit"
    assert "less than or equal to 200" in problem["detail"]
    assert (
        await cases.get("/v1/case-templates", params={"limit": 200}, headers=admin)
    ).status_code == 200


async def test_a_case_submission_flood_gets_429_while_health_answers_then_recovers(
    cases: httpx.AsyncClient,
) -> None:
    flooder = token("spoke", "ontario")
    calm = token("spoke", "ontario")

    async def submit() -> int:
        return (await cases.post("/v1/cases", json=case_body(), headers=flooder)).status_code

    async def health() -> int:
        return (await cases.get("/healthz")).status_code

    flood = [submit() for _ in range(PER_MINUTE * 3)]
    probes = [health() for _ in range(10)]
    started = time.monotonic()
    statuses = await asyncio.gather(*flood, *probes)
    elapsed = time.monotonic() - started
    counts = Counter(statuses[: len(flood)])
    print(
        f"\nlimits: case flood of {len(flood)} in {elapsed:.1f}s -> {dict(counts)};"
        f" /healthz {statuses[len(flood) :]}"
    )
    # The bucket holds PER_MINUTE and refills one token every 60/PER_MINUTE s while the flood
    # runs (a loaded machine makes the flood slower, not the limit looser).
    let_through = len(flood) - counts[429]
    assert PER_MINUTE <= let_through <= PER_MINUTE + math.ceil(elapsed * PER_MINUTE / 60)
    assert 500 not in counts and sum(counts.values()) == len(flood)
    assert set(statuses[len(flood) :]) == {200}
    # The bucket may have refilled a token since the flood: the next few include a refusal.
    for _ in range(5):
        refused = await cases.post("/v1/cases", json=case_body(), headers=flooder)
        if refused.status_code == 429:
            break
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert "POST /v1/cases takes at most 30 requests a minute" in refused.json()["detail"]
    # another person is not held back by the flooder
    assert (await cases.post("/v1/cases", json=case_body(), headers=calm)).status_code != 429

    async def recovered() -> bool:
        response = await cases.post("/v1/cases", json=case_body(), headers=flooder)
        return response.status_code != 429

    await eventually(recovered, timeout=30, interval=0.5)


async def test_a_webhook_flood_gets_429_then_recovers(attendance: httpx.AsyncClient) -> None:
    async def hook() -> int:
        return (await attendance.post("/v1/webhooks/video/zoom", content=b"{}")).status_code

    started = time.monotonic()
    statuses = await asyncio.gather(*(hook() for _ in range(PER_MINUTE * 2)))
    elapsed = time.monotonic() - started
    counts = Counter(statuses)
    print(f"\nlimits: webhook flood of {len(statuses)} in {elapsed:.1f}s -> {dict(counts)}")
    let_through = len(statuses) - counts[429]  # the bucket refills while the flood runs
    assert PER_MINUTE <= let_through <= PER_MINUTE + math.ceil(elapsed * PER_MINUTE / 60)
    assert not [s for s in statuses if s >= 500]
    assert (await attendance.get("/healthz")).status_code == 200

    async def recovered() -> bool:
        return await hook() != 429

    await eventually(recovered, timeout=30, interval=0.5)
