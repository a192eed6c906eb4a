"""Transactional outbox: events are written with the state change, a relay publishes them.

The relay publishes pending rows with `Nats-Msg-Id` = event id (the stream drops a duplicate inside
its window, so a relay killed between publishing and marking rows sent doubles nothing), pipelines
publishes, and continues the trace stored on each row.

Pipelining: the relay claims a batch, publishes it without waiting for the acks, and claims and
publishes the next while acks of earlier batches are outstanding (at most `max_in_flight`
messages). Batches are marked sent in the order they were published, each once all its rows are
acked, so what is marked is always a prefix of what was published: when an ack fails, the rows
before it are marked and nothing after it is, in that batch or any later one; those are claimed
and published again in order (the stream drops the copies it already holds). A later event of an
aggregate is never marked sent while an earlier one waits for a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from echo_contracts import Envelope, subject_for, to_wire
from nats.js import JetStreamContext
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, AsyncTransaction

from echo_runtime.database import Database
from echo_runtime.logging import bind_event, get_logger
from echo_runtime.metrics import (
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PUBLISH_ERRORS,
    OUTBOX_PUBLISHED,
)
from echo_runtime.tracing import (
    current_traceparent,
    extract_context,
    inject_headers,
    spans_collected,
)

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
        bind_event(envelopes[0].region, str(envelopes[0].id))
        traceparent = current_traceparent()
        now = datetime.now(UTC)
        await session.execute(
            sa.insert(self.table), [outbox_row(env, traceparent, now) for env in envelopes]
        )


def outbox_row(
    envelope: Envelope[Any], traceparent: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The outbox row of an event, for a service that writes it with its own statement.

    `traceparent`: the trace to continue on the consumers' side (default: the current one).
    """
    bind_event(envelope.region, str(envelope.id))
    return {
        "event_id": str(envelope.id),
        "subject": subject_for(envelope.region, envelope.data),
        "event_type": envelope.type,
        "body": to_wire(envelope),
        "traceparent": current_traceparent() if traceparent is None else traceparent,
        "created_at": now or datetime.now(UTC),
    }


AfterPublish = Callable[[list[Any]], Awaitable[None]]


class OutboxPublishFailed(Exception):
    """The stream did not ack a published row (nothing from that row on was marked sent)."""


