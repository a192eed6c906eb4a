"""The live projection takes runs of events: a run gives what its events give one by one.

The events go through the runtime's `EventConsumer` (as the service's consumer runs them), in
batches the test fetches itself, so each batch is one run of the batch handler: several events of
one aggregate, versions out of order, copies of an event in the same batch and redelivered in a
later one, rows that exist before the run, and an event that fails in the middle of a run (the
consumer then applies the batch one event at a time: the others land exactly once).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from echo_contracts import (
    Envelope,
    SessionRescheduled,
    SessionScheduled,
    consumer_for,
    new_envelope,
    subject_for,
    to_wire,
)
from echo_reporting.adapters.repository import SqlaReadModelRepository
from echo_reporting.bootstrap import bootstrap
from echo_reporting.domain.model import KINDS, ReadModel
from echo_reporting.service_layer import projections
from echo_runtime.consumer import EventConsumer
from echo_runtime.testing import PostgresProvider, eventually, running
from nats.js import JetStreamContext

from ..scenario import full_scenario

pytestmark = pytest.mark.integration

STREAMS = {"ontario": "ECHO_ONTARIO", "northern-ireland": "ECHO_NORTHERN_IRELAND"}


def _moves(envelopes: list[Envelope[Any]]) -> list[Envelope[Any]]:
    """Two moves of one session, the newer first: the older one must change nothing."""
    first = next(e for e in envelopes if isinstance(e.data, SessionScheduled))
    data: SessionScheduled = first.data
    moves = []
    for sequence, hours in ((5, 48), (3, 24)):
        event = SessionRescheduled(
            session_id=data.session_id,
            programme_id=data.programme_id,
            previous_starts_at=data.starts_at,
            starts_at=data.starts_at + timedelta(hours=hours),
            ends_at=data.ends_at + timedelta(hours=hours),
            timezone=data.timezone,
            sequence=sequence,
        )
        env = new_envelope(event, region=first.region, service="scheduling")
        moves.append(env.model_copy(update={"time": first.time + timedelta(days=sequence)}))
    return moves


async def _publish(js: JetStreamContext, envelopes: list[Envelope[Any]]) -> None:
    """Each copy under its own message id, so copies are stored as redeliveries would be."""
    for env in envelopes:
        await js.publish(
            subject_for(env.region, env.data),
            to_wire(env),
            headers={"Nats-Msg-Id": f"{env.id}-{uuid.uuid4()}"},
        )


async def _drain(consumer: EventConsumer, subs: list[Any], count: int) -> None:
    """Fetch and process every published message, in batches of at most `count`."""
    for sub in subs:
        while True:
            try:
                msgs = await sub.fetch(count, timeout=1)
            except TimeoutError:
                break
            await consumer.process(msgs)


async def test_runs_with_repeats_copies_and_a_failing_event_match_one_by_one(
    js: JetStreamContext,
    database_url: str,
    settings_for: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rnd = random.Random(10)
    scenario = [e for e in full_scenario().envelopes if e.region in STREAMS]
    rnd.shuffle(scenario)
    half = len(scenario) // 2
    first = scenario[:half] + rnd.sample(scenario[:half], 6)  # copies within the same batches
    second = (
        scenario[half:]
        + _moves(scenario)
        + rnd.sample(scenario[:half], 8)  # redelivered: already applied in an earlier batch
        + rnd.sample(scenario[half:], 6)
    )
    # A case with several stages in the second half: one of them fails in the middle of its run.
    by_case: dict[Any, list[Envelope[Any]]] = {}
    for env in scenario[half:]:
        if type(env.data).__name__.startswith("Case"):
            by_case.setdefault(env.data.case_id, []).append(env)
    poison = max(by_case.values(), key=len)[1]
    real_merge = projections.merge

    def merge_or_fail(row: Any, env: Envelope[Any]) -> Any:
        if env.id == poison.id:
            raise ValueError(f"regional event {env.type} may not set a field")
        return real_merge(row, env)

    monkeypatch.setattr(projections, "merge", merge_or_fail)

    runtime = bootstrap(settings_for(database_url, messaging=False))
    async with running(runtime):
        spec = consumer_for("reporting", "projections")
        subs = []
        for region, stream in STREAMS.items():
            await js.add_consumer(stream, durable_name="runs", filter_subjects=[f"echo.{region}.>"])
            subs.append(await js.pull_subscribe_bind("runs", stream=stream))
        consumer = EventConsumer(
            spec, runtime.db, runtime.metadata.tables["inbox"], runtime.handlers
        )
        await _publish(js, first)
        await _drain(consumer, subs, 200)
        await _publish(js, second)
        await _drain(consumer, subs, 200)
        async with runtime.db.session() as session:
            stored = await SqlaReadModelRepository(session).load()
            inbox = runtime.metadata.tables["inbox"]
            handled = list((await session.execute(sa.select(inbox.c.event_id))).scalars())

    applied: dict[uuid.UUID, Envelope[Any]] = {}
    for env in first + second:
        if env.id != poison.id:
            applied.setdefault(env.id, env)  # the first copy is the one the consumer applies
    expected = ReadModel()
    for env in applied.values():
        expected.apply(env)
    assert sorted(handled) == sorted(str(key) for key in applied)
    for kind in KINDS:
        assert stored.rows[kind] == expected.rows[kind], kind
    # The failing event had something to tell its case's row (which holds the other stages).
    case = stored.rows["cases"][poison.data.case_id]
    assert real_merge(case, poison) != case


async def test_a_run_waiting_on_a_rebuild_merges_onto_the_rebuilt_row(
    postgres: PostgresProvider, settings_for: Callable[..., Any]
) -> None:
    """PostgreSQL: the rebuild holds the read models (EXCLUSIVE) while it rewrites them. A run
    that arrives meanwhile must read the rows once the rebuild committed, not the old rows: its
    write would otherwise put back the old row merged with its event over the rebuilt one."""
    url = await postgres.create()
    try:
        scheduled = next(
            e for e in full_scenario().envelopes if isinstance(e.data, SessionScheduled)
        )
        newer, older = _moves([scheduled])  # sequences 5 and 3
        runtime = bootstrap(settings_for(url, messaging=False))
        async with running(runtime):
            async with runtime.db.transaction() as session:
                await projections.update_read_models(session, [scheduled])
            rebuilt = ReadModel()
            for env in (scheduled, newer):  # the rebuild saw an event the live rows had not
                rebuilt.apply(env)
            admin = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
            try:

                async def live_run() -> None:
                    async with runtime.db.transaction() as session:
                        await projections.update_read_models(session, [older])

                async with runtime.db.transaction() as rebuild:
                    repo = SqlaReadModelRepository(rebuild)
                    await repo.lock()
                    await repo.clear()
                    await repo.insert_many("sessions", rebuilt.rows["sessions"].values())
                    waiting = asyncio.create_task(live_run())

                    async def blocked() -> bool:
                        return bool(
                            await admin.fetchval(
                                "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                                " current_database() AND wait_event_type = 'Lock'"
                            )
                        )

                    await eventually(blocked)
                await waiting
            finally:
                await admin.close()
            async with runtime.db.transaction() as session:
                stored = await SqlaReadModelRepository(session).load()
        expected = ReadModel()
        for env in (scheduled, newer, older):
            expected.apply(env)
        assert stored.rows["sessions"] == expected.rows["sessions"]
    finally:
        await postgres.drop(url)
