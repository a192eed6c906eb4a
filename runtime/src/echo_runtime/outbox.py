"""Transactional outbox: events are written with the state change, a relay publishes them.

The relay publishes pending rows with `Nats-Msg-Id` = event id (the stream drops a duplicate inside
its window, so a relay killed between publishing and marking rows sent doubles nothing), pipelines
publishes, and continues the trace stored on each row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from echo_contracts import Envelope, subject_for, to_wire
from nats.js import JetStreamContext
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession

from echo_runtime.database import Database
from echo_runtime.logging import get_logger
from echo_runtime.metrics import OUTBOX_BACKLOG, OUTBOX_PUBLISHED
from echo_runtime.tracing import current_traceparent, extract_context, inject_headers

log = get_logger(__name__)
_tracer = trace.get_tracer("echo.outbox")


class Outbox:
    """Writes a service's events into its outbox table, inside the caller's transaction."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table

    async def add(self, session: AsyncSession, envelopes: Sequence[Envelope[Any]]) -> None:
        """Stage events in the same transaction as the state change that caused them."""
        if not envelopes:
            return
        traceparent = current_traceparent()
        now = datetime.now(UTC)
        await session.execute(
            sa.insert(self.table),
            [
                {
                    "event_id": str(env.id),
                    "subject": subject_for(env.region, env.data),
                    "event_type": env.type,
                    "body": to_wire(env),
                    "traceparent": traceparent,
                    "created_at": now,
                }
                for env in envelopes
            ],
        )


AfterPublish = Callable[[list[Any]], Awaitable[None]]


class OutboxRelay:
    """Publishes pending outbox rows to JetStream and marks them sent."""

    def __init__(
        self,
        database: Database,
        table: sa.Table,
        js: JetStreamContext,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.2,
        publish_timeout: float = 10.0,
        after_publish: AfterPublish | None = None,
    ) -> None:
        self.db = database
        self.table = table
        self.js = js
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.publish_timeout = publish_timeout
        #: Called after the stream acked a batch and before it is marked sent (fault tests).
        self.after_publish = after_publish
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Relay until `stop()`; back off when NATS or the database fails, never give up."""
        failures = 0
        while not self._stopping.is_set():
            try:
                sent = await self.relay_once()
                failures = 0
            except Exception as exc:  # NATS down, database restarting: retry with backoff
                failures += 1
                delay = min(0.2 * 2**failures, 5.0)
                log.warning("outbox_relay_retry", error=type(exc).__name__, delay=delay)
                await self._sleep(delay)
                continue
            if sent < self.batch_size:
                self.db.outbox_committed.clear()
                await self._sleep(self.poll_interval, wake=self.db.outbox_committed)

    async def _sleep(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        waiters = [asyncio.ensure_future(self._stopping.wait())]
        if wake is not None:
            waiters.append(asyncio.ensure_future(wake.wait()))
        _, pending = await asyncio.wait(waiters, timeout=seconds, return_when="FIRST_COMPLETED")
        for task in pending:
            task.cancel()

    def stop(self) -> None:
        self._stopping.set()

    async def relay_once(self) -> int:
        """Publish one batch of pending rows; return how many were sent."""
        if self.db.is_postgres:
            # Several relays may run: each claims its rows and holds them until marked.
            async with self.db.engine.begin() as conn:
                rows = (await conn.execute(self._pending().with_for_update(skip_locked=True))).all()
                if rows:
                    await self._publish(rows)
                    await conn.execute(self._mark_sent(rows))
        else:
            # SQLite has a single writer: read, publish, then mark in a short transaction.
            async with self.db.engine.connect() as conn:
                rows = (await conn.execute(self._pending())).all()
            if rows:
                await self._publish(rows)
                async with self.db.engine.begin() as conn:
                    await conn.execute(self._mark_sent(rows))
        if rows:
            OUTBOX_PUBLISHED.inc(len(rows))
        return len(rows)

    def _pending(self) -> sa.Select[Any]:
        t = self.table
        return (
            sa.select(t.c.seq, t.c.event_id, t.c.subject, t.c.event_type, t.c.body, t.c.traceparent)
            .where(t.c.sent_at.is_(None))
            .order_by(t.c.seq)
            .limit(self.batch_size)
        )

    def _mark_sent(self, rows: Sequence[Any]) -> sa.Update:
        return (
            sa.update(self.table)
            .where(self.table.c.seq.in_([r.seq for r in rows]))
            .values(sent_at=datetime.now(UTC))
        )

    async def _publish(self, rows: Sequence[Any]) -> None:
        futures = []
        for row in rows:
            parent = extract_context({"traceparent": row.traceparent} if row.traceparent else {})
            with _tracer.start_as_current_span(
                f"{row.subject} publish",
                context=parent,
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.destination.name": row.subject,
                    "messaging.message.id": row.event_id,
                },
            ):
                headers = {"Nats-Msg-Id": row.event_id, "ce-type": row.event_type}
                inject_headers(headers)
                futures.append(await self.js.publish_async(row.subject, row.body, headers=headers))
        await asyncio.wait_for(asyncio.gather(*futures), timeout=self.publish_timeout)
        if self.after_publish is not None:
            await self.after_publish(list(rows))

    async def backlog(self) -> int:
        """How many rows wait to be published."""
        async with self.db.engine.connect() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(self.table)
                .where(self.table.c.sent_at.is_(None))
            )
        OUTBOX_BACKLOG.set(count or 0)
        return int(count or 0)
