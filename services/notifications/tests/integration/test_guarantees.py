"""A dispatcher killed between sending and recording; quiet hours on a manual clock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from echo_contracts import CertificateIssued, SessionScheduled
from echo_notifications.adapters.smtp import SmtpMailer
from echo_notifications.domain.model import ChannelKind
from echo_notifications.domain.ports import OutgoingMessage
from echo_notifications.settings import NotificationsSettings
from echo_runtime.testing import token

pytestmark = pytest.mark.integration

NOON = datetime(2030, 3, 5, 17, 0, tzinfo=UTC)  # 12:00 in Toronto


class KilledAfterSending:
    """The real SMTP sender, then the process dies before it can record the outcome."""

    def __init__(self, port: int) -> None:
        self.inner = SmtpMailer(NotificationsSettings(smtp_port=port))

    async def send(self, message: OutgoingMessage) -> None:
        await self.inner.send(message)
        raise asyncio.CancelledError  # like kill -9: the message left, nothing was recorded


async def test_a_dispatcher_killed_after_sending_resends_once_with_the_same_message_id(
    kit: Any, database_url: str, nats_server: Any, js: Any, smtp: Any
) -> None:
    crashing = {ChannelKind.EMAIL: KilledAfterSending(smtp.port)}
    async with kit.world(
        database_url, nats_server.url, js, start=NOON, background=False, senders=crashing
    ) as w:
        await w.programme()
        person = await w.participant("ana@example.org")
        with pytest.raises(asyncio.CancelledError):
            await w.tick()
        [first] = smtp.messages
        [claimed] = await w.deliveries(recipient_id=person)
        assert (claimed["status"], claimed["attempts"]) == ("pending", 1)

    # Restarted (a new process on the same database): the claim's lease still holds, so a
    # replica that starts while the first might still be sending does not send it again.
    async with kit.world(database_url, nats_server.url, js, start=NOON, smtp_port=smtp.port) as w:
        await w.tick()
        assert len(smtp.messages) == 1
        w.clock.advance(timedelta(seconds=301))  # the lease (claim_lease_seconds) has run out
        await w.tick()
        assert len(smtp.messages) == 2
        second = smtp.messages[1]
        # At most one resend, recognisable: the same Message-ID, so mail systems de-duplicate.
        assert second["Message-ID"] == first["Message-ID"] == f"<{claimed['id']}@echo.local>"
        [sent] = await w.deliveries(recipient_id=person)
        assert (sent["status"], sent["attempts"]) == ("sent", 2)
        w.clock.advance(timedelta(days=1))
        await w.tick()
        assert len(smtp.messages) == 2
        [event] = await w.events("echo.ontario.notifications.notification_sent", expect=1)
        assert event.data.delivery_id == claimed["id"]


async def test_quiet_hours_hold_messages_until_morning_and_drop_a_pointless_reminder(
    kit: Any, database_url: str, nats_server: Any, js: Any, smtp: Any
) -> None:
    night = NOON + timedelta(hours=11, minutes=30)  # 23:30 in Toronto
    async with kit.world(
        database_url, nats_server.url, js, start=night - timedelta(days=2), smtp_port=smtp.port
    ) as w:
        await w.programme(timezone="America/Toronto")
        person = await w.participant("ana@example.org", enrol=True)
        await w.tick()
        assert len(smtp.messages) == 1
        saved = await w.client.put(
            f"/v1/participants/{person}/preferences",
            json={
                "channels": ["email"],
                "timezone": "America/Toronto",
                "quiet_hours": {"start": "22:00", "end": "07:00"},
            },
            headers=token("spoke", "ontario", subject=str(person)),
        )
        assert saved.status_code == 200, saved.text
        # A session at 00:15 Toronto time: its hour-before reminder falls in quiet hours.
        session_start = night + timedelta(minutes=45)
        await w.publish(
            CertificateIssued(
                certificate_id=uuid.uuid4(),
                participant_id=person,
                programme_id=w.programme_id,
                hours=2,
            ),
            SessionScheduled(
                session_id=uuid.uuid4(),
                programme_id=w.programme_id,
                starts_at=session_start,
                ends_at=session_start + timedelta(minutes=90),
                timezone="America/Toronto",
            ),
        )
        w.clock.set(night)
        await w.tick()
        assert len(smtp.messages) == 1, "nothing at 23:30"
        by_template = {d["template"]: d for d in await w.deliveries(recipient_id=person)}
        held = by_template["certificate_issued"]
        assert held["status"] == "pending" and held["last_error"] == "quiet_hours"
        morning = NOON + timedelta(hours=19)  # 07:00 next day in Toronto
        assert held["next_attempt_at"].replace(tzinfo=UTC) == morning
        assert by_template["reminder_hour_before"]["status"] == "suppressed"

        w.clock.set(morning - timedelta(seconds=1))
        await w.tick()
        assert len(smtp.messages) == 1
        w.clock.set(morning)
        await w.tick()
        assert [m["Subject"] for m in smtp.messages[1:]] == [
            "Your certificate is ready: your programme"
        ]


async def test_in_development_emails_land_once_each_as_files_in_the_mail_drop(
    kit: Any, database_url: str, nats_server: Any, js: Any, tmp_path: Any
) -> None:
    drop = tmp_path / "mail"
    async with kit.world(
        database_url, nats_server.url, js, start=NOON, mail_drop_dir=str(drop)
    ) as w:
        await w.programme(language="fr")
        person = await w.participant("ana@example.org", name="Ana Diaz", language="en")
        await w.tick()
        [delivery] = await w.deliveries(recipient_id=person)
        assert delivery["status"] == "sent"
        [eml] = sorted(drop.iterdir())
        assert eml.name == f"{delivery['id']}.eml"
        text = eml.read_text()
        assert "Subject: You are registered: your programme" in text
        assert "To: Ana Diaz <ana@example.org>" in text
