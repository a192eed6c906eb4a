"""A burst of 1,000 join webhooks for one session on PostgreSQL and a real NATS."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from echo_runtime.testing import PostgresProvider, eventually

pytestmark = pytest.mark.integration

PEOPLE = 1000
RETRIES = 200  # Zoom re-sends a webhook it got no answer for, re-signed with a new timestamp


@pytest.fixture
async def postgres_url(postgres: PostgresProvider) -> AsyncIterator[str]:
    url = await postgres.create()
    try:
        yield url
    finally:
        await postgres.drop(url)


async def _gather(limit: int, calls: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Any) -> Any:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


async def test_a_thousand_joins_give_one_record_each(
    kit: Any, postgres_url: str, nats_server: Any, js: Any
) -> None:
    async with kit.world(postgres_url, nats_server.url, js) as w:
        await w.schedule()
        await w.link_meeting()
        emails = [f"clinician{n:04d}@example.org" for n in range(PEOPLE)]

        async def enrol(email: str) -> Any:
            return await w.participant(email, name="Dr. Same Name")

        people = await _gather(50, [lambda e=e: enrol(e) for e in emails])

        def join_body(n: int) -> bytes:
            at = kit.SESSION_START + timedelta(seconds=n % 600)
            return kit.zoom_body(
                "meeting.participant_joined",
                w.meeting_id,
                "burst-instance",
                at,
                email=emails[n],
                user_id=str(100000 + n),
                user_name="Dr. Same Name",
            )

        bodies = [join_body(n) for n in range(PEOPLE)] + [join_body(n) for n in range(RETRIES)]
        stamp = int(time.time())

        async def send(i: int, body: bytes) -> int:
            # Retries carry a later timestamp, so they are new deliveries of the same join.
            headers = kit.zoom_headers(body, ts=stamp + (1 if i >= PEOPLE else 0))
            r = await w.client.post("/v1/webhooks/video/zoom", content=body, headers=headers)
            return r.status_code

        started = time.perf_counter()
        statuses = await _gather(200, [lambda i=i, b=b: send(i, b) for i, b in enumerate(bodies)])
        elapsed = time.perf_counter() - started
        assert Counter(statuses) == {200: PEOPLE + RETRIES}, Counter(statuses)

        records: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            r = await w.client.get(
                f"/v1/sessions/{w.session_id}/attendance",
                headers=w.admin,
                params={"limit": 200, "offset": offset},
            )
            page = r.json()
            records.extend(page["items"])
            offset = page["next_offset"]
        per_person = Counter(r["participant_id"] for r in records)
        assert len(records) == PEOPLE
        assert set(per_person) == {p["id"] for p in people}
        assert set(per_person.values()) == {1}
        assert all(not r["guest"] for r in records)

        async def all_published() -> bool:
            info = await js.stream_info(
                "ECHO_ONTARIO", subjects_filter="echo.ontario.attendance.attendance_recorded"
            )
            counts = info.state.subjects or {}
            return sum(counts.values()) == PEOPLE

        await eventually(all_published, timeout=60)
        print(json.dumps({"webhooks": PEOPLE + RETRIES, "seconds": round(elapsed, 2)}))
