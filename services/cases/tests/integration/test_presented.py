"""A scheduled case whose session has ended is marked presented, once, without anyone asking."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from echo_contracts import AgendaUpdated, CaseSlot
from echo_runtime.testing import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def cases_settings() -> dict[str, Any]:
    return {"presented_check_interval": 0.2}


async def test_a_case_is_presented_when_its_session_has_ended(kit: Any) -> None:
    # The session started 100 minutes ago and lasted 90: it ended 10 minutes ago.
    programme = await kit.programme(starts_in=timedelta(minutes=-100))
    case = await kit.submit(programme)
    await kit.client.post(f"/v1/cases/{case['id']}/approve", headers=programme.facilitator())
    await kit.publish(
        AgendaUpdated(
            session_id=programme.session_id,
            programme_id=programme.id,
            case_slots=[CaseSlot(position=1, case_id=uuid.UUID(case["id"]))],
        )
    )

    async def presented() -> bool:
        got = await kit.client.get(f"/v1/cases/{case['id']}", headers=programme.facilitator())
        return bool(got.json()["status"] == "presented")

    await eventually(presented)

    async def announced() -> list[str] | None:
        names = [type(e.data).__name__ for e in await kit.case_events()]
        return names if "CasePresented" in names else None

    names = await eventually(announced)
    assert names.count("CasePresented") == 1
    issued = await kit.client.post(
        f"/v1/cases/{case['id']}/recommendations",
        json={"text": "Continue the current plan."},
        headers=programme.facilitator(),
    )
    assert issued.json()["status"] == "recommendations_issued"
