"""The notifications test kit: a real SMTP server, a real HTTP receiver, a world of events."""

from __future__ import annotations

import email
import email.policy
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from echo_contracts import (
    Envelope,
    Event,
    ParticipantRegistered,
    ProgrammeCreated,
    RegistrationConfirmed,
    decode,
    new_envelope,
    subject_for,
    to_wire,
)
from echo_contracts.events import Profession
from echo_notifications.bootstrap import build
from echo_notifications.service_layer.dispatcher import Dispatcher
from echo_notifications.settings import NotificationsSettings
from echo_runtime.clock import ManualClock
from echo_runtime.natsserver import free_port
from echo_runtime.service import ServiceRuntime
from echo_runtime.testing import eventually, running
from nats.js import JetStreamContext

REGION = "ontario"
STREAM = "ECHO_ONTARIO"
DURABLE = "notifications-inbox"


def subject_matches(subject: str, pattern: str) -> bool:
    """NATS subject matching: `*` is one token, a final `>` one or more."""
    tokens, wanted = subject.split("."), pattern.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > i
        if i >= len(tokens) or token not in ("*", tokens[i]):
            return False
    return len(tokens) == len(wanted)


class SmtpSink:
    """A real SMTP server (aiosmtpd) on a free port that keeps every message it accepts."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


class WebhookReceiver:
    """A real HTTP server; `/flaky` answers 500 three times then 200, `/down` always 500."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    earlier = [r for r in receiver.requests if r["path"] == self.path]
                    if self.path == "/down":
                        status = 500
                    elif self.path == "/flaky":
                        status = 500 if len(earlier) < 3 else 200
                    else:
                        status = 200
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "status": status,
                            "body": body,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                        }
                    )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def to(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["path"] == path]


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    server.start()
    yield server
    server.stop()


class World:
    """One running notifications service fed with events over real NATS."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        dispatcher: Dispatcher,
        clock: ManualClock,
        client: httpx.AsyncClient,
        js: JetStreamContext,
    ) -> None:
        self.runtime = runtime
        self.dispatcher = dispatcher
        self.clock = clock
        self.client = client
        self.js = js
        self.published: list[Envelope[Event]] = []
        self.programme_id = uuid.uuid4()
        self._filters: list[str] | None = None
        self._last_seq = 0

    async def publish(self, *events: Event) -> list[Envelope[Event]]:
        out = []
        for event in events:
            env = new_envelope(event, region=REGION, service=f"{type(event).context}")
            subject = subject_for(REGION, event)
            ack = await self.js.publish(subject, to_wire(env), headers={"Nats-Msg-Id": str(env.id)})
            await self._stored(subject, ack.seq)
            self.published.append(env)
            out.append(env)
        await self.settled()
        return out

    async def redeliver_everything(self) -> None:
        """Publish every envelope again under a new message id: the stream keeps both copies."""
        for env in list(self.published):
            subject = subject_for(REGION, env.data)
            ack = await self.js.publish(
                subject, to_wire(env), headers={"Nats-Msg-Id": f"{env.id}-again"}
            )
            await self._stored(subject, ack.seq)
        await self.settled()

    async def _stored(self, subject: str, seq: int) -> None:
        """Remember the stream sequence of the last published message the consumer takes."""
        if self._filters is None:
            config = (await self.js.consumer_info(STREAM, DURABLE)).config
            self._filters = list(config.filter_subjects or [config.filter_subject or ">"])
        if any(subject_matches(subject, f) for f in self._filters):
            self._last_seq = max(self._last_seq, seq)

    async def settled(self) -> None:
        """Wait until the consumer has handled and acknowledged every event published so far.

        By the ack floor's stream sequence: "nothing pending, nothing unacknowledged" alone can
        be read between a publish and the server counting it as pending for the consumer, and
        then says nothing about the event just published.
        """

        async def done() -> bool:
            info = await self.js.consumer_info(STREAM, DURABLE)
            floor = info.ack_floor.stream_seq if info.ack_floor else 0
            return bool(floor >= self._last_seq and info.num_ack_pending == 0)

        await eventually(done)

    async def programme(self, language: str = "en", timezone: str = "America/Toronto") -> None:
        await self.publish(
            ProgrammeCreated(
                programme_id=self.programme_id,
                region=REGION,
                language=language,
                timezone=timezone,
                session_minutes=90,
                starts_on=datetime.now(UTC).date(),
            )
        )

    async def participant(
        self,
        email_address: str,
        *,
        name: str = "Dr Sam Lee",
        language: str = "en",
        timezone: str | None = "America/Toronto",
        enrol: bool = True,
    ) -> uuid.UUID:
        pid = uuid.uuid4()
        await self.publish(
            ParticipantRegistered(
                participant_id=pid,
                name=name,
                email=email_address,
                profession=Profession.PHYSICIAN,
                clinic="Lakeside Clinic",
                clinic_id=uuid.uuid4(),
                language=language,
                timezone=timezone,
            )
        )
        if enrol:
            await self.publish(
                RegistrationConfirmed(
                    registration_id=uuid.uuid4(),
                    participant_id=pid,
                    programme_id=self.programme_id,
                    clinic_id=uuid.uuid4(),
                    profession=Profession.PHYSICIAN,
                )
            )
        return pid

    async def tick(self) -> Any:
        """One full dispatcher pass at the manual clock's time (the background one also runs)."""
        return await self.dispatcher.tick()

    async def table(self, name: str) -> list[Any]:
        async with self.runtime.db.session() as session:
            table = self.runtime.metadata.tables[name]
            return list((await session.execute(sa.select(table))).mappings())

    async def deliveries(self, **where: Any) -> list[Any]:
        rows = await self.table("deliveries")
        return [r for r in rows if all(r[k] == v for k, v in where.items())]

    async def events(self, subject: str, *, expect: int) -> list[Envelope[Event]]:
        """The events on a subject, once the outbox relay has published `expect` of them."""

        async def read() -> list[Envelope[Event]] | None:
            sub = await self.js.pull_subscribe(subject, stream=STREAM)
            out: list[Envelope[Event]] = []
            try:
                while True:
                    msgs = await sub.fetch(100, timeout=0.2)
                    out.extend(decode(m.data) for m in msgs)
            except Exception:  # noqa: S110 - a fetch timeout means the subject is drained
                pass
            await sub.unsubscribe()
            return out if len(out) >= expect else None

        found: list[Envelope[Event]] = await eventually(read)
        return found


@asynccontextmanager
async def world(
    database_url: str,
    nats_url: str,
    js: JetStreamContext,
    *,
    smtp_port: int = 1,
    start: datetime | None = None,
    background: bool = True,
    senders: Any = None,
    **overrides: Any,
) -> AsyncIterator[World]:
    """A running service; its dispatcher reads the manual clock (ticks also run in background)."""
    # A minute ahead of the wall clock, so messages caused by events published now are due.
    clock = ManualClock(start or datetime.now(UTC) + timedelta(minutes=1))
    settings = NotificationsSettings(
        nats_url=nats_url,
        database_url=database_url,
        regions=[REGION],
        smtp_port=smtp_port,
        dispatcher=background,
        dispatch_interval=0.05,
        retry_base_seconds=60,
        retry_max_seconds=3600,
        max_attempts=4,
        **overrides,
    )
    runtime, dispatcher = build(settings, clock=clock, senders=senders)
    async with running(runtime) as client:
        yield World(runtime, dispatcher, clock, client, js)


@pytest.fixture
def kit() -> SimpleNamespace:
    return SimpleNamespace(world=world, REGION=REGION)
