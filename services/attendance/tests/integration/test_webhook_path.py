"""The webhook's short path: lookups before the transaction, no session lock without limits."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from echo_attendance.adapters.tables import guest_admissions, guests
from echo_attendance.service_layer.schedule import ScheduleHandlers
from echo_contracts import ProgrammeCreated, SessionScheduled, new_envelope

pytestmark = pytest.mark.integration

JOINED = "meeting.participant_joined"


async def test_a_new_guest_join_costs_a_fixed_number_of_statements(
    kit: Any, database_url: str
) -> None:
    """Zoom join of a new guest: one lookup (session, registrant, guest policy), then receipt,
    guest, admission, record, edge, edges, record update and outbox: nothing per guest admitted."""
    async with kit.world(database_url, None, None) as w:
        await _schedule_without_nats(w, kit)
        await w.link_meeting()
        statements: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement.split()[0].upper())

        engine = w.runtime.db.engine.sync_engine
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            for n in range(3):
                statements.clear()
                body = kit.zoom_body(
                    JOINED,
                    w.meeting_id,
                    "i1",
                    kit.SESSION_START,
                    email=f"guest{n}@clinic-example.org",
                    user_id=str(500 + n),
                )
                r = await w.zoom(body)
                assert r.status_code == 200 and r.json()["guest"] is True, r.text
                assert len(statements) <= 9, statements
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)


async def test_guests_without_limits_are_admitted_at_once_and_count_when_a_cap_comes(
    kit: Any, database_url: str
) -> None:
    async with kit.world(database_url, None, None) as w:
        await _schedule_without_nats(w, kit)
        await w.link_meeting()

        async def join(n: int, name: str = "Walk In") -> Any:
            body = kit.zoom_body(
                JOINED,
                w.meeting_id,
                "i1",
                kit.SESSION_START,
                email=f"walk.in{n}@clinic-example.org",
                user_id=str(700 + n),
                user_name=name,
            )
            return await w.zoom(body)

        # Many new guests at once: no policy, so no one waits for the session row.
        joined = await asyncio.gather(*(join(n) for n in range(6)))
        assert [r.status_code for r in joined] == [200] * 6, [r.text for r in joined]
        async with w.runtime.db.session() as session:
            admitted = await session.scalar(
                sa.select(sa.func.count()).where(guest_admissions.c.session_id == w.session_id)
            )
        assert admitted == 6
        assert not any(r["over_limit"] for r in await w.records())

        # A cap set later counts the guests admitted without one: the next guest is over it.
        policy_url = f"/v1/programmes/{w.programme_id}/guest-policy"
        r = await w.client.put(policy_url, headers=w.admin, json={"max_guests_per_session": 6})
        assert r.status_code == 200, r.text
        assert (await join(99)).status_code == 200
        over = [r for r in await w.records() if r["over_limit"]]
        assert len(over) == 1
        # A guest already admitted rejoins (another replay key) and keeps their place.
        again = await join(0, name="Walk In Again")
        assert again.status_code == 200 and again.json()["status"] in ("recorded", "duplicate")
        assert len([r for r in await w.records() if r["over_limit"]]) == 1


async def test_a_guest_first_seen_without_a_name_takes_the_first_name_given(
    kit: Any, database_url: str
) -> None:
    async with kit.world(database_url, None, None) as w:
        await _schedule_without_nats(w, kit)
        await w.link_meeting()
        email = "nameless@clinic-example.org"
        for n, name in enumerate(("", "Dr. Named", "Dr. Renamed")):
            body = kit.zoom_body(
                JOINED,
                w.meeting_id,
                f"i{n}",
                kit.SESSION_START,
                email=email,
                user_id="900",
                user_name=name,
            )
            r = await w.zoom(body)
            assert r.status_code == 200, r.text
            async with w.runtime.db.session() as session:
                stored = (await session.execute(sa.select(guests.c.name))).scalars().all()
            assert stored in ([""], [None]) if n == 0 else stored == ["Dr. Named"], stored


async def _schedule_without_nats(w: Any, kit: Any) -> None:
    """The programme and its session, applied by the service's own scheduling handler."""
    handlers = ScheduleHandlers(w.runtime.settings)
    handlers.runtime = w.runtime
    run = [
        new_envelope(event, region="ontario", service="scheduling")
        for event in (
            ProgrammeCreated(
                programme_id=w.programme_id,
                region="ontario",
                language="en",
                timezone="America/Toronto",
                session_minutes=100,
                starts_on=date(2026, 1, 5),
            ),
            SessionScheduled(
                session_id=w.session_id,
                programme_id=w.programme_id,
                starts_at=kit.SESSION_START,
                ends_at=kit.SESSION_END,
                timezone="America/Toronto",
            ),
        )
    ]
    async with w.runtime.db.transaction() as session:
        await handlers.when_scheduling_told_apply_run(session, run)
