# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""Email over a real SMTP server: language, local time, .ics, reminders on a manual clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from echo_contracts import (
    AgendaUpdated,
    CaseApproved,
    CaseRejected,
    CertificateIssued,
    RecommendationsIssued,
    SessionCancelled,
    SessionRescheduled,
    SessionScheduled,
)
from echo_contracts.events import CaseSlot
from echo_runtime.testing import eventually, token

pytestmark = pytest.mark.integration

START = datetime(2030, 3, 5, 17, 0, tzinfo=UTC)  # 18:00 in Paris, 01:00 next day in Shanghai


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def calendar(message: EmailMessage) -> str:
    [ics] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert ics.get_filename() == "session.ics"
    content = ics.get_content()
    return content.decode() if isinstance(content, bytes) else str(content)


def scheduled(w: Any, session_id: uuid.UUID, start: datetime = START) -> SessionScheduled:
    return SessionScheduled(
        session_id=session_id,
        programme_id=w.programme_id,
        starts_at=start,
        ends_at=start + timedelta(minutes=90),
        timezone="Europe/Paris",
    )


async def test_messages_arrive_in_the_recipients_language_local_time_and_with_a_calendar(
    kit: Any, database_url: str, nats_server: Any, js: Any, smtp: Any
) -> None:
    async with kit.world(database_url, nats_server.url, js, smtp_port=smtp.port) as w:
        await w.programme(language="fr", timezone="Europe/Paris")
        li = await w.participant(
            "li.wei@example.cn", name="Li Wei", language="zh-Hans", timezone="Asia/Shanghai"
        )
        # Language "de" has no templates: the programme's French is used, and its zone.
        hans = await w.participant(
            "hans@example.de", name="Hans Berg", language="de", timezone=None
        )

        # The background dispatcher sends the registration confirmations on its own.
        await eventually(lambda: len(smtp.messages) == 2)
        [welcome_li] = smtp.to("li.wei@example.cn")
        assert welcome_li["Subject"] == "报名成功：您的项目"
        assert welcome_li["Content-Language"] == "zh-Hans"
        assert "Li Wei，您好" in body(welcome_li)
        [welcome_hans] = smtp.to("hans@example.de")
        assert welcome_hans["Content-Language"] == "fr"
        assert "Bonjour Hans Berg" in body(welcome_hans)
        assert not list(welcome_hans.iter_attachments())

        session_id = uuid.uuid4()
        await w.publish(scheduled(w, session_id))
        moved = START + timedelta(days=1, hours=1)
        await w.publish(
            SessionRescheduled(
                session_id=session_id,
                programme_id=w.programme_id,
                previous_starts_at=START,
                starts_at=moved,
                ends_at=moved + timedelta(minutes=90),
                timezone="Europe/Paris",
                sequence=1,
            )
        )
        await w.tick()
        [moved_li] = [m for m in smtp.to("li.wei@example.cn") if "改期" in m["Subject"]]
        text = body(moved_li)
        # The new local time in the recipient's own zone (Shanghai), the old one too.
        assert "2030年3月7日（星期四）02:00（Asia/Shanghai）" in text
        assert "2030年3月6日（星期三）01:00（Asia/Shanghai）" in text
        ics = calendar(moved_li)
        assert "METHOD:REQUEST" in ics and "SEQUENCE:1" in ics
        assert f"UID:{session_id}@echo-network" in ics
        assert "DTSTART:20300306T180000Z" in ics
        [moved_hans] = [m for m in smtp.to("hans@example.de") if "déplacée" in m["Subject"]]
        assert "mercredi 6 mars 2030, 19:00 (Europe/Paris)" in body(moved_hans)

        await w.publish(
            SessionCancelled(
                session_id=session_id, programme_id=w.programme_id, starts_at=moved, sequence=2
            )
        )
        await w.tick()
        [cancelled] = [m for m in smtp.to("hans@example.de") if "annulée" in m["Subject"]]
        ics = calendar(cancelled)
        assert "METHOD:CANCEL" in ics and "STATUS:CANCELLED" in ics and "SEQUENCE:2" in ics

        # Case and certificate messages go to the presenter / participant only.
        case_id = uuid.uuid4()
        hub = uuid.uuid4()
        await w.publish(
            CaseApproved(
                case_id=case_id, programme_id=w.programme_id, presenter_id=hans, approved_by=hub
            ),
            CaseRejected(
                case_id=uuid.uuid4(),
                programme_id=w.programme_id,
                presenter_id=li,
                rejected_by=hub,
                reason="Please remove the clinic's name.",
            ),
            RecommendationsIssued(
                case_id=case_id, programme_id=w.programme_id, presenter_id=hans, issued_by=hub
            ),
            CertificateIssued(
                certificate_id=uuid.uuid4(),
                participant_id=li,
                programme_id=w.programme_id,
                hours=7.5,
            ),
        )
        # With no recommendations text coming, the short "recommendations are ready" message
        # goes out once its grace period for the text is over.
        w.clock.advance(timedelta(seconds=w.runtime.settings.recommendations_grace_seconds))
        await w.tick()
        subjects_hans = [m["Subject"] for m in smtp.to("hans@example.de")]
        assert "Votre cas est approuvé : votre programme" in subjects_hans
        assert "Recommandations pour votre cas : votre programme" in subjects_hans
        li_mail = {m["Subject"]: m for m in smtp.to("li.wei@example.cn")}
        assert "原因：Please remove the clinic's name." in body(
            li_mail["您的病例需要修改：您的项目"]
        )
        assert "7.5 学时" in body(li_mail["您的证书已可下载：您的项目"])

        # Every message has its own stable Message-ID, and the log says sent with the language.
        ids = [m["Message-ID"] for m in smtp.messages]
        assert len(ids) == len(set(ids)) == 10
        admin = token("hub-admin", "ontario")
        log = (await w.client.get(f"/v1/deliveries?recipient={li}", headers=admin)).json()
        assert {d["status"] for d in log["items"]} == {"sent"}
        assert {d["language"] for d in log["items"]} == {"zh-Hans"}
        assert {f"<{d['id']}@echo.local>" for d in log["items"]} <= set(ids)
        sent = await w.events("echo.ontario.notifications.notification_sent", expect=10)
        assert len(sent) == 10
        assert {e.data.delivery_id for e in sent} == {
            uuid.UUID(i.strip("<>").split("@")[0]) for i in ids
        }


