"""Idempotent batch consumers: one durable pull consumer per service and purpose, per region.

A batch is handled in one database transaction that also records each event id in the inbox, so a
redelivered event changes nothing. A batch that fails is retried one message at a time, so one bad
message cannot hold the others back: a message that can never succeed is terminated (the DLQ
indexes it), a transient failure is NAKed with backoff until `max_deliver`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog
from echo_contracts import Envelope, Event, InvalidEvent, decode, stream_name
from echo_contracts.topology import (
    NETWORK_STREAM,
    ConsumerSpec,
    network_durable,
    network_filter_subjects,
)
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError
from opentelemetry import trace
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from echo_runtime.database import Database
from echo_runtime.logging import get_logger
from echo_runtime.metrics import EVENT_AGE, EVENTS_HANDLED, HANDLER_LATENCY
from echo_runtime.tracing import extract_context

log = get_logger(__name__)
_tracer = trace.get_tracer("echo.consumer")

Handler = Callable[[AsyncSession, Envelope[Any]], Awaitable[None]]


class BatchHandler:
    """A handler that takes a run of consecutive events of its types in one call.

    Register it in a service's handlers like any handler. The consumer hands it each run of
    consecutive events (in stream order, duplicates already dropped) that it handles, so it can
    read and write them with a few set-based statements instead of several statements per event.
    Applying a run must give the same result as applying its events one by one in order.
    Called with one event (`handler(session, env)`), it handles a run of one.
    """

    def __init__(self, handle: Callable[[AsyncSession, list[Envelope[Any]]], Awaitable[None]]):
        self.handle = handle
        self.__name__ = getattr(handle, "__name__", "batch_handler")

    async def __call__(self, session: AsyncSession, env: Envelope[Any]) -> None:
        await self.handle(session, [env])


@dataclass(frozen=True)
class Binding:
    """Where a consumer reads one region's events: stream, durable and filter subjects."""

    stream: str
    durable: str
    filter_subjects: list[str]


def binding(spec: ConsumerSpec, region: str, *, network_view: bool = False) -> Binding:
    """A region's own stream, or (at the superhub) the region's share of ECHO_NETWORK."""
    if network_view:
        return Binding(
            NETWORK_STREAM,
            network_durable(spec, region),
            network_filter_subjects(spec, region),
        )
    return Binding(stream_name(region), spec.durable, spec.filter_subjects(region))


class PermanentEventError(Exception):
    """An event this service can never apply (it goes to the DLQ instead of being retried)."""


