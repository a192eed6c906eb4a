"""Events out of order converge; two dispatchers on one database never send a message twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from echo_contracts import (
    ParticipantRegistered,
    RegistrationConfirmed,
    SessionRescheduled,
    SessionScheduled,
)
from echo_contracts.events import Profession
from echo_notifications.bootstrap import build
from echo_notifications.settings import NotificationsSettings
from echo_runtime.testing import eventually, running

pytestmark = pytest.mark.integration

START = datetime(2030, 3, 5, 17, 0, tzinfo=UTC)


async def test_events_out_of_order_still_reach_the_right_person_at_the_right_time(
    kit: Any, database_url: str, nats_server: Any, js: Any, smtp: Any
) -> None:
    async with kit.world(
        database_url, nats_server.url, js, smtp_port=smtp.port, start=START - timedelta(days=3)
    ) as w:
        await w.programme()
        person = uuid.uuid4()
        # The registration arrives before the participant's profile.
        await w.publish(
            RegistrationConfirmed(
                registration_id=uuid.uuid4(),
                participant_id=person,
                programme_id=w.programme_id,
                clinic_id=uuid.uuid4(),
                profession=Profession.NURSE,
            )
        )

        async def attempted() -> Any:
            # On a loaded machine a pass may find the new delivery not yet due or claimed by
            # the background pass: tick until one pass has tried it.
            await w.tick()
            rows = await w.deliveries(recipient_id=person)
            return rows[0] if len(rows) == 1 and rows[0]["last_error"] else None

        waiting = await eventually(attempted)
        assert smtp.messages == []
        assert (waiting["status"], waiting["last_error"]) == ("pending", "recipient_unknown")
        await w.publish(
            ParticipantRegistered(
                participant_id=person,
                name="Noor Haddad",
                email="noor@example.org",
                profession=Profession.NURSE,
                clinic="North Clinic",
                clinic_id=uuid.uuid4(),
                language="fr",
                timezone="America/Toronto",
            )
        )
        w.clock.advance(timedelta(minutes=5))
        await w.tick()
        [welcome] = smtp.messages
        assert welcome["Subject"].startswith("Inscription confirmée")

        # A reschedule (sequence 1) overtakes the original scheduling (sequence 0).
        session_id = uuid.uuid4()
        moved = START + timedelta(hours=3)
        await w.publish(
            SessionRescheduled(
                session_id=session_id,
                programme_id=w.programme_id,
                previous_starts_at=START,
                starts_at=moved,
                ends_at=moved + timedelta(minutes=90),
                timezone="America/Toronto",
                sequence=1,
            ),
            SessionScheduled(
                session_id=session_id,
                programme_id=w.programme_id,
                starts_at=START,
                ends_at=START + timedelta(minutes=90),
                timezone="America/Toronto",
            ),
        )
        [session] = await w.table("sessions")
        assert session["starts_at"].replace(tzinfo=UTC) == moved and session["sequence"] == 1
        due = sorted(r["due_at"].replace(tzinfo=UTC) for r in await w.table("reminders"))
        assert due == [moved - timedelta(days=1), moved - timedelta(hours=1)]
        w.clock.set(START - timedelta(hours=1))  # the stale hour-before instant
        await w.tick()
        assert not [m for m in smtp.messages if m["Subject"].startswith("Dans une heure")]
        w.clock.set(moved - timedelta(hours=1))
        await w.tick()
        assert len([m for m in smtp.messages if m["Subject"].startswith("Dans une heure")]) == 1


async def test_two_dispatchers_on_one_database_send_each_message_once(
    kit: Any, database_url: str, nats_server: Any, js: Any, smtp: Any
) -> None:
    async with kit.world(
        database_url, nats_server.url, js, smtp_port=smtp.port, background=False
    ) as w:
        await w.programme()
        for n in range(15):
            await w.participant(f"p{n}@example.org", name=f"Participant {n}")
        replica_settings = NotificationsSettings(
            database_url=database_url,
            messaging=False,
            dispatcher=False,
            smtp_port=smtp.port,
            send_concurrency=3,
            dispatch_batch=4,
        )
        replica, other = build(replica_settings, clock=w.clock)
        async with running(replica):
            await asyncio.gather(w.tick(), other.tick(), w.tick(), other.tick())
        ids = [str(m["Message-ID"]) for m in smtp.messages]
        assert len(ids) == 15 and len(set(ids)) == 15
        rows = await w.deliveries()
        assert {(r["status"], r["attempts"]) for r in rows} == {("sent", 1)}
        sent = await w.events("echo.ontario.notifications.notification_sent", expect=15)
        assert len(sent) == 15
