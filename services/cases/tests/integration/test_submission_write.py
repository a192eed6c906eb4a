"""`POST /v1/cases` stores the case, its audit row and its outbox row together (SQLite: three
inserts in a transaction; PostgreSQL: one statement), and nothing of it when any part fails."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from echo_cases.adapters.tables import case_audit, cases, outbox
from echo_contracts import CaseSubmitted, decode, subject_for
from echo_runtime.testing import eventually

pytestmark = pytest.mark.integration


async def _count(kit: Any, table: sa.Table) -> int:
    async with kit.runtime.db.session() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_a_submission_writes_the_case_its_audit_row_and_one_event(kit: Any) -> None:
    programme = await kit.programme()
    created = await kit.submit(programme)
    case_id = uuid.UUID(created["id"])

    async with kit.runtime.db.session() as session:
        row = (await session.execute(sa.select(cases))).mappings().one()
        audit = (await session.execute(sa.select(case_audit))).mappings().all()
        staged = (await session.execute(sa.select(outbox))).mappings().all()
    assert row["id"] == case_id
    assert row["status"] == "submitted" and row["version"] == 1
    assert row["region"] == programme.region and row["presenter_id"] == programme.spoke_id
    assert row["fields"] == created["fields"] and row["fields"] == kit.clean_fields
    assert [(a["case_id"], a["action"], a["from_status"], a["to_status"]) for a in audit] == [
        (case_id, "submitted", None, "submitted")
    ]
    assert audit[0]["actor"] == str(programme.spoke_id)
    assert len(staged) == 1
    envelope = decode(bytes(staged[0]["body"]))
    assert isinstance(envelope.data, CaseSubmitted)
    assert envelope.data.case_id == case_id
    assert envelope.data.programme_id == programme.id
    assert staged[0]["event_id"] == str(envelope.id)
    assert staged[0]["subject"] == subject_for(programme.region, envelope.data)
    assert staged[0]["event_type"] == envelope.type

    # The relay publishes it exactly once.
    await eventually(lambda: _published(kit, case_id, 1))
    await asyncio.sleep(0.5)
    assert await _published(kit, case_id, 1)


async def _published(kit: Any, case_id: uuid.UUID, expected: int) -> bool:
    found = [
        e
        for e in await kit.case_events()
        if isinstance(e.data, CaseSubmitted) and e.data.case_id == case_id
    ]
    return len(found) == expected


async def test_concurrent_submissions_each_write_their_own_rows(kit: Any) -> None:
    programme = await kit.programme()
    created = await asyncio.gather(*(kit.submit(programme) for _ in range(12)))
    ids = {uuid.UUID(c["id"]) for c in created}
    assert len(ids) == 12
    async with kit.runtime.db.session() as session:
        stored = set((await session.execute(sa.select(cases.c.id))).scalars())
        audited = list((await session.execute(sa.select(case_audit.c.case_id))).scalars())
        bodies = list((await session.execute(sa.select(outbox.c.body))).scalars())
    assert stored == ids
    assert sorted(audited) == sorted(ids)
    announced = [decode(bytes(b)).data for b in bodies]
    assert sorted(e.case_id for e in announced if isinstance(e, CaseSubmitted)) == sorted(ids)


async def test_a_failed_outbox_write_keeps_nothing_of_the_case(kit: Any) -> None:
    programme = await kit.programme()
    async with kit.runtime.db.transaction() as session:
        await session.execute(sa.text("DROP TABLE outbox"))
    response = await kit.client.post(
        "/v1/cases",
        json={"programme_id": str(programme.id), "fields": kit.clean_fields},
        headers=programme.spoke(),
    )
    assert response.status_code == 503
    assert "could not be saved" in response.json()["detail"]
    assert await _count(kit, cases) == 0
    assert await _count(kit, case_audit) == 0


async def test_a_refused_case_writes_nothing(kit: Any) -> None:
    programme = await kit.programme()
    response = await kit.client.post(
        "/v1/cases",
        json={
            "programme_id": str(programme.id),
            "fields": {**kit.clean_fields, "medications": "Seen on 12 March 2024."},
        },
        headers=programme.spoke(),
    )
    assert response.status_code == 422
    for table in (cases, case_audit, outbox):
        assert await _count(kit, table) == 0