class EventConsumer:
    """Dispatches a consumer's events to handlers, exactly once per (consumer, event id)."""

    def __init__(
        self,
        spec: ConsumerSpec,
        database: Database,
        inbox: sa.Table,
        handlers: Mapping[type[Event], Handler],
    ) -> None:
        self.spec = spec
        self.db = database
        self.inbox = inbox
        self.handlers = dict(handlers)
        self._stopping = asyncio.Event()
        self._inbox_statement: Any = None

    async def run(
        self,
        js: JetStreamContext,
        region: str,
        *,
        batch_size: int = 200,
        wait: float = 1.0,
        network_view: bool = False,
    ) -> None:
        """Pull batches from the region's durable until `stop()`; never give up on errors.

        Our own loop rather than a FastStream subscriber: FastStream 0.7.8's batch pull loop
        sometimes dropped a fetched batch unhandled (back only after the ack wait).
        """
        where = binding(self.spec, region, network_view=network_view)
        config = ConsumerConfig(
            durable_name=where.durable,
            filter_subjects=where.filter_subjects,
            max_deliver=self.spec.max_deliver,
            ack_wait=self.spec.ack_wait_seconds,
            max_ack_pending=self.spec.max_ack_pending,
        )
        sub: JetStreamContext.PullSubscription | None = None
        delay = 0.2
        try:
            while not self._stopping.is_set():
                try:
                    if sub is None:
                        # Binds to the provisioned durable (creates it only where none exists).
                        sub = await js.pull_subscribe(
                            "", durable=where.durable, stream=where.stream, config=config
                        )
                    msgs = await sub.fetch(batch_size, timeout=wait)
                except TimeoutError:  # builtin: nats-py raises its own subclass or asyncio's
                    continue
                except Exception as exc:  # server restarting, consumer missing: back off, retry
                    log.warning("consumer_fetch_retry", region=region, error=type(exc).__name__)
                    if isinstance(exc, NotFoundError):
                        sub = None
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                delay = 0.2
                await self.process(msgs)
        finally:
            if sub is not None:
                # An open pull subscription would hold the connection's drain at shutdown.
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    def stop(self) -> None:
        """Finish the batch in hand, then stop pulling."""
        self._stopping.set()

    async def process(self, msgs: list[Msg]) -> None:
        """Handle a batch: one transaction, per-message fallback when it fails."""
        started = time.perf_counter()
        decoded: list[tuple[Msg, Envelope[Any]]] = []
        for msg in msgs:
            try:
                decoded.append((msg, decode(msg.data)))
            except InvalidEvent as exc:
                log.error("event_rejected_invalid", reason=str(exc)[:300], subject=msg.subject)
                region = msg.subject.split(".")[1] if msg.subject.count(".") >= 2 else ""
                EVENTS_HANDLED.labels(self.spec.durable, "invalid", "rejected", region).inc()
                await msg.term()
        if not decoded:
            return
        try:
            await self._apply(decoded)
        except Exception as exc:
            if len(decoded) == 1:
                await self._fail(*decoded[0], exc)
                return
            for one in decoded:  # isolate the message that fails
                try:
                    await self._apply([one])
                except Exception as one_exc:
                    await self._fail(*one, one_exc)
                    continue
                await one[0].ack()
            return
        for msg, _ in decoded:
            await msg.ack()
        HANDLER_LATENCY.labels(self.spec.durable).observe(time.perf_counter() - started)

    async def _apply(self, batch: list[tuple[Msg, Envelope[Any]]]) -> None:
        async with self.db.transaction() as session:
            fresh = await self._record_in_inbox(session, [str(env.id) for _, env in batch])
            todo: list[tuple[Msg, Envelope[Any], Handler | None]] = []
            for msg, env in batch:
                key = str(env.id)
                if key not in fresh:
                    EVENTS_HANDLED.labels(
                        self.spec.durable, env.type, "duplicate", env.region
                    ).inc()
                    continue
                fresh.discard(key)  # a second copy in the same batch is a duplicate
                todo.append((msg, env, self.handlers.get(type(env.data))))
            index = 0
            while index < len(todo):
                msg, env, handler = todo[index]
                if isinstance(handler, BatchHandler):
                    run = [env]
                    while index + len(run) < len(todo) and todo[index + len(run)][2] is handler:
                        run.append(todo[index + len(run)][1])
                    with self._handling(msg, env, len(run)):
                        await handler.handle(session, run)
                    for one in run:
                        self._handled(one)
                    index += len(run)
                    continue
                if handler is not None:
                    with self._handling(msg, env, 1):
                        # No flush per event: the session autoflushes before a handler's query
                        # and the commit flushes the rest.
                        await handler(session, env)
                    self._handled(env)
                index += 1

    def _handled(self, env: Envelope[Any]) -> None:
        EVENTS_HANDLED.labels(self.spec.durable, env.type, "applied", env.region).inc()
        age = (datetime.now(UTC) - env.time).total_seconds()
        EVENT_AGE.labels(self.spec.durable, env.region).observe(max(age, 0.0))

    @contextlib.contextmanager
    def _handling(self, msg: Msg, env: Envelope[Any], count: int) -> Iterator[None]:
        """The consumer span (in the trace of the run's first event) and the log context."""
        key = str(env.id)
        with (
            _tracer.start_as_current_span(
                f"{self.spec.durable} handle {env.type}",
                context=extract_context(msg.headers),
                kind=trace.SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.consumer.group.name": self.spec.durable,
                    "messaging.message.id": key,
                    "messaging.batch.message_count": count,
                    # The event's region (the process may serve several).
                    "echo.region": env.region,
                },
            ),
            structlog.contextvars.bound_contextvars(
                event_id=key, event_type=env.type, region=env.region
            ),
        ):
            yield

    async def _record_in_inbox(self, session: AsyncSession, ids: list[str]) -> set[str]:
        """Insert the batch's event ids into the inbox; return those not seen before.

        One statement, `INSERT ... ON CONFLICT DO NOTHING RETURNING event_id`, so ids already
        there (redeliveries) come back missing, and the rows are written with the batch. The
        statement is built once and given the rows as parameters (SQLAlchemy's cached
        "insertmanyvalues" path): a multi-row `.values([...])` is compiled afresh every batch.
        """
        unique = list(dict.fromkeys(ids))
        now = datetime.now(UTC)
        rows = [{"consumer": self.spec.durable, "event_id": k, "processed_at": now} for k in unique]
        result = await session.execute(self._inbox_insert(), rows)
        return set(result.scalars())

    def _inbox_insert(self) -> Any:
        if self._inbox_statement is None:
            insert = pg_insert if self.db.is_postgres else sqlite_insert
            self._inbox_statement = (
                insert(self.inbox)
                .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
                .returning(self.inbox.c.event_id)
            )
        return self._inbox_statement

    async def _fail(self, msg: Msg, env: Envelope[Any], exc: Exception) -> None:
        if isinstance(exc, PermanentEventError):
            log.error(
                "event_rejected",
                event_id=str(env.id),
                region=env.region,
                type=env.type,
                reason=str(exc)[:300],
            )
            EVENTS_HANDLED.labels(self.spec.durable, env.type, "rejected", env.region).inc()
            await msg.term()
        else:
            delivered = msg.metadata.num_delivered if msg.metadata else 1
            backoff = self.spec.backoff_seconds
            delay = backoff[min(delivered - 1, len(backoff) - 1)]
            log.warning(
                "event_retry",
                event_id=str(env.id),
                region=env.region,
                type=env.type,
                error=type(exc).__name__,
                delivered=delivered,
                delay=delay,
            )
            EVENTS_HANDLED.labels(self.spec.durable, env.type, "retried", env.region).inc()
            await msg.nak(delay=delay)