async def test_reminders_fire_once_at_their_instants_follow_a_move_and_vanish_on_cancel(
    kit: Any, database_url: str, nats_server: Any, js: Any, smtp: Any
) -> None:
    first = START
    async with kit.world(
        database_url, nats_server.url, js, smtp_port=smtp.port, start=first - timedelta(days=3)
    ) as w:
        await w.programme(language="en", timezone="America/Toronto")
        await w.participant(
            "ana@example.org", name="Ana Diaz", language="fr", timezone="America/Montreal"
        )
        w.clock.set(first - timedelta(days=2))
        await w.tick()
        assert len(smtp.messages) == 1  # the registration confirmation

        session_id = uuid.uuid4()
        other = uuid.uuid4()
        await w.publish(
            scheduled(w, session_id, first),
            scheduled(w, other, first + timedelta(days=7)),
            AgendaUpdated(
                session_id=session_id,
                programme_id=w.programme_id,
                didactic_topic="Hépatite C en soins primaires",
                presenter_name="Dr Marie Roy",
                case_slots=[CaseSlot(position=1, case_id=uuid.uuid4()), CaseSlot(position=2)],
            ),
        )

        async def reminders() -> list[EmailMessage]:
            await w.tick()
            return [
                m for m in smtp.messages if "Demain" in m["Subject"] or "Dans une" in m["Subject"]
            ]

        w.clock.set(first - timedelta(days=1, seconds=1))
        assert await reminders() == []
        w.clock.set(first - timedelta(days=1))
        [day_before] = await reminders()
        text = body(day_before)
        assert (
            day_before["Subject"]
            == "Demain : séance votre programme, mardi 5 mars 2030, 12:00 (America/Montreal)"
        )
        assert "- Exposé : Hépatite C en soins primaires" in text
        assert "- Présentateur : Dr Marie Roy" in text
        assert "- Présentations de cas : 1" in text
        assert f"/sessions/{session_id}/join" in text
        assert "METHOD:REQUEST" in calendar(day_before)
        w.clock.set(first - timedelta(hours=2))
        assert len(await reminders()) == 1, "a reminder fires once"
        w.clock.set(first - timedelta(hours=1))
        hour_before = (await reminders())[1]
        assert hour_before["Subject"].startswith("Dans une heure : séance votre programme")

        # The next week's session moves by a day: its reminders move with it.
        moved = first + timedelta(days=8)
        await w.publish(
            SessionRescheduled(
                session_id=other,
                programme_id=w.programme_id,
                previous_starts_at=first + timedelta(days=7),
                starts_at=moved,
                ends_at=moved + timedelta(minutes=90),
                timezone="Europe/Paris",
                sequence=1,
            )
        )
        w.clock.set(first + timedelta(days=6, hours=1))  # the old day-before instant
        assert len(await reminders()) == 2
        w.clock.set(moved - timedelta(days=1))
        assert len(await reminders()) == 3
        [due] = [
            r
            for r in await w.table("reminders")
            if r["session_id"] == other and r["kind"] == "hour_before"
        ]
        assert due["due_at"].replace(tzinfo=UTC) == moved - timedelta(hours=1)

        # Cancelled before its hour-before reminder: that reminder never comes.
        await w.publish(
            SessionCancelled(
                session_id=other, programme_id=w.programme_id, starts_at=moved, sequence=2
            )
        )
        assert [r for r in await w.table("reminders") if r["session_id"] == other] == []
        w.clock.set(moved - timedelta(minutes=30))
        assert len(await reminders()) == 3
        cancellations = [m for m in smtp.messages if "annulée" in m["Subject"]]
        assert len(cancellations) == 1


