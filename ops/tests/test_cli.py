"""echo-hub against a real nats-server: provisioning, tokens, dead letters."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from echo_contracts import SessionScheduled, new_envelope, subject_for, to_wire
from echo_hub.dlq import dead_letters, redrive
from echo_runtime.auth import Role, TokenVerifier
from echo_runtime.natsserver import NatsServer
from echo_runtime.settings import DEV_SECRET
from echo_runtime.testing import eventually, reset_streams
from nats.aio.client import Client as NatsClient

pytestmark = pytest.mark.integration


def echo_hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "echo_hub", *args], capture_output=True, text=True, timeout=60
    )


async def test_streams_apply_is_idempotent(
    nats_server: NatsServer, nats_client: NatsClient
) -> None:
    await reset_streams(nats_client.jetstream())
    first = echo_hub("streams", "apply", "--nats", nats_server.url, "--regions", "ontario,shanghai")
    assert first.returncode == 0, first.stderr
    assert "created   stream ECHO_ONTARIO" in first.stdout
    assert "created   consumer ECHO_SHANGHAI/reporting-projections" in first.stdout
    second = echo_hub(
        "streams", "apply", "--nats", nats_server.url, "--regions", "ontario,shanghai"
    )
    assert second.returncode == 0, second.stderr
    assert "0 created, 0 updated" in second.stdout
    names = {info.config.name for info in await nats_client.jetstream().streams_info()}
    assert names == {"ECHO_ONTARIO", "ECHO_SHANGHAI", "ECHO_NETWORK", "ECHO_SUPERHUB", "ECHO_DLQ"}


def test_token_mints_a_verifiable_development_token() -> None:
    result = echo_hub("token", "--role", "facilitator", "--region", "shanghai")
    assert result.returncode == 0, result.stderr
    verifier = TokenVerifier(audience="echo-network", issuer="echo-hub", dev_secret=DEV_SECRET)
    principal = verifier.verify(result.stdout.strip())
    assert principal.roles == {Role.FACILITATOR}
    assert principal.regions == {"shanghai"}


def test_token_refuses_an_unknown_role() -> None:
    result = echo_hub("token", "--role", "superuser", "--region", "ontario")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


async def test_dead_letters_are_listed_and_redriven(
    nats_server: NatsServer, nats_client: NatsClient
) -> None:
    js = nats_client.jetstream()
    await reset_streams(js)
    assert (
        echo_hub("streams", "apply", "--nats", nats_server.url, "--regions", "ontario").returncode
        == 0
    )
    # a platform durable: the DLQ indexes the platform's own durables only (never an integrator's)
    event = SessionScheduled(
        session_id=uuid.uuid4(),
        programme_id=uuid.uuid4(),
        starts_at="2027-01-01T10:00:00Z",  # type: ignore[arg-type]
        ends_at="2027-01-01T11:00:00Z",  # type: ignore[arg-type]
        timezone="Asia/Shanghai",
    )
    env = new_envelope(event, region="ontario", service="scheduling")
    await js.publish(
        subject_for("ontario", event),
        to_wire(env),
        headers={"Nats-Msg-Id": str(env.id), "ce-type": env.type},
    )
    sub = await js.pull_subscribe("", durable="cases-inbox", stream="ECHO_ONTARIO")
    (msg,) = await sub.fetch(1, timeout=5)
    await msg.term()

    letters = await eventually(lambda: dead_letters(js))
    assert [(x.reason, x.consumer, x.event_type) for x in letters] == [
        ("terminated", "cases-inbox", "echo.scheduling.session_scheduled.v1")
    ]
    listed = echo_hub("dlq", "--nats", nats_server.url, "list")
    assert "1 dead letter(s)" in listed.stdout
    assert await redrive(js) == 1
    assert await dead_letters(js) == []
    (again,) = await sub.fetch(1, timeout=5)
    assert again.data == to_wire(env)
    await again.ack()