@dataclass
class _Claim:
    """Rows claimed for publishing; on PostgreSQL with the transaction that holds their locks."""

    rows: Sequence[Any]
    conn: AsyncConnection | None = None
    tx: AsyncTransaction | None = None
    released: bool = field(default=False)

    async def release(self) -> None:
        """Roll back what was not committed and give the connection back."""
        if self.released:
            return
        self.released = True
        if self.conn is not None:
            with contextlib.suppress(Exception):  # a dead connection is closed by the pool
                await self.conn.close()


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
        max_in_flight: int = 2000,
        linger: float = 0.002,
        after_publish: AfterPublish | None = None,
    ) -> None:
        self.db = database
        self.table = table
        self.js = js
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.publish_timeout = publish_timeout
        #: Batches published but not yet acked: at most this many messages (at least one batch).
        self.max_batches = max(1, max_in_flight // batch_size)
        #: After a commit wakes the relay, wait this long so commits close together share a batch.
        self.linger = linger
        #: Called after the stream acked a batch and before it is marked sent (fault tests).
        self.after_publish = after_publish
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Relay until `stop()`; back off when NATS or the database fails, never give up."""
        failures = 0
        while not self._stopping.is_set():
            # Cleared before reading: a commit while we publish wakes the next round at once.
            self.db.outbox_committed.clear()
            try:
                sent = await self.drain()
                failures = 0
            except Exception as exc:  # NATS down, database restarting: retry with backoff
                failures += 1
                OUTBOX_PUBLISH_ERRORS.inc()
                delay = min(0.2 * 2**failures, 5.0)
                log.warning("outbox_relay_retry", error=type(exc).__name__, delay=delay)
                await self._sleep(delay)
                continue
            woken = sent < self.batch_size and await self._sleep(
                self.poll_interval, wake=self.db.outbox_committed
            )
            if woken:
                await asyncio.sleep(self.linger)

    async def _sleep(self, seconds: float, wake: asyncio.Event | None = None) -> bool:
        """Sleep until `seconds` pass, the relay stops or `wake` is set; True when woken."""
        if wake is not None and wake.is_set():
            return True
        waiters = [asyncio.ensure_future(self._stopping.wait())]
        if wake is not None:
            waiters.append(asyncio.ensure_future(wake.wait()))
        _, pending = await asyncio.wait(waiters, timeout=seconds, return_when="FIRST_COMPLETED")
        for task in pending:
            task.cancel()
        return wake is not None and wake.is_set() and not self._stopping.is_set()

    def stop(self) -> None:
        self._stopping.set()

    async def relay_once(self) -> int:
        """Publish one batch of pending rows, wait for its acks, mark it; return how many."""
        claim = await self._claim(after_seq=0)
        if not claim.rows:
            await claim.release()
            return 0
        try:
            futures = await self._publish(claim.rows)
        except BaseException:
            await claim.release()
            raise
        return await self._settle(claim, futures, previous=None)

    async def drain(self) -> int:
        """Publish until no row is pending, pipelined; return how many rows were marked sent."""
        total = 0
        inflight: deque[tuple[asyncio.Task[int], _Claim]] = deque()
        previous: asyncio.Task[int] | None = None
        after_seq = 0
        try:
            while not self._stopping.is_set():
                while inflight and (len(inflight) >= self.max_batches or inflight[0][0].done()):
                    total += await inflight.popleft()[0]
                # Past the batches in flight: after a failure their rows are unlocked again, and
                # they go out again in order in the next round, not here.
                claim = await self._claim(after_seq)
                if not claim.rows:
                    await claim.release()
                    break
                after_seq = claim.rows[-1].seq
                try:
                    futures = await self._publish(claim.rows)
                except BaseException:
                    await claim.release()
                    raise
                previous = asyncio.create_task(self._settle(claim, futures, previous))
                inflight.append((previous, claim))
                if len(claim.rows) < self.batch_size:
                    break
            while inflight:
                total += await inflight.popleft()[0]
        finally:
            # After a failure the later batches roll back: nothing past it is marked sent.
            for task, _ in inflight:
                task.cancel()
            await asyncio.gather(*(task for task, _ in inflight), return_exceptions=True)
            for _, claim in inflight:  # a task cancelled before it ran never released its rows
                await claim.release()
        return total

    async def _claim(self, after_seq: int) -> _Claim:
        if self.db.is_postgres:
            # Several relays may run, and several batches of one relay are in flight: each batch
            # holds its rows locked in its own transaction until they are marked sent.
            conn = await self.db.engine.connect()
            try:
                tx = await conn.begin()
                rows = (
                    await conn.execute(self._pending(after_seq).with_for_update(skip_locked=True))
                ).all()
            except BaseException:
                await conn.close()
                raise
            return _Claim(rows, conn, tx)
        # SQLite has a single writer: read without locks (past the batches already in flight),
        # publish, then mark in a short transaction.
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(self._pending(after_seq))).all()
        return _Claim(rows)

    async def _settle(
        self, claim: _Claim, futures: list[asyncio.Future[Any]], previous: asyncio.Task[int] | None
    ) -> int:
        """Wait for a batch's acks, then mark it sent, after the batch published before it."""
        try:
            acked, error = await self._acked_prefix(futures)
            if acked == len(claim.rows) and self.after_publish is not None:
                await self.after_publish(list(claim.rows))
            if previous is not None:
                await asyncio.wait([previous])
                if previous.cancelled() or previous.exception() is not None:
                    raise OutboxPublishFailed("an earlier batch was not marked sent")
            if acked:
                await self._mark(claim, claim.rows[:acked])
                OUTBOX_PUBLISHED.inc(acked)
            if error is not None:
                raise OutboxPublishFailed(
                    f"row {claim.rows[acked].seq} was not acked: {type(error).__name__}"
                ) from error
            return acked
        finally:
            await claim.release()

    async def _acked_prefix(
        self, futures: list[asyncio.Future[Any]]
    ) -> tuple[int, BaseException | None]:
        """How many leading publishes were acked, and the first failure (None when all were)."""
        _, pending = await asyncio.wait(futures, timeout=self.publish_timeout)
        for future in pending:
            future.cancel()  # frees its place in the client's window of pending publishes
        for index, future in enumerate(futures):
            if future.cancelled():
                return index, TimeoutError(f"no ack within {self.publish_timeout}s")
            error = future.exception()
            if error is not None:
                for later in futures[index + 1 :]:
                    if not later.cancelled():
                        later.exception()  # retrieved: no "never retrieved" warning
                return index, error
        return len(futures), None

    async def _mark(self, claim: _Claim, rows: Sequence[Any]) -> None:
        if claim.conn is not None and claim.tx is not None:
            await claim.conn.execute(self._mark_sent(rows))
            await claim.tx.commit()
        else:
            async with self.db.engine.begin() as conn:
                await conn.execute(self._mark_sent(rows))

    def _pending(self, after_seq: int) -> sa.Select[Any]:
        t = self.table
        query = sa.select(
            t.c.seq, t.c.event_id, t.c.subject, t.c.event_type, t.c.body, t.c.traceparent
        ).where(t.c.sent_at.is_(None))
        if after_seq:
            query = query.where(t.c.seq > after_seq)
        return query.order_by(t.c.seq).limit(self.batch_size)

    def _mark_sent(self, rows: Sequence[Any]) -> sa.Update:
        return (
            sa.update(self.table)
            .where(self.table.c.seq.in_([r.seq for r in rows]))
            .values(sent_at=datetime.now(UTC))
        )

    async def _publish(self, rows: Sequence[Any]) -> list[asyncio.Future[Any]]:
        """Publish rows in order without waiting for their acks."""
        futures: list[asyncio.Future[Any]] = []
        traced = spans_collected()
        for row in rows:
            headers = {"Nats-Msg-Id": row.event_id, "ce-type": row.event_type}
            if not traced:
                # Nobody records a publish span: pass the request's trace context on as it is.
                if row.traceparent:
                    headers["traceparent"] = row.traceparent
                futures.append(await self.js.publish_async(row.subject, row.body, headers=headers))
                continue
            parent = extract_context({"traceparent": row.traceparent} if row.traceparent else {})
            with _tracer.start_as_current_span(
                f"{row.subject} publish",
                context=parent,
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.destination.name": row.subject,
                    "messaging.message.id": row.event_id,
                    "echo.region": row.subject.split(".")[1],
                },
            ):
                inject_headers(headers)
                futures.append(await self.js.publish_async(row.subject, row.body, headers=headers))
        return futures

    async def backlog(self) -> int:
        """How many rows wait to be published (and how old the oldest is, for the gauges)."""
        async with self.db.engine.connect() as conn:
            count, oldest = (
                await conn.execute(
                    sa.select(sa.func.count(), sa.func.min(self.table.c.created_at))
                    .select_from(self.table)
                    .where(self.table.c.sent_at.is_(None))
                )
            ).one()
        OUTBOX_BACKLOG.set(count or 0)
        OUTBOX_OLDEST_AGE.set(_age_seconds(oldest))
        return int(count or 0)


def _age_seconds(created: datetime | str | None) -> float:
    """Seconds since `created` (SQLite hands back a naive or textual UTC time); 0 for none."""
    if created is None:
        return 0.0
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return max((datetime.now(UTC) - created).total_seconds(), 0.0)
