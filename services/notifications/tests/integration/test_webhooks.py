"""Signed webhooks to a real HTTP receiver: backoff, bounded attempts, recorded failures."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, timedelta
from typing import Any

import pytest
from echo_contracts import CertificateIssued
from echo_notifications.adapters.webhook import verify
from echo_notifications.settings import DEV_WEBHOOK_SECRET
from echo_runtime.testing import token

pytestmark = pytest.mark.integration


async def test_a_flaky_receiver_gets_the_message_once_and_a_dead_one_ends_as_a_failure(
    kit: Any, database_url: str, nats_server: Any, js: Any, smtp: Any, receiver: Any
) -> None:
    # The receiver listens on loopback: this hub allow-lists it (off by default).
    async with kit.world(
        database_url,
        nats_server.url,
        js,
        smtp_port=smtp.port,
        outbound_allowed_networks=["127.0.0.0/8"],
    ) as w:
        await w.programme(language="en")
        flaky = await w.participant("flaky@example.org", enrol=False)
        down = await w.participant("down@example.org", enrol=False)
        mailed = await w.participant("mailed@example.org", enrol=False)
        for person, path in ((flaky, "/flaky"), (down, "/down")):
            saved = await w.client.put(
                f"/v1/participants/{person}/preferences",
                json={"channels": ["webhook"], "webhook_url": receiver.url + path},
                headers=token("spoke", "ontario", subject=str(person)),
            )
            assert saved.status_code == 200, saved.text
        await w.publish(
            *[
                CertificateIssued(
                    certificate_id=uuid.uuid4(),
                    participant_id=person,
                    programme_id=w.programme_id,
                    hours=4,
                )
                for person in (flaky, down, mailed)
            ]
        )
        start = w.clock.now()
        await w.tick()
        # The email goes out at once although both webhooks failed.
        assert len(smtp.to("mailed@example.org")) == 1
        assert [r["status"] for r in receiver.to("/flaky")] == [500]
        assert [r["status"] for r in receiver.to("/down")] == [500]

        # Exponential backoff: 60 s, then 120 s, then 240 s (manual clock).
        for gap in (60, 120, 240):
            before = len(receiver.to("/flaky"))
            w.clock.advance(timedelta(seconds=gap - 1))
            await w.tick()
            assert len(receiver.to("/flaky")) == before, f"retried before {gap} s"
            w.clock.advance(timedelta(seconds=1))
            await w.tick()
            assert len(receiver.to("/flaky")) == before + 1
        assert w.clock.now() - start == timedelta(seconds=420)

        calls = receiver.to("/flaky")
        assert [r["status"] for r in calls] == [500, 500, 500, 200]
        # One message: the same delivery id every time, signed, in English.
        assert len({r["headers"]["x-echo-delivery"] for r in calls}) == 1
        for call in calls:
            assert verify(
                DEV_WEBHOOK_SECRET,
                call["headers"]["x-echo-signature"],
                call["body"],
                now=int(time.time()),
            )
        payload = json.loads(calls[-1]["body"])
        assert payload["template"] == "certificate_issued" and payload["language"] == "en"
        assert payload["subject"] == "Your certificate is ready: your programme"
        assert payload["recipient_id"] == str(flaky)

        # The dead receiver: four attempts (the bound), then a recorded failure and an event.
        assert [r["status"] for r in receiver.to("/down")] == [500, 500, 500, 500]
        w.clock.advance(timedelta(days=1))
        await w.tick()
        assert len(receiver.to("/down")) == 4
        admin = token("hub-admin", "ontario")
        [failed] = (await w.client.get(f"/v1/deliveries?recipient={down}", headers=admin)).json()[
            "items"
        ]
        assert (failed["status"], failed["attempts"], failed["last_error"]) == (
            "failed",
            4,
            "webhook_http_error",
        )
        [sent] = (await w.client.get(f"/v1/deliveries?recipient={flaky}", headers=admin)).json()[
            "items"
        ]
        assert (sent["status"], sent["attempts"]) == ("sent", 4)
        assert sent["sent_at"] is not None
        assert sent["id"] == calls[0]["headers"]["x-echo-delivery"]

        [event] = await w.events("echo.ontario.notifications.notification_failed", expect=1)
        assert event.data.delivery_id == uuid.UUID(failed["id"])
        assert (event.data.error_code, event.data.attempts) == ("webhook_http_error", 4)
        assert event.data.channel.value == "webhook"
        sent_events = await w.events("echo.ontario.notifications.notification_sent", expect=2)
        assert sorted(str(e.data.recipient_id) for e in sent_events) == sorted(
            [str(flaky), str(mailed)]
        )
        assert {e.data.attempts for e in sent_events if e.data.recipient_id == flaky} == {4}
        metrics = (await w.client.get("/metrics")).text
        assert (
            'echo_notifications_deliveries_total{channel="webhook",'
            'outcome="failed",template="certificate_issued"}'
        ) in metrics
        assert start.tzinfo is UTC
