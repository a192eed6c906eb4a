"""Sessions from scheduling land in the cases service's own table, whatever the arrival order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from echo_cases.adapters.repository import SqlaDirectory
from echo_contracts import (
    ProgrammeCreated,
    SessionCancelled,
    SessionRescheduled,
    SessionScheduled,
)
from echo_runtime.testing import eventually

pytestmark = pytest.mark.integration


async def test_sessions_are_kept_with_the_latest_version_even_out_of_order(kit: Any) -> None:
    programme_id, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    start = datetime(2027, 3, 4, 17, 0, tzinfo=UTC)
    moved = start + timedelta(days=1)
    await kit.publish(
        ProgrammeCreated(
            programme_id=programme_id,
            region="shanghai",
            language="zh-Hans",
            timezone="Asia/Shanghai",
            session_minutes=90,
            starts_on=start.date(),
        ),
        "shanghai",
    )
    # The reschedule (sequence 1) arrives before the original schedule (sequence 0).
    await kit.publish(
        SessionRescheduled(
            session_id=first,
            programme_id=programme_id,
            previous_starts_at=start,
            starts_at=moved,
            ends_at=moved + timedelta(minutes=90),
            timezone="Asia/Shanghai",
            sequence=1,
        ),
        "shanghai",
    )
    for session_id in (first, second):
        await kit.publish(
            SessionScheduled(
                session_id=session_id,
                programme_id=programme_id,
                starts_at=start,
                ends_at=start + timedelta(minutes=90),
                timezone="Asia/Shanghai",
            ),
            "shanghai",
        )
    await kit.publish(
        SessionCancelled(session_id=second, programme_id=programme_id, starts_at=start, sequence=1),
        "shanghai",
    )

    async def both() -> Any:
        async with kit.runtime.db.session() as session:
            directory = SqlaDirectory(session)
            a, b = await directory.session_info(first), await directory.session_info(second)
            return (a, b) if a and b and b.status == "cancelled" else None

    a, b = await eventually(both)
    assert (a.starts_at, a.sequence, a.status, a.region) == (moved, 1, "scheduled", "shanghai")
    assert (b.starts_at, b.status) == (start, "cancelled")
    async with kit.runtime.db.session() as session:
        assert await SqlaDirectory(session).programme_region(programme_id) == "shanghai"


async def test_an_agenda_that_arrives_before_its_session_still_schedules_the_case(
    kit: Any,
) -> None:
    from echo_contracts import AgendaUpdated, CaseSlot

    programme = await kit.programme()
    case = await kit.submit(programme)
    await kit.client.post(f"/v1/cases/{case['id']}/approve", headers=programme.facilitator())
    late_session = uuid.uuid4()
    starts = datetime.now(UTC) + timedelta(days=14)
    # The agenda of a session the cases service has not heard of yet...
    await kit.publish(
        AgendaUpdated(
            session_id=late_session,
            programme_id=programme.id,
            case_slots=[CaseSlot(position=2, case_id=uuid.UUID(case["id"]))],
        )
    )

    async def scheduled() -> Any:
        got = await kit.client.get(f"/v1/cases/{case['id']}", headers=programme.facilitator())
        return got.json() if got.json()["status"] == "scheduled" else None

    placed = await eventually(scheduled)
    assert (placed["session_id"], placed["slot"]) == (str(late_session), 2)
    # ...and then the session itself: its times fill in, the agenda is kept.
    await kit.publish(
        SessionScheduled(
            session_id=late_session,
            programme_id=programme.id,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=90),
            timezone="America/Toronto",
        )
    )

    async def timed() -> Any:
        async with kit.runtime.db.session() as session:
            info = await SqlaDirectory(session).session_info(late_session)
        return info if info is not None and info.starts_at is not None else None

    info = await eventually(timed)
    assert info.starts_at == starts and info.agenda_at is not None
    # Its session has not started: recording recommendations is refused with a conflict.
    early = await kit.client.post(
        f"/v1/cases/{case['id']}/recommendations",
        json={"text": "Not yet."},
        headers=programme.facilitator(),
    )
    assert early.status_code == 409
