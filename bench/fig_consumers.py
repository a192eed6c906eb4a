"""Figure 3: consumer throughput of attendance and reporting on a pre-published backlog, against
a raw pull-fetch-ack loop writing the same number of rows in batches.

Each run publishes N scheduling events (programmes and their sessions, which both services
consume) while neither service runs, then starts each service as a real process (PostgreSQL) and
polls its durable consumer: the rate is counted from the first acknowledged batch (start-up and
the first batch excluded) until nothing is pending or unacknowledged. The baseline is nats-py in
this process: a durable pull consumer on the same subjects from the backlog's first sequence,
`fetch(200)` (the services' batch size), `json.loads` each body, one asyncpg transaction per batch
that upserts one row per event and inserts its inbox row, then acks each message.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import asyncpg
from echo_contracts import consumer_for, stream_name
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bench.harness import Options, Row, repeat, say
from bench.profile import Sampler
from bench.stack import REGION, ServiceProcess, Stack, backlog_events, publish_all, wire

BATCH = 200
STREAM = stream_name(REGION)

DDL = """
CREATE TABLE IF NOT EXISTS bench_rows (id uuid PRIMARY KEY, kind text NOT NULL,
    region text NOT NULL, data jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS bench_inbox (consumer text, event_id uuid, processed_at timestamptz
    NOT NULL DEFAULT now(), PRIMARY KEY (consumer, event_id));
"""


async def backlog_of(stack: Stack, durable: str) -> int:
    info = await stack.js.consumer_info(STREAM, durable)
    return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


async def drain_rate(
    stack: Stack,
    durable: str,
    backlog: int,
    max_seconds: float,
    proc: ServiceProcess,
    on_first_ack: Callable[[], None] = lambda: None,
) -> tuple[float, int, float]:
    """Events/s of a durable consumer working through its backlog, from its first ack until the
    backlog is gone or `max_seconds` passed; how many events it handled in that window; and the
    service process's CPU milliseconds an event in it (a figure other load on the machine moves
    less than the rate)."""
    first: tuple[float, int] | None = None
    cpu_first = 0.0
    deadline = time.monotonic() + 120  # start-up
    while True:
        info = await stack.js.consumer_info(STREAM, durable)
        left = info.num_pending + info.num_ack_pending
        now = time.perf_counter()
        if first is None and left < backlog:
            first = (now, left)
            cpu_first = proc.cpu_seconds()
            on_first_ack()
            deadline = time.monotonic() + max_seconds
        if first is not None and (left == 0 or time.monotonic() >= deadline):
            handled = first[1] - left
            rate = handled / (now - first[0]) if now > first[0] else float("nan")
            return rate, handled, (proc.cpu_seconds() - cpu_first) * 1000 / max(handled, 1)
        if first is None and time.monotonic() >= deadline:
            raise TimeoutError(f"{durable} acknowledged nothing within 120s")
        await asyncio.sleep(0.02)


async def run(stack: Stack, opts: Options) -> list[Row]:
    await stack.reset_streams()
    count = opts.pick(3_000, 10_000)
    max_seconds = opts.pick(10.0, 15.0)
    attendance_db, reporting_db, raw_db = (
        await stack.database(),
        await stack.database(),
        await stack.database(),
    )
    raw = await asyncpg.connect(raw_db.replace("postgresql+asyncpg://", "postgresql://", 1))
    await raw.execute(DDL)
    subjects = consumer_for("attendance").filter_subjects(REGION)
    durables = {
        "attendance": consumer_for("attendance").durable,
        "reporting": consumer_for("reporting", "projections").durable,
    }
    databases = {"attendance": attendance_db, "reporting": reporting_db}
    say(f"  {count} events a run on {STREAM} ({', '.join(subjects)})")

    async def raw_loop(first_seq: int, name: str) -> float:
        js = stack.js
        await js.add_consumer(
            STREAM,
            config=ConsumerConfig(
                durable_name=name,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=first_seq,
                ack_policy=AckPolicy.EXPLICIT,
                filter_subjects=subjects,
                max_ack_pending=2000,
            ),
        )
        sub = await js.pull_subscribe_bind(name, stream=STREAM)
        done = 0
        started = time.perf_counter()
        while done < count:
            try:
                msgs = await sub.fetch(BATCH, timeout=0.5)
            except NatsTimeoutError:
                continue
            rows, inbox = [], []
            for msg in msgs:
                env = json.loads(msg.data)
                rows.append((env["subject"], env["type"], env["region"], json.dumps(env["data"])))
                inbox.append((name, env["id"]))
            async with raw.transaction():
                await raw.executemany(
                    "INSERT INTO bench_rows (id, kind, region, data) VALUES ($1, $2, $3, $4)"
                    " ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                    rows,
                )
                await raw.executemany(
                    "INSERT INTO bench_inbox (consumer, event_id) VALUES ($1, $2)"
                    " ON CONFLICT DO NOTHING",
                    inbox,
                )
            for msg in msgs:
                await msg.ack()
            done += len(msgs)
        seconds = time.perf_counter() - started
        await sub.unsubscribe()
        await js.delete_consumer(STREAM, name)
        return count / seconds

    async def once(i: int) -> dict[str, float]:
        first_seq = (await stack.js.stream_info(STREAM)).state.last_seq + 1
        await publish_all(stack.js, [wire(e) for e in backlog_events(count)])
        values: dict[str, float] = {}
        for service in ("attendance", "reporting"):
            backlog = await backlog_of(stack, durables[service])
            proc = stack.service(service, databases[service], tag=f"-{i}")
            try:
                # profiled from the first ack: start-up (imports, migrations) is not the figure
                sampler = Sampler(opts.profile_to(i), f"consumers-{service}", [proc])
                try:
                    rate, handled, cpu_ms = await drain_rate(
                        stack, durables[service], backlog, max_seconds, proc, sampler.start
                    )
                finally:
                    await sampler.finish()
                values[service] = rate
                values[f"{service}_handled"] = handled
                values[f"{service}_cpu_ms"] = cpu_ms
                say(f"    {service}: {rate:,.0f} ev/s, {cpu_ms:.2f} ms CPU an event")
            finally:
                proc.stop()
        values["raw"] = await raw_loop(first_seq, f"bench-raw-{i}")
        return values

    try:
        got = await repeat(opts.repeats, once, say, "consumers")
    finally:
        await raw.close()
    note = (
        f"{count} events published a run, each consumer timed until its backlog is gone or"
        f" {max_seconds:.0f}s; services as processes on PostgreSQL, rate from the first ack;"
        f" raw: fetch({BATCH}) + json.loads + 1 asyncpg transaction per batch + ack"
    )
    rows = [
        Row(
            "consumers",
            f"attendance {durables['attendance']}",
            "ev/s",
            values=got["attendance"],
            baseline=got["raw"],
            baseline_name="raw pull-fetch-ack",
            min_ratio=0.4,
            goal=">= 40% of baseline",
            notes=[note],
        ),
        Row(
            "consumers",
            f"reporting {durables['reporting']}",
            "ev/s",
            values=got["reporting"],
            baseline=got["raw"],
            baseline_name="raw pull-fetch-ack",
            min_ratio=0.4,
            goal=">= 40% of baseline",
        ),
    ]
    for row, service in zip(rows, ("attendance", "reporting"), strict=True):
        row.extra["cpu_ms_per_event"] = got[f"{service}_cpu_ms"]
    return rows
