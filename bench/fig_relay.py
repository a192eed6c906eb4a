"""Figure 2: the outbox relay publishing to JetStream, against raw `publish_async`.

The relay is `echo_runtime.outbox.OutboxRelay` itself (its pipelined `drain`, as `run` uses it),
run in this process on a PostgreSQL outbox table filled beforehand with N pending rows (untimed),
with the services' default batch size and tracing configured as a service configures it; timed
from the first claim until the table has no pending row. The baseline publishes the same number
of envelopes of the same shape (fresh ids: the stream would drop repeated `Nats-Msg-Id`s as
duplicates) with `publish_async`, at most 1,000 in flight, from the same process and event loop.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from echo_runtime.database import Database
from echo_runtime.messaging_tables import add_messaging_tables
from echo_runtime.outbox import OutboxRelay
from echo_runtime.settings import ServiceSettings
from echo_runtime.tracing import configure_tracing, instrument_engine

from bench.harness import Options, Row, repeat, say
from bench.stack import Stack, backlog_events, publish_all, wire

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def run(stack: Stack, opts: Options) -> list[Row]:
    await stack.reset_streams()
    count = opts.pick(5_000, 15_000)
    database = Database(await stack.database())
    metadata = sa.MetaData()
    outbox, _ = add_messaging_tables(metadata)
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    provider = configure_tracing("bench-relay")
    instrument_engine(database.engine.sync_engine, provider)
    batch_size = ServiceSettings().relay_batch_size
    say(f"  {count} rows a run, relay batch size {batch_size} (the services' default)")

    async def fill() -> None:
        now = datetime.now(UTC)
        rows = []
        for env in backlog_events(count):
            subject, body, _ = wire(env)
            rows.append(
                {
                    "event_id": str(env.id),
                    "subject": subject,
                    "event_type": env.type,
                    "body": body,
                    "traceparent": TRACEPARENT,
                    "created_at": now,
                }
            )
        async with database.engine.begin() as conn:
            for start in range(0, len(rows), 2000):
                await conn.execute(sa.insert(outbox), rows[start : start + 2000])

    async def pending() -> int:
        async with database.engine.connect() as conn:
            return int(
                await conn.scalar(
                    sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
                )
                or 0
            )

    async def once(_: int) -> dict[str, float]:
        messages = [wire(env) for env in backlog_events(count)]
        raw_seconds = await publish_all(stack.js, messages, window=1000)

        await fill()
        relay = OutboxRelay(database, outbox, stack.js, batch_size=batch_size)
        started = time.perf_counter()
        sent = 0
        while True:  # what `OutboxRelay.run` does, without its wait for the next commit
            n = await relay.drain()
            sent += n
            if n == 0:
                break
        relay_seconds = time.perf_counter() - started
        left = await pending()
        if sent != count or left:
            raise RuntimeError(f"the relay sent {sent} of {count}; {left} still pending")
        return {"relay": count / relay_seconds, "raw": count / raw_seconds}

    try:
        got = await repeat(opts.repeats, once, say, "relay")
    finally:
        await database.dispose()
    info = await stack.js.stream_info("ECHO_ONTARIO")
    return [
        Row(
            "relay",
            "outbox relay -> JetStream",
            "msg/s",
            values=got["relay"],
            baseline=got["raw"],
            baseline_name="raw publish_async",
            min_ratio=0.5,
            goal=">= 50% of baseline",
            notes=[
                f"{count} rows a run, in-process OutboxRelay on PostgreSQL, batch {batch_size};"
                f" stream holds {info.state.messages} messages at the end"
            ],
            extra={"pid": os.getpid()},
        )
    ]