async def test_redelivering_every_consumed_event_twice_sends_nothing_extra(
    kit: Any, database_url: str, nats_server: Any, js: Any, smtp: Any
) -> None:
    async with kit.world(
        database_url, nats_server.url, js, smtp_port=smtp.port, start=START - timedelta(days=3)
    ) as w:
        await w.programme(language="en", timezone="America/Toronto")
        ana = await w.participant("ana@example.org", name="Ana Diaz")
        await w.participant("ben@example.org", name="Ben Okafor", language="fr")
        session_id = uuid.uuid4()
        moved = START + timedelta(hours=2)
        hub = uuid.uuid4()
        await w.publish(
            scheduled(w, session_id),
            SessionRescheduled(
                session_id=session_id,
                programme_id=w.programme_id,
                previous_starts_at=START,
                starts_at=moved,
                ends_at=moved + timedelta(minutes=90),
                timezone="Europe/Paris",
                sequence=1,
            ),
            CaseApproved(
                case_id=uuid.uuid4(), programme_id=w.programme_id, presenter_id=ana, approved_by=hub
            ),
            CertificateIssued(
                certificate_id=uuid.uuid4(),
                participant_id=ana,
                programme_id=w.programme_id,
                hours=3,
            ),
        )
        w.clock.set(moved - timedelta(minutes=59))  # both reminders are due (day-before expired)
        await w.tick()
        before = sorted(str(m["Message-ID"]) for m in smtp.messages)
        # 2 confirmations, 2 reschedule notices, approval, certificate, 2 hour-before reminders
        assert len(before) == 8
        deliveries = len(await w.table("deliveries"))

        await w.redeliver_everything()
        info = await js.consumer_info("ECHO_ONTARIO", "notifications-inbox")
        assert info.delivered.stream_seq >= 2 * len(w.published)
        await w.tick()
        assert sorted(str(m["Message-ID"]) for m in smtp.messages) == before
        assert len(await w.table("deliveries")) == deliveries
        sent = await w.events("echo.ontario.notifications.notification_sent", expect=8)
        assert len(sent) == 8
