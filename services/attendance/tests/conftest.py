"""Helpers of the attendance tests: signed webhooks, schedule events on JetStream, a service."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from echo_attendance.bootstrap import build
from echo_attendance.domain.webhooks import sign
from echo_attendance.service_layer.evaluations import EvaluationSender
from echo_attendance.settings import AttendanceSettings
from echo_contracts import (
    Event,
    ProgrammeCreated,
    SessionScheduled,
    decode,
    new_envelope,
    subject_for,
    to_wire,
)
from echo_runtime.clock import Clock
from echo_runtime.service import ServiceRuntime
from echo_runtime.testing import REGIONS, eventually, running, token
from nats.js import JetStreamContext

ZOOM_SECRET = "zoom-test-secret-0123456789"
GENERIC_SECRET = "generic-test-secret-0123456789"
#: A 100-minute session: 79/80/81 minutes are 79/80/81 percent.
SESSION_START = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
SESSION_END = SESSION_START + timedelta(minutes=100)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zoom_body(
    event: str,
    meeting_id: str,
    instance: str,
    at: datetime,
    *,
    email: str | None = None,
    user_id: str = "16778240",
    customer_key: str | None = None,
    user_name: str = "Dr. Sam Lee",
    participant_uuid: str | None = None,
) -> bytes:
    joined = event == "meeting.participant_joined"
    person: dict[str, Any] = {
        "user_id": user_id,
        "user_name": user_name,
        "id": "",
        "join_time" if joined else "leave_time": iso(at),
    }
    if email is not None:
        person["email"] = email
    if customer_key is not None:
        person["customer_key"] = customer_key
    if participant_uuid is not None:
        person["participant_uuid"] = participant_uuid
    return json.dumps(
        {
            "event": event,
            "event_ts": int(at.timestamp() * 1000),
            "payload": {
                "account_id": "AAAAAA",
                "object": {
                    "id": meeting_id,
                    "uuid": instance,
                    "topic": "teleECHO",
                    "start_time": iso(SESSION_START),
                    "timezone": "America/Toronto",
                    "participant": person,
                },
            },
        }
    ).encode()


def zoom_headers(
    body: bytes, *, ts: int | None = None, secret: str = ZOOM_SECRET
) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    return {
        "content-type": "application/json",
        "x-zm-request-timestamp": stamp,
        "x-zm-signature": sign(secret, "v0", stamp, body),
    }


def generic_body(kind: str, session_id: uuid.UUID, at: datetime, **fields: Any) -> bytes:
    return json.dumps(
        {"type": kind, "session_id": str(session_id), "occurred_at": iso(at), **fields}
    ).encode()


def generic_headers(body: bytes, *, ts: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    return {
        "content-type": "application/json",
        "x-echo-timestamp": stamp,
        "x-echo-signature": sign(GENERIC_SECRET, "v1", stamp, body),
    }


async def publish(js: JetStreamContext, event: Event, region: str = "ontario") -> None:
    env = new_envelope(event, region=region, service="scheduling")
    await js.publish(
        subject_for(region, env.data), to_wire(env), headers={"Nats-Msg-Id": str(env.id)}
    )


@dataclass
class World:
    """One running attendance service with a programme, a session and its HTTP client."""

    client: httpx.AsyncClient
    runtime: ServiceRuntime
    js: JetStreamContext | None
    programme_id: uuid.UUID = field(default_factory=uuid.uuid4)
    session_id: uuid.UUID = field(default_factory=uuid.uuid4)
    meeting_id: str = "85746065432"
    admin: dict[str, str] = field(default_factory=lambda: token("hub-admin", "ontario"))
    sender: EvaluationSender | None = None

    async def schedule(
        self, starts: datetime = SESSION_START, ends: datetime = SESSION_END
    ) -> None:
        """Tell the service about a programme and one session, through JetStream."""
        assert self.js is not None
        await publish(
            self.js,
            ProgrammeCreated(
                programme_id=self.programme_id,
                region="ontario",
                language="en",
                timezone="America/Toronto",
                session_minutes=100,
                starts_on=date(2026, 1, 5),
            ),
        )
        await publish(
            self.js,
            SessionScheduled(
                session_id=self.session_id,
                programme_id=self.programme_id,
                starts_at=starts,
                ends_at=ends,
                timezone="America/Toronto",
            ),
        )

        async def known() -> bool:
            r = await self.client.get(
                f"/v1/sessions/{self.session_id}/attendance", headers=self.admin
            )
            rule = await self.client.get(
                f"/v1/programmes/{self.programme_id}/credit-rule", headers=self.admin
            )
            return r.status_code == 200 and rule.status_code == 200

        # Long enough for one redelivery after the consumer's ack wait (see topology.py).
        await eventually(known, timeout=40)

    async def add_session(self, session_id: uuid.UUID, starts: datetime, ends: datetime) -> None:
        """Tell the service about one more session of the programme, through JetStream."""
        assert self.js is not None
        await publish(
            self.js,
            SessionScheduled(
                session_id=session_id,
                programme_id=self.programme_id,
                starts_at=starts,
                ends_at=ends,
                timezone="America/Toronto",
            ),
        )

        async def known() -> bool:
            r = await self.client.get(f"/v1/sessions/{session_id}/attendance", headers=self.admin)
            return r.status_code == 200

        await eventually(known, timeout=40)

    async def participant(self, email: str, name: str = "Dr. Sam Lee") -> dict[str, Any]:
        r = await self.client.post(
            "/v1/participants",
            headers=self.admin,
            json={
                "region": "ontario",
                "name": name,
                "email": email,
                "profession": "physician",
                "clinic": "Northern Family Health Team",
                "clinic_id": str(uuid.uuid4()),
                "language": "en",
            },
        )
        assert r.status_code == 201, r.text
        person: dict[str, Any] = r.json()
        r = await self.client.post(
            f"/v1/programmes/{self.programme_id}/registrations",
            headers=self.admin,
            json={"participant_id": person["id"]},
        )
        assert r.status_code == 201, r.text
        person["join_token"] = r.json()["join_token"]
        return person

    async def link_meeting(self) -> None:
        r = await self.client.post(
            f"/v1/programmes/{self.programme_id}/video-meetings",
            headers=self.admin,
            json={"provider": "zoom", "meeting_id": self.meeting_id},
        )
        assert r.status_code == 201, r.text

    async def zoom(self, body: bytes, **kwargs: Any) -> httpx.Response:
        return await self.client.post(
            "/v1/webhooks/video/zoom", content=body, headers=zoom_headers(body, **kwargs)
        )

    async def records(self) -> list[dict[str, Any]]:
        r = await self.client.get(
            f"/v1/sessions/{self.session_id}/attendance",
            headers=self.admin,
            params={"limit": 200},
        )
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items


async def stream_messages(js: JetStreamContext, subject: str = "echo.ontario.>") -> list[Any]:
    """Every message on the ontario stream under `subject`, read back from JetStream."""
    sub = await js.pull_subscribe(subject, stream="ECHO_ONTARIO")
    out: list[Any] = []
    try:
        while True:
            out.extend(await sub.fetch(200, timeout=0.5))
    except Exception:  # noqa: S110 - a fetch timeout means the subject is drained
        pass
    await sub.unsubscribe()
    return out


async def stream_events(js: JetStreamContext, event_name: str) -> list[Any]:
    """The decoded attendance events of one kind on the ontario stream."""
    return [
        decode(m.data) for m in await stream_messages(js, f"echo.ontario.attendance.{event_name}")
    ]


def settings_for(database_url: str, nats_url: str | None, **extra: Any) -> AttendanceSettings:
    return AttendanceSettings(
        database_url=database_url,
        nats_url=nats_url or "nats://127.0.0.1:1",
        messaging=nats_url is not None,
        regions=REGIONS,
        webhook_secrets={"zoom": ZOOM_SECRET, "generic": GENERIC_SECRET},
        **extra,
    )


@asynccontextmanager
async def world(
    database_url: str,
    nats_url: str | None,
    js: JetStreamContext | None,
    *,
    clock: Clock | None = None,
    **extra: Any,
) -> AsyncIterator[World]:
    # The evaluation sender's loop stays off unless a test asks: tests call `sender.tick()`.
    extra.setdefault("evaluation_sender", False)
    runtime, sender = build(settings_for(database_url, nats_url, **extra), clock=clock)
    async with running(runtime) as client:
        yield World(client=client, runtime=runtime, js=js, sender=sender)


@pytest.fixture
def make_world() -> Callable[..., Any]:
    return world


@pytest.fixture
def kit() -> Any:
    """This module's helpers (tests cannot import a conftest under importlib mode)."""
    import sys

    return sys.modules[__name__]
