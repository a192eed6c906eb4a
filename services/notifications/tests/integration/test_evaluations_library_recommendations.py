# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""Issue 11: survey invitations, new recordings in the library, the recommendations' text.

Real nats-server, real SMTP server (aiosmtpd), SQLite and PostgreSQL, a manual clock; the
dispatcher runs only when a test ticks it, so every count below is exact.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import nats
import pytest
from echo_contracts import (
    EvaluationRequested,
    MaterialAdded,
    MaterialRemoved,
    ProgrammeProfileUpdated,
    RecommendationsIssued,
    RecommendationsRecorded,
    RegistrationConfirmed,
    SessionScheduled,
    decode,
)
from echo_contracts.events import MaterialKind, Profession
from echo_notifications.domain.model import evaluation_cause_id
from echo_runtime.testing import token

pytestmark = pytest.mark.integration

START = datetime(2030, 3, 5, 17, 0, tzinfo=UTC)  # a Tuesday; DST starts in America on 10 March
CLOSES = START + timedelta(days=6, hours=23)  # Tuesday 12 March 16:00 UTC


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # quoted-printable keeps CRLF


@contextmanager
def log_tap() -> Iterator[list[str]]:
    """Every log line the service writes meanwhile, as rendered JSON (debug level included)."""
    root = logging.getLogger()
    lines: list[str] = []
    [service_handler] = root.handlers  # the runtime's JSON handler (configure_logging)

    class Tap(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name.startswith("mail.log"):  # the test's own SMTP server, not ours
                return
            lines.append(self.format(record))

    tap = Tap(level=logging.DEBUG)
    tap.setFormatter(service_handler.formatter or logging.Formatter())
    previous = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(tap)
    try:
        yield lines
    finally:
        root.removeHandler(tap)
        root.setLevel(previous)


class NatsTap:
    """Every message on the NATS server (core subscription to `>`): streams, replies, API."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    async def start(self, url: str) -> None:
        self.nc = await nats.connect(url)

        async def keep(msg: Any) -> None:
            self.messages.append((msg.subject, msg.data))

        await self.nc.subscribe(">", cb=keep)

    async def stop(self) -> None:
        await self.nc.flush()
        await self.nc.close()

    def carrying(self, secret: str) -> list[tuple[str, bytes]]:
        return [(s, d) for s, d in self.messages if secret.encode() in d]


def only_in_source_events(tap: NatsTap, secret: str, sources: set[uuid.UUID]) -> int:
    """Assert every NATS message carrying `secret` is one of the regional source events."""
    found = tap.carrying(secret)
    for subject, data in found:
        try:
            env = decode(data)
        except Exception:  # anything not an envelope is a leak
            pytest.fail(f"{secret!r} travelled on {subject} outside its source event")
        assert env.id in sources, f"{secret!r} travelled in {env.type} on {subject}"
    return len(found)


async def opt_out(w: Any, participant: uuid.UUID, *topics: str, **more: Any) -> None:
    response = await w.client.put(
        f"/v1/participants/{participant}/preferences",
        json={"channels": ["email"], "opted_out": list(topics), **more},
        headers=token("spoke", "ontario", subject=str(participant)),
    )
    assert response.status_code == 200, response.text


async def delivery_of(w: Any, recipient: uuid.UUID, template: str) -> Any:
    [row] = await w.deliveries(recipient_id=recipient, template=template)
    return row


async def run_out_retries(w: Any) -> None:
    """Tick past every retry (backoff 60 s, 120 s, 240 s; four attempts in these worlds)."""
    for _ in range(5):
        w.clock.advance(timedelta(hours=1))
        await w.tick()


async def titled(w: Any, title: str) -> None:
    await w.publish(ProgrammeProfileUpdated(programme_id=w.programme_id, title=title))


def session_at(w: Any, session_id: uuid.UUID, start: datetime = START) -> SessionScheduled:
    return SessionScheduled(
        session_id=session_id,
        programme_id=w.programme_id,
        starts_at=start,
        ends_at=start + timedelta(minutes=90),
        timezone="Europe/Paris",
    )


def invitation(
    w: Any,
    participant: uuid.UUID,
    session_id: uuid.UUID,
    url: str,
    request_id: uuid.UUID,
    closes_at: datetime = CLOSES,
) -> EvaluationRequested:
    return EvaluationRequested(
        request_id=request_id,
        participant_id=participant,
        session_id=session_id,
        programme_id=w.programme_id,
        form_version=1,
        response_url=url,
        closes_at=closes_at,
    )


# ---------------------------------------------------------------------- evaluations


async def test_a_survey_invitation_reaches_each_attendee_once_in_their_language_and_time(
    kit: Any, database_url: str, nats_server: Any, js: Any, smtp: Any
) -> None:
    tap = NatsTap()
    await tap.start(nats_server.url)
    async with kit.world(
        database_url,
        nats_server.url,
        js,
        smtp_port=smtp.port,
        start=START + timedelta(hours=3),  # 20:00 UTC, 21:00 in Paris
        background=False,
        log_level="DEBUG",
    ) as w:
        await w.programme(language="en", timezone="America/Toronto")
        await titled(w, "ECHO Hepatitis C")
        li = await w.participant(
            "li.wei@example.cn", name="Li Wei", language="zh-Hans", timezone="Asia/Shanghai"
        )
        ana = await w.participant(
            "ana@example.org", name="Ana Diaz", language="fr", timezone="America/Montreal"
        )
        ben = await w.participant("ben@example.org", name="Ben Okafor")
        zoe = await w.participant(
            "zoe@example.org", name="Zoe Martin", language="en", timezone="Europe/Paris"
        )
        await w.participant("kim@example.org", name="Kim Park")  # attended nothing
        await w.tick()  # the registration confirmations
        smtp.messages.clear()
        await opt_out(w, ben, "evaluations")
        await opt_out(w, zoe, quiet_hours={"start": "19:00", "end": "08:00"})

        session_id = uuid.uuid4()
        await w.publish(session_at(w, session_id))
        stranger = uuid.uuid4()  # never registered here
        urls = {
            p: f"https://attendance.example.org/v1/evaluations/tok-{uuid.uuid4().hex}"
            for p in (li, ana, ben, zoe, stranger)
        }
        requests = {p: uuid.uuid4() for p in urls}
        with log_tap() as logs:
            sources = await w.publish(
                *(invitation(w, p, session_id, urls[p], requests[p]) for p in urls)
            )
            await w.tick()

            [to_li] = smtp.to("li.wei@example.cn")
            assert to_li["Subject"] == "请评价 ECHO Hepatitis C 课程"
            assert to_li["Content-Language"] == "zh-Hans"
            text = body(to_li)
            assert "请告诉我们您对2030年3月6日（星期三）01:00（Asia/Shanghai） 的" in text
            assert f"填写链接：{urls[li]}\n" in text
            assert "问卷将于 2030年3月13日（星期三）00:00（Asia/Shanghai） 关闭" in text
            assert not list(to_li.iter_attachments())

            [to_ana] = smtp.to("ana@example.org")
            assert to_ana["Subject"] == "Votre avis sur la séance ECHO Hepatitis C"
            text = body(to_ana)
            assert (
                "Donnez-nous votre avis sur la séance ECHO Hepatitis C du mardi 5 mars 2030,"
                " 12:00 (America/Montreal)." in text
            )
            assert f"Répondre : {urls[ana]}\n" in text
            # The closing date is after the switch to summer time: still noon in Montreal.
            assert "ferme le mardi 12 mars 2030, 12:00 (America/Montreal)" in text

            # Opted out: nothing, and the log says why. Not invited (Kim): nothing at all.
            assert smtp.to("ben@example.org") == [] and smtp.to("kim@example.org") == []
            skipped = await delivery_of(w, ben, "evaluation_requested")
            assert (skipped["status"], skipped["last_error"]) == ("suppressed", "opted_out")

            # Quiet hours (19:00-08:00 in Paris): held until 08:00 Paris time, then sent.
            assert smtp.to("zoe@example.org") == []
            w.clock.set(datetime(2030, 3, 6, 6, 59, tzinfo=UTC))
            await w.tick()
            assert smtp.to("zoe@example.org") == []
            w.clock.set(datetime(2030, 3, 6, 7, 0, tzinfo=UTC))
            await w.tick()
            [to_zoe] = smtp.to("zoe@example.org")
            text = body(to_zoe)
            assert (
                "Please tell us about the ECHO Hepatitis C session of Tuesday 5 March 2030,"
                " 18:00 (Europe/Paris)." in text
            )
            assert "closes on Tuesday 12 March 2030, 17:00 (Europe/Paris)" in text

            # Someone this service never heard of: retried a few times, then failed, no crash.
            await run_out_retries(w)
            lost = await delivery_of(w, stranger, "evaluation_requested")
            assert (lost["status"], lost["last_error"], lost["attempts"]) == (
                "failed",
                "recipient_unknown",
                4,
            )
            failed = await w.events("echo.ontario.notifications.notification_failed", expect=1)
            assert [(e.data.recipient_id, e.data.error_code) for e in failed] == [
                (stranger, "recipient_unknown")
            ]

            # Redelivered, and re-sent by attendance under new event ids: nothing more.
            sent_before = sorted(str(m["Message-ID"]) for m in smtp.messages)
            await w.redeliver_everything()
            again = await w.publish(
                invitation(w, li, session_id, urls[li], requests[li]),
                invitation(w, ana, session_id, urls[ana], requests[ana]),
            )
            await w.tick()
            assert sorted(str(m["Message-ID"]) for m in smtp.messages) == sent_before
            assert len(sent_before) == 3
            sent = await w.events("echo.ontario.notifications.notification_sent", expect=3 + 5)
            invitations = [e for e in sent if e.data.template == "evaluation_requested"]
            assert {e.data.recipient_id for e in invitations} == {li, ana, zoe}
            assert len(invitations) == 3

            # A survey already closed is not announced; nor one that would close before the
            # recipient's quiet hours end (Zoe, 19:00-08:00 in Paris).
            w.clock.set(datetime(2030, 3, 6, 20, 0, tzinfo=UTC))  # 21:00 in Paris
            closed, overnight = uuid.uuid4(), uuid.uuid4()
            urls[uuid.uuid4()] = closed_url = f"https://a.example.org/e/tok-{uuid.uuid4().hex}"
            urls[uuid.uuid4()] = night_url = f"https://a.example.org/e/tok-{uuid.uuid4().hex}"
            sources += await w.publish(
                invitation(w, li, session_id, closed_url, closed, closes_at=w.clock.now()),
                invitation(
                    w,
                    zoe,
                    session_id,
                    night_url,
                    overnight,
                    closes_at=datetime(2030, 3, 7, 6, 0, tzinfo=UTC),
                ),
            )
            await w.tick()
            assert len(smtp.messages) == 3
            outcomes = {
                r["recipient_id"]: (r["status"], r["last_error"])
                for r in await w.deliveries(template="evaluation_requested")
                if r["cause_event_id"]
                in {evaluation_cause_id(closed), evaluation_cause_id(overnight)}
            }
            assert outcomes == {
                li: ("suppressed", "survey_closed"),
                zoe: ("suppressed", "quiet_hours"),
            }

        # The link is a credential: in the email only. Not in a log line, not in the delivery
        # log (erased once sent), not in any NATS message but the regional source event itself.
        source_ids = {e.id for e in sources + again}
        for participant, url in urls.items():
            secret = url.rsplit("/", 1)[1]
            assert not [line for line in logs if secret in line], participant
            for row in await w.table("deliveries"):
                assert secret not in str(row["params"])
            assert only_in_source_events(tap, secret, source_ids) >= 1
        assert any('"event": "notification_sent"' in line for line in logs)  # the tap works
    await tap.stop()


# ---------------------------------------------------------------------- library


async def test_a_new_recording_is_announced_once_to_the_programmes_participants_only(
    kit: Any, database_url: str, nats_server: Any, js: Any, smtp: Any
) -> None:
    async with kit.world(
        database_url,
        nats_server.url,
        js,
        smtp_port=smtp.port,
        start=START + timedelta(days=1),
        background=False,
        library_url="https://portal.example.org/{region}/programmes/{programme_id}/library#{material_id}",
    ) as w:
        await w.programme(language="en", timezone="America/Toronto")
        await titled(w, "ECHO Pain")
        sam = await w.participant("sam@example.org", name="Sam Lee", timezone="America/Toronto")
        ana = await w.participant(
            "ana@example.org", name="Ana Diaz", language="fr", timezone="Europe/Paris"
        )
        ben = await w.participant("ben@example.org", name="Ben Okafor")
        # Someone registered in another programme only.
        other_programme = uuid.uuid4()
        outsider = await w.participant("out@example.org", name="Oli Stone", enrol=False)
        await w.publish(
            RegistrationConfirmed(
                registration_id=uuid.uuid4(),
                participant_id=outsider,
                programme_id=other_programme,
                clinic_id=uuid.uuid4(),
                profession=Profession.NURSE,
            )
        )
        await w.tick()
        smtp.messages.clear()
        await opt_out(w, ben, "library")

        session_id = uuid.uuid4()
        recording = uuid.uuid4()

        def material(
            material_id: uuid.UUID, kind: MaterialKind, programme: uuid.UUID | None = None
        ) -> MaterialAdded:
            return MaterialAdded(
                material_id=material_id,
                programme_id=programme or w.programme_id,
                session_id=session_id,
                kind=kind,
                language="en",
                size_bytes=52_000_000,
            )

        await w.publish(
            session_at(w, session_id),
            material(recording, MaterialKind.RECORDING),
            material(uuid.uuid4(), MaterialKind.SLIDES),
            material(uuid.uuid4(), MaterialKind.DOCUMENT),
            material(uuid.uuid4(), MaterialKind.LINK),
            material(uuid.uuid4(), MaterialKind.RECORDING, programme=other_programme),
        )
        await w.tick()

        [to_sam] = smtp.to("sam@example.org")
        assert to_sam["Subject"] == "Recording in the library: ECHO Pain"
        link = f"https://portal.example.org/ontario/programmes/{w.programme_id}/library#{recording}"
        assert body(to_sam) == (
            "Hello Sam Lee,\n\nThe recording of the ECHO Pain session of Tuesday 5 March 2030,"
            f" 12:00 (America/Toronto) is now in the programme's library:\n{link}\n"
        )
        [to_ana] = smtp.to("ana@example.org")
        assert to_ana["Subject"] == "Enregistrement dans la bibliothèque : ECHO Pain"
        assert "pour la séance ECHO Pain du mardi 5 mars 2030, 18:00 (Europe/Paris)" in body(to_ana)
        assert link in body(to_ana)
        # Opted out of library news: nothing. Registered in the other programme only: told of
        # that programme's recording, not of this one's.
        assert smtp.to("ben@example.org") == []
        skipped = await delivery_of(w, ben, "recording_available")
        assert (skipped["status"], skipped["last_error"]) == ("suppressed", "opted_out")
        [to_outsider] = smtp.to("out@example.org")
        assert f"/programmes/{other_programme}/library#" in body(to_outsider)
        assert str(w.programme_id) not in body(to_outsider)
        assert len(smtp.messages) == 3
        assert len(await w.deliveries(template="recording_available")) == 4

        # Redelivery and a re-published MaterialAdded (new event id) send nothing more.
        await w.redeliver_everything()
        await w.publish(material(recording, MaterialKind.RECORDING))
        await w.tick()
        assert len(smtp.messages) == 3
        assert len(await w.deliveries(template="recording_available")) == 4

        # Withdrawn before the dispatcher sent it: the pending announcements are cancelled.
        withdrawn = uuid.uuid4()
        await w.publish(material(withdrawn, MaterialKind.RECORDING))
        assert len(await w.deliveries(template="recording_available", status="pending")) == 3
        await w.publish(
            MaterialRemoved(
                material_id=withdrawn,
                programme_id=w.programme_id,
                session_id=session_id,
                kind=MaterialKind.RECORDING,
            )
        )
        await w.tick()
        assert len(smtp.messages) == 3
        cancelled = await w.deliveries(template="recording_available", status="cancelled")
        assert {r["last_error"] for r in cancelled} == {"material_removed"}
        assert {r["recipient_id"] for r in cancelled} == {sam, ana, ben}

        # Removed before we heard it was added (events out of order): no one is told.
        late = uuid.uuid4()
        await w.publish(
            MaterialRemoved(
                material_id=late,
                programme_id=w.programme_id,
                session_id=None,
                kind=MaterialKind.RECORDING,
            ),
        )
        await w.publish(material(late, MaterialKind.RECORDING))
        await w.tick()
        assert len(smtp.messages) == 3
        assert len(await w.deliveries(template="recording_available")) == 7

        # A recording of no particular session still reaches the programme, undated.
        loose = uuid.uuid4()
        await w.publish(
            MaterialAdded(
                material_id=loose,
                programme_id=w.programme_id,
                kind=MaterialKind.RECORDING,
                language="en",
                size_bytes=1,
            )
        )
        await w.tick()
        [_, undated] = smtp.to("sam@example.org")
        assert "The recording of a recent ECHO Pain session is now" in body(undated)
        assert f"/library#{loose}" in body(undated)


# ---------------------------------------------------------------------- recommendations


async def test_the_presenter_gets_the_recommendations_text_in_one_message_and_nowhere_else(
    kit: Any, database_url: str, nats_server: Any, js: Any, smtp: Any
) -> None:
    tap = NatsTap()
    await tap.start(nats_server.url)
    grace = timedelta(seconds=120)
    async with kit.world(
        database_url,
        nats_server.url,
        js,
        smtp_port=smtp.port,
        background=False,
        log_level="DEBUG",
        recommendations_grace_seconds=grace.total_seconds(),
    ) as w:
        await w.programme(language="en", timezone="America/Toronto")
        await titled(w, "ECHO Diabetes")
        marie = await w.participant(
            "marie@example.org", name="Marie Roy", language="fr", timezone="America/Montreal"
        )
        await w.participant("sam@example.org", name="Sam Lee")
        await w.tick()
        smtp.messages.clear()
        hub = uuid.uuid4()
        marker = f"Titrate metformin gradually {uuid.uuid4().hex}"
        texts = {
            "together": f"{marker} A: start at 500 mg with meals.",
            "reversed": f"{marker} B: repeat the HbA1c in three months.",
            "late": f"{marker} C: refer to the foot clinic.",
            "stranger": f"{marker} D: nobody to send this to.",
        }
        cases = {k: uuid.uuid4() for k in texts}

        def pair(
            which: str, presenter: uuid.UUID = marie, due: date | None = None
        ) -> tuple[RecommendationsIssued, RecommendationsRecorded]:
            common: dict[str, Any] = {
                "case_id": cases[which],
                "programme_id": w.programme_id,
                "presenter_id": presenter,
                "issued_by": hub,
                "follow_up_due_on": due,
            }
            return (
                RecommendationsIssued(**common),
                RecommendationsRecorded(**common, text=texts[which]),
            )

        with log_tap() as logs:
            # As cases publishes them: the network fact, then the regional text.
            issued, recorded = pair("together", due=date(2030, 6, 4))
            sources = await w.publish(issued, recorded)
            await w.tick()
            [message] = smtp.to("marie@example.org")
            assert message["Subject"] == "Recommandations pour votre cas : ECHO Diabetes"
            assert body(message) == (
                "Bonjour Marie Roy,\n\nLes recommandations de l'équipe du hub pour votre cas"
                f" ({str(cases['together'])[:8]}) dans ECHO Diabetes :\n\n{texts['together']}\n"
                "\nL'équipe du hub vous demande de présenter un suivi de ce cas d'ici le"
                " 4 juin 2030.\n"
            )
            w.clock.advance(grace * 2)
            await w.tick()
            assert len(smtp.to("marie@example.org")) == 1, "one message for the pair"

            # The other order (text first) gives the same single message.
            issued, recorded = pair("reversed")
            sources += await w.publish(recorded)
            sources += await w.publish(issued)
            w.clock.advance(grace * 2)
            await w.tick()
            mails = smtp.to("marie@example.org")
            assert len(mails) == 2
            assert texts["reversed"] in body(mails[1])
            assert "suivi" not in body(mails[1])

            # The text arrives after the short message went out: it still reaches her.
            issued, recorded = pair("late")
            [issued_env] = await w.publish(issued)
            sources.append(issued_env)
            [waiting] = await w.deliveries(recipient_id=marie, status="pending")
            due = waiting["next_attempt_at"].replace(tzinfo=UTC)
            assert due >= issued_env.time + grace  # from when it was handled, not published
            w.clock.set(due - timedelta(seconds=1))
            await w.tick()
            assert len(smtp.to("marie@example.org")) == 2, "waits for the text"
            w.clock.set(due)
            await w.tick()
            short = smtp.to("marie@example.org")[2]
            assert "Consultez-les sur le portail ECHO" in body(short)
            assert marker not in body(short)
            sources += await w.publish(recorded)
            await w.tick()
            mails = smtp.to("marie@example.org")
            assert len(mails) == 4
            assert texts["late"] in body(mails[3])

            # A presenter this service does not know: recorded as failed, no crash, no retry loop.
            nobody = uuid.uuid4()
            issued, recorded = pair("stranger", presenter=nobody)
            sources += await w.publish(issued, recorded)
            await run_out_retries(w)
            [lost] = await w.deliveries(recipient_id=nobody)
            assert (lost["status"], lost["last_error"]) == ("failed", "recipient_unknown")

            # Redelivering everything sends nothing more.
            before = len(smtp.messages)
            await w.redeliver_everything()
            await w.tick()
            assert len(smtp.messages) == before == 4
            assert smtp.to("sam@example.org") == []
            sent = await w.events("echo.ontario.notifications.notification_sent", expect=4 + 2)
            to_marie = [e for e in sent if e.data.recipient_id == marie]
            assert sorted(
                e.data.template for e in to_marie if e.data.template != "registration_confirmed"
            ) == [
                "recommendations_issued",
                "recommendations_recorded",
                "recommendations_recorded",
                "recommendations_recorded",
            ]

        # The text: in the emails only. Not logged, not in the delivery rows once final, and on
        # NATS only inside the RecommendationsRecorded events cases published.
        recorded_ids = {e.id for e in sources if isinstance(e.data, RecommendationsRecorded)}
        assert not [line for line in logs if marker in line]
        for row in await w.table("deliveries"):
            assert marker not in str(row["params"])
        assert only_in_source_events(tap, marker, recorded_ids) >= 4
        assert any('"event": "notification_sent"' in line for line in logs)
    await tap.stop()
