"""Server-side request forgery through notification webhooks (issue 15, finding 2).

A spoke may set its own `webhook_url`: internal addresses are refused when saved (a 422 saying
why) and again when connecting (the address a name resolves to then, DNS rebinding), unless the
operator allow-lists their network; the delivery log records only a category, so it cannot be
used to tell open internal ports from closed ones."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from echo_contracts import CertificateIssued
from echo_runtime.testing import token

pytestmark = pytest.mark.integration

INTERNAL = [
    ("http://127.0.0.1:8399/x", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.1.2.3/hook", "private"),
    ("http://[::1]:8080/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "IPv6 form of the IPv4 address 127.0.0.1"),
    ("http://0.0.0.0:8104/hook", "unspecified"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://240.0.0.1/hook", "reserved"),
    ("http://100.64.0.1/hook", "reserved"),
    ("http://localhost:8104/hook", "loopback"),
]


async def test_internal_webhook_urls_are_refused_when_saved(
    kit: Any, database_url: str, nats_server: Any, js: Any
) -> None:
    async with kit.world(database_url, nats_server.url, js) as w:
        await w.programme()
        person = await w.participant("spoke@example.org", enrol=False)
        own = token("spoke", "ontario", subject=str(person))
        url = f"/v1/participants/{person}/preferences"
        for address, why in INTERNAL:
            refused = await w.client.put(
                url, json={"channels": ["webhook"], "webhook_url": address}, headers=own
            )
            assert refused.status_code == 422, (address, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
            problem = refused.json()
            assert problem["errors"][0]["field"] == "webhook_url"
            assert why in problem["detail"], (address, problem["detail"])
            assert "IPv6 form" in why or "OUTBOUND_ALLOWED_NETWORKS" in problem["detail"]
        scheme = await w.client.put(
            url,
            json={"channels": ["webhook"], "webhook_url": "ftp://files.example.org/x"},
            headers=own,
        )
        assert scheme.status_code == 422, scheme.text
        # a public address is fine (it is checked again at delivery)
        public = await w.client.put(
            url,
            json={"channels": ["webhook"], "webhook_url": "https://93.184.215.14/echo"},
            headers=own,
        )
        assert public.status_code == 200, public.text


async def test_an_address_allowed_when_saved_is_checked_again_when_delivering(
    kit: Any, database_url: str, nats_server: Any, js: Any, receiver: Any
) -> None:
    """Saved while the hub allow-listed loopback; delivered after the operator removed it."""
    async with kit.world(
        database_url, nats_server.url, js, outbound_allowed_networks=["127.0.0.0/8"]
    ) as w:
        await w.programme()
        person = await w.participant("spoke@example.org", enrol=False)
        saved = await w.client.put(
            f"/v1/participants/{person}/preferences",
            json={
                "channels": ["webhook"],
                "webhook_url": f"{receiver.url}/hook".replace("127.0.0.1", "localhost"),
            },
            headers=token("spoke", "ontario", subject=str(person)),
        )
        assert saved.status_code == 200, saved.text
        programme_id = w.programme_id
    async with kit.world(database_url, nats_server.url, js) as w:
        w.programme_id = programme_id
        await w.publish(
            CertificateIssued(
                certificate_id=uuid.uuid4(),
                participant_id=person,
                programme_id=programme_id,
                hours=2,
            )
        )
        await w.tick()
        assert receiver.to("/hook") == []
        admin = token("hub-admin", "ontario")
        [refused] = (
            await w.client.get(f"/v1/deliveries?recipient={person}", headers=admin)
        ).json()["items"]
        # a category only: no port, status or network error the recipient could scan with
        assert (refused["status"], refused["last_error"]) == ("failed", "webhook_refused_address")
