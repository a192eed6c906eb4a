"""Outbox, relay, inbox and tracing on a real nats-server and real SQLite/PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from echo_contracts import (
    ProgrammeCreated,
    SessionScheduled,
    new_envelope,
    subject_for,
    to_wire,
)
from echo_contracts.topology import DLQ_ADVISORIES
from echo_runtime.consumer import BatchHandler, EventConsumer
from echo_runtime.natsserver import NatsServer
from echo_runtime.outbox import OutboxPublishFailed, OutboxRelay
from echo_runtime.provision import ApplyReport, apply_consumer
from echo_runtime.settings import ServiceSettings
from echo_runtime.testing import eventually, running, token
from echo_runtime.tracing import configure_tracing
from nats.js import JetStreamContext
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from probe.service import PROBE_CONSUMER, probe, seen_sessions, when_session_scheduled_count_it

pytestmark = pytest.mark.integration


def settings(nats_server: NatsServer, url: str, service: str = "probe") -> ServiceSettings:
    return ServiceSettings(
        service=service, nats_url=nats_server.url, database_url=url, regions=["ontario"]
    )


async def stream_count(js: JetStreamContext, stream: str = "ECHO_ONTARIO") -> int:
    return (await js.stream_info(stream)).state.messages


async def test_relay_killed_between_publish_and_mark_sent_leaves_one_copy_of_each_event(
    nats_server: NatsServer, js: JetStreamContext, database_url: str
) -> None:
    runtime = probe(settings(nats_server, database_url))
    async with running(runtime) as client:
        assert runtime.relay is not None
        runtime.relay.stop()  # the built-in relay is replaced by the ones under test
        await asyncio.sleep(0.3)
        for _ in range(40):
            response = await client.post(
                "/v1/probe/sessions",
                json={"region": "ontario", "minutes": 90},
                headers=token("hub-admin"),
            )
            assert response.status_code == 201, response.text
        assert await stream_count(js) == 0

        crashed = asyncio.Event()

        async def crash(_: Sequence[Any]) -> None:
            crashed.set()
            raise asyncio.CancelledError  # dies like a kill -9: published, nothing marked

        outbox = runtime.metadata.tables["outbox"]
        # Pipelined: the second batch is published while the first one's acks are awaited.
        first = OutboxRelay(runtime.db, outbox, runtime.js, batch_size=25, after_publish=crash)
        task = asyncio.create_task(first.run())
        await crashed.wait()
        await asyncio.gather(task, return_exceptions=True)
        assert await stream_count(js) >= 25, "the fault landed: events were published"
        assert await first.backlog() == 40, "and none of them was marked sent"

        second = OutboxRelay(runtime.db, outbox, runtime.js, batch_size=25)
        assert await second.relay_once() == 25  # republished: the stream drops the duplicates
        assert await second.relay_once() == 15
        assert await second.backlog() == 0
        assert await stream_count(js) == 40
        ids = set()
        sub = await js.pull_subscribe("echo.ontario.>", stream="ECHO_ONTARIO")
        for msg in await sub.fetch(100, timeout=2):
            ids.add(msg.headers["Nats-Msg-Id"] if msg.headers else None)
        assert len(ids) == 40


async def test_a_failed_ack_leaves_every_later_event_unmarked_and_they_go_out_in_order(
    nats_server: NatsServer, js: JetStreamContext, database_url: str
) -> None:
    runtime = probe(settings(nats_server, database_url))
    async with running(runtime):
        assert runtime.relay is not None
        runtime.relay.stop()
        await asyncio.sleep(0.3)
        session_id = uuid.uuid4()  # one aggregate: its 60 events must keep their order
        start = datetime(2027, 1, 1, 17, tzinfo=UTC)
        envelopes = [
            new_envelope(
                SessionScheduled(
                    session_id=session_id,
                    programme_id=uuid.uuid4(),
                    starts_at=start + timedelta(days=i),
                    ends_at=start + timedelta(days=i, minutes=90),
                    timezone="America/Toronto",
                ),
                region="ontario",
                service="scheduling",
            )
            for i in range(60)
        ]
        outbox = runtime.metadata.tables["outbox"]
        async with runtime.db.transaction() as session:
            await runtime.outbox.add(session, envelopes)
            seqs = list((await session.execute(sa.select(outbox.c.seq).order_by("seq"))).scalars())
            # No stream takes this subject: its publish fails, the ones around it succeed.
            await session.execute(
                sa.update(outbox)
                .where(outbox.c.seq == seqs[22])
                .values(subject="echo.atlantis.scheduling.session_scheduled")
            )

        relay = OutboxRelay(runtime.db, outbox, runtime.js, batch_size=10, max_in_flight=40)
        with pytest.raises(OutboxPublishFailed):
            await relay.drain()
        async with runtime.db.session() as session:
            marked = set(
                (
                    await session.execute(
                        sa.select(outbox.c.seq).where(outbox.c.sent_at.is_not(None))
                    )
                )
                .scalars()
                .all()
            )
        assert marked == set(seqs[:22]), "only the rows before the failed one are marked sent"
        assert await stream_count(js) > 22, "later batches were in flight when the ack failed"

        async with runtime.db.transaction() as session:
            await session.execute(
                sa.update(outbox)
                .where(outbox.c.seq == seqs[22])
                .values(subject=subject_for("ontario", envelopes[22].data))
            )
        assert await relay.drain() == 38
        assert await relay.backlog() == 0
        sub = await js.pull_subscribe("echo.ontario.>", stream="ECHO_ONTARIO")
        got = [
            msg.headers["Nats-Msg-Id"] if msg.headers else None
            for msg in await sub.fetch(100, timeout=2)
        ]
    assert sorted(got) == sorted(str(env.id) for env in envelopes), "each event once"


async def test_the_same_event_twice_changes_the_consumer_tables_once(
    nats_server: NatsServer, js: JetStreamContext, database_url: str
) -> None:
    await apply_consumer(js, PROBE_CONSUMER, "ontario", ApplyReport())
    runtime = probe(settings(nats_server, database_url), consume=True)
    event = SessionScheduled(
        session_id=uuid.uuid4(),
        programme_id=uuid.uuid4(),
        starts_at="2027-01-01T17:00:00Z",  # type: ignore[arg-type]
        ends_at="2027-01-01T18:30:00Z",  # type: ignore[arg-type]
        timezone="America/Toronto",
    )
    env = new_envelope(event, region="ontario", service="scheduling")
    async with running(runtime):
        # Twice with distinct message ids, so the stream keeps both and the consumer sees both.
        for attempt in range(2):
            await js.publish(
                subject_for("ontario", event),
                to_wire(env),
                headers={"Nats-Msg-Id": f"{env.id}-{attempt}"},
            )
        await eventually(lambda: _pending_is_zero(js))
        async with runtime.db.session() as session:
            rows = (await session.execute(sa.select(seen_sessions))).all()
            inbox = (await session.execute(sa.select(runtime.metadata.tables["inbox"]))).all()
    assert [(r.session_id, r.minutes) for r in rows] == [(event.session_id, 90)]
    assert len(inbox) == 1


async def _pending_is_zero(js: JetStreamContext) -> bool:
    info = await js.consumer_info("ECHO_ONTARIO", PROBE_CONSUMER.durable)
    return info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq >= 2


async def test_a_poison_message_is_terminated_and_the_rest_flows(
    nats_server: NatsServer, js: JetStreamContext, sqlite_url: str
) -> None:
    await apply_consumer(js, PROBE_CONSUMER, "ontario", ApplyReport())
    # ECHO_DLQ indexes the platform's named durables only (never an integrator's): the probe is
    # a test service, so it is added to the index here as a new service would be in topology.
    dlq = (await js.stream_info("ECHO_DLQ")).config
    dlq.subjects = [
        *(dlq.subjects or []),
        *(f"{a}.*.{PROBE_CONSUMER.durable}" for a in DLQ_ADVISORIES),
    ]
    await js.update_stream(dlq)
    runtime = probe(settings(nats_server, sqlite_url), consume=True)
    good = SessionScheduled(
        session_id=uuid.uuid4(),
        programme_id=uuid.uuid4(),
        starts_at="2027-01-01T17:00:00Z",  # type: ignore[arg-type]
        ends_at="2027-01-01T18:00:00Z",  # type: ignore[arg-type]
        timezone="Asia/Shanghai",
    )
    async with running(runtime):
        await js.publish(
            subject_for("ontario", good), b'{"type": "echo.scheduling.session_scheduled.v1"}'
        )
        env = new_envelope(good, region="ontario", service="scheduling")
        await js.publish(
            subject_for("ontario", good), to_wire(env), headers={"Nats-Msg-Id": str(env.id)}
        )

        async def applied() -> bool:
            async with runtime.db.session() as session:
                return bool((await session.execute(sa.select(seen_sessions))).all())

        await eventually(applied)
        dlq = await eventually(lambda: _dlq_count(js))
    assert dlq == 1


async def test_an_unknown_or_newer_event_type_is_acked_and_skipped(
    nats_server: NatsServer, js: JetStreamContext, sqlite_url: str
) -> None:
    """A `...v2` the consumer's echo-contracts does not know: acked, not applied, not a DLQ entry
    (a subscriber on an older contract keeps flowing when a producer moves ahead)."""
    await apply_consumer(js, PROBE_CONSUMER, "ontario", ApplyReport())
    runtime = probe(settings(nats_server, sqlite_url), consume=True)
    newer = SessionScheduled(
        session_id=uuid.uuid4(),
        programme_id=uuid.uuid4(),
        starts_at="2027-01-01T17:00:00Z",  # type: ignore[arg-type]
        ends_at="2027-01-01T18:00:00Z",  # type: ignore[arg-type]
        timezone="Asia/Shanghai",
    )
    body = to_wire(new_envelope(newer, region="ontario", service="scheduling"))
    async with running(runtime):
        await js.publish(subject_for("ontario", newer), body.replace(b".v1", b".v2"))

        async def acked() -> bool:
            info = await js.consumer_info("ECHO_ONTARIO", PROBE_CONSUMER.durable)
            return info.delivered.stream_seq >= 1 and info.ack_floor.stream_seq >= 1

        await eventually(acked)
        async with runtime.db.session() as session:
            assert (await session.execute(sa.select(seen_sessions))).all() == []
    assert await _dlq_count(js) == 0


async def _dlq_count(js: JetStreamContext) -> int:
    return (await js.stream_info("ECHO_DLQ")).state.messages


class _Collector(InMemorySpanExporter):
    pass


async def test_one_trace_covers_request_outbox_nats_and_consumer_write(
    nats_server: NatsServer, js: JetStreamContext, sqlite_url: str, tmp_path: Any
) -> None:
    exporter = _Collector()
    configure_tracing("probe", extra_processor=SimpleSpanProcessor(exporter))
    await apply_consumer(js, PROBE_CONSUMER, "ontario", ApplyReport())
    producer = probe(settings(nats_server, sqlite_url))
    consumer = probe(
        settings(nats_server, f"sqlite+aiosqlite:///{tmp_path}/consumer.db", service="probe"),
        consume=True,
    )
    async with running(producer) as client, running(consumer):
        exporter.clear()
        response = await client.post(
            "/v1/probe/sessions",
            json={"region": "ontario", "minutes": 60},
            headers=token("hub-admin"),
        )
        assert response.status_code == 201

        def consumer_insert() -> list[ReadableSpan]:
            return [
                s
                for s in exporter.get_finished_spans()
                if "seen_sessions" in str((s.attributes or {}).get("db.statement", ""))
                and "INSERT" in str((s.attributes or {}).get("db.statement", ""))
            ]

        await eventually(consumer_insert)
    spans = exporter.get_finished_spans()
    http = [s for s in spans if s.name.startswith("POST /v1/probe/sessions") and s.parent is None]
    assert len(http) == 1
    trace_id = http[0].context.trace_id
    outbox_insert = [
        s
        for s in spans
        if "INSERT INTO outbox" in str((s.attributes or {}).get("db.statement", ""))
    ]
    publish = [s for s in spans if s.name.endswith(" publish") and "echo.ontario" in s.name]
    process = [
        s for s in spans if s.name == "probe-inbox handle echo.scheduling.session_scheduled.v1"
    ]
    write = consumer_insert()
    for name, found in [
        ("outbox row", outbox_insert),
        ("publish", publish),
        ("process", process),
        ("write", write),
    ]:
        assert found, f"no {name} span"
        assert {s.context.trace_id for s in found} == {trace_id}, f"{name} is in another trace"


async def test_bad_input_and_bad_tokens_get_problem_details(
    nats_server: NatsServer, sqlite_url: str
) -> None:
    runtime = probe(ServiceSettings(service="probe", database_url=sqlite_url, messaging=False))
    async with running(runtime) as client:
        bad = await client.post(
            "/v1/probe/sessions",
            json={"region": "ontario", "minutes": 5},
            headers=token("hub-admin"),
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["errors"][0]["field"] == "minutes"
        assert "minutes" in bad.json()["detail"]
        extra = await client.post(
            "/v1/probe/sessions",
            json={"region": "ontario", "minutes": 60, "x": 1},
            headers=token("hub-admin"),
        )
        assert extra.status_code == 422 and extra.json()["errors"][0]["field"] == "x"
        body = {"region": "ontario", "minutes": 60}
        assert (await client.post("/v1/probe/sessions", json=body)).status_code == 401
        garbage = {"authorization": "Bearer not-a-token"}
        assert (
            await client.post("/v1/probe/sessions", json=body, headers=garbage)
        ).status_code == 401
        wrong_role = await client.post("/v1/probe/sessions", json=body, headers=token("spoke"))
        assert wrong_role.status_code == 403
        wrong_region = await client.post(
            "/v1/probe/sessions", json=body, headers=token("hub-admin", "shanghai")
        )
        assert wrong_region.status_code == 403
        assert "hub-admin" in wrong_region.json()["detail"]
        assert (await client.get("/healthz")).json()["status"] == "ok"
        assert (await client.get("/readyz")).json() == {"database": "ok"}
        metrics = await client.get("/metrics")
        assert "echo_http_requests_total" in metrics.text
        docs = await client.get("/docs")
        assert (
            "/static/swagger/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text.lower()
        )
        assert (await client.get("/static/swagger/swagger-ui-bundle.js")).status_code == 200
        asyncapi = await client.get("/asyncapi.json")
        assert asyncapi.json()["asyncapi"].startswith("3.")


async def test_copies_of_an_event_in_one_batch_and_in_a_later_batch_apply_once(
    nats_server: NatsServer, js: JetStreamContext, database_url: str
) -> None:
    runtime = probe(settings(nats_server, database_url), consume=True)
    runtime.settings.messaging = False  # batches are handed to the consumer by the test
    event = SessionScheduled(
        session_id=uuid.uuid4(),
        programme_id=uuid.uuid4(),
        starts_at="2027-01-01T17:00:00Z",  # type: ignore[arg-type]
        ends_at="2027-01-01T19:00:00Z",  # type: ignore[arg-type]
        timezone="America/Toronto",
    )
    other = SessionScheduled(
        session_id=uuid.uuid4(),
        programme_id=uuid.uuid4(),
        starts_at="2027-01-02T17:00:00Z",  # type: ignore[arg-type]
        ends_at="2027-01-02T18:00:00Z",  # type: ignore[arg-type]
        timezone="America/Toronto",
    )
    env, other_env = (
        new_envelope(e, region="ontario", service="scheduling") for e in (event, other)
    )
    sub = await js.pull_subscribe("echo.ontario.scheduling.>", stream="ECHO_ONTARIO")

    async def publish(envelope: Any, copies: int) -> None:
        for copy in range(copies):  # distinct message ids: the stream keeps every copy
            await js.publish(
                subject_for("ontario", envelope.data),
                to_wire(envelope),
                headers={"Nats-Msg-Id": f"{envelope.id}-{uuid.uuid4()}-{copy}"},
            )

    async with running(runtime):
        consumer = EventConsumer(
            PROBE_CONSUMER,
            runtime.db,
            runtime.metadata.tables["inbox"],
            {SessionScheduled: when_session_scheduled_count_it},
        )
        await publish(env, 3)
        await publish(other_env, 1)
        first = await sub.fetch(10, timeout=2)
        assert len(first) == 4
        await consumer.process(first)  # one batch: three copies and another event
        await publish(env, 1)
        await consumer.process(await sub.fetch(10, timeout=2))  # a redelivery, later
        async with runtime.db.session() as session:
            rows = (await session.execute(sa.select(seen_sessions))).all()
            inbox = (await session.execute(sa.select(runtime.metadata.tables["inbox"]))).all()
    assert sorted((r.session_id, r.minutes) for r in rows) == sorted(
        [(event.session_id, 120), (other.session_id, 60)]
    )
    assert sorted(r.event_id for r in inbox) == sorted([str(env.id), str(other_env.id)])


async def test_a_batch_handler_gets_each_run_of_consecutive_events_in_order(
    nats_server: NatsServer, js: JetStreamContext, database_url: str
) -> None:
    runtime = probe(settings(nats_server, database_url), consume=True)
    runtime.settings.messaging = False  # batches are handed to the consumer by the test
    calls: list[str] = []

    async def count_sessions(session: Any, envs: list[Any]) -> None:
        calls.append(f"sessions {[e.data.session_id for e in envs]}")
        await session.execute(
            sa.insert(seen_sessions),
            [
                {
                    "session_id": e.data.session_id,
                    "minutes": int((e.data.ends_at - e.data.starts_at).total_seconds() // 60),
                }
                for e in envs
            ],
        )

    async def note_programme(session: Any, env: Any) -> None:
        calls.append("programme")

    start = datetime(2027, 1, 1, 17, tzinfo=UTC)
    sessions = [
        new_envelope(
            SessionScheduled(
                session_id=uuid.uuid4(),
                programme_id=uuid.uuid4(),
                starts_at=start,
                ends_at=start + timedelta(minutes=60 + i),
                timezone="America/Toronto",
            ),
            region="ontario",
            service="scheduling",
        )
        for i in range(3)
    ]
    programme = new_envelope(
        ProgrammeCreated(
            programme_id=uuid.uuid4(),
            region="ontario",
            language="en",
            timezone="America/Toronto",
            session_minutes=90,
            starts_on=start.date(),
        ),
        region="ontario",
        service="scheduling",
    )
    stream_order = [sessions[0], sessions[1], sessions[1], programme, sessions[2]]
    sub = await js.pull_subscribe("echo.ontario.scheduling.>", stream="ECHO_ONTARIO")
    async with running(runtime):
        for env in stream_order:
            await js.publish(
                subject_for("ontario", env.data),
                to_wire(env),
                headers={"Nats-Msg-Id": f"{env.id}-{uuid.uuid4()}"},
            )
        consumer = EventConsumer(
            PROBE_CONSUMER,
            runtime.db,
            runtime.metadata.tables["inbox"],
            {SessionScheduled: BatchHandler(count_sessions), ProgrammeCreated: note_programme},
        )
        msgs = await sub.fetch(10, timeout=2)
        assert len(msgs) == 5
        await consumer.process(msgs)
        async with runtime.db.session() as session:
            rows = dict((await session.execute(sa.select(seen_sessions))).all())
    ids = [e.data.session_id for e in sessions]
    assert calls == [f"sessions {ids[:2]}", "programme", f"sessions {ids[2:]}"]
    assert rows == {ids[0]: 60, ids[1]: 61, ids[2]: 62}


async def test_an_idle_consumer_takes_a_single_event_without_waiting_for_a_full_batch(
    js: JetStreamContext,
) -> None:
    """The consumers' `fetch(200, timeout)`: on an idle consumer its first request lingers
    (`no_wait` with `expires`), and the server ends it once the messages there are sent, so one
    event is handled at once, not after `timeout`; a backlog still comes in full batches. Kept
    as a guard against a client or server upgrade that would wait for the whole batch."""
    await js.add_consumer(
        "ECHO_ONTARIO",
        durable_name="trickle",
        filter_subjects=["echo.ontario.>"],
    )
    sub = await js.pull_subscribe_bind("trickle", stream="ECHO_ONTARIO")

    async def one_event(n: int) -> None:
        await js.publish("echo.ontario.probe.trickle", b"{}", headers={"Nats-Msg-Id": f"t-{n}"})

    waiting = asyncio.create_task(sub.fetch(200, timeout=60))
    await asyncio.sleep(0.5)  # the lingering request is on the server
    await one_event(0)
    # bounded far below `wait`: the old fetch would still be waiting here
    first = await asyncio.wait_for(waiting, 20)
    assert len(first) == 1
    await first[0].ack()
    for n in range(1, 451):
        await one_event(n)
    sizes = []
    while sum(sizes) < 450:
        batch = await sub.fetch(200, timeout=5)
        sizes.append(len(batch))
        for msg in batch:
            await msg.ack()
    assert sum(sizes) == 450 and max(sizes) == 200, sizes
