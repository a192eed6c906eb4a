"""Drop every read model and rebuild it by replaying each region's stream from the start.

The events are folded in memory with the same reducer the live consumer uses, then written in one
transaction (old rows deleted, new rows inserted in batches): readers see the old numbers until the
new ones are complete. Redelivered or duplicate events change nothing (the merges are idempotent).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from echo_contracts import EVENT_TYPES, Envelope, InvalidEvent, consumer_for, decode
from echo_runtime.consumer import binding
from echo_runtime.database import Database, migrate
from echo_runtime.logging import get_logger
from echo_runtime.settings import ServiceSettings
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from echo_reporting.adapters.repository import SqlaReadModelRepository
from echo_reporting.domain.model import KINDS, ReadModel

log = get_logger(__name__)

_TYPE = re.compile(rb'"type":"([^"]+)"')
_ENVELOPES: dict[str, Any] = {}


def fast_decode(body: bytes) -> Envelope[Any]:
    """`decode`, validating the JSON in one pass when the body is in the platform's own layout."""
    found = _TYPE.search(body)
    cls = EVENT_TYPES.get(found.group(1).decode()) if found else None
    if cls is not None:
        model = _ENVELOPES.get(cls.event_type())
        if model is None:
            model = _ENVELOPES.setdefault(cls.event_type(), Envelope[cls])  # type: ignore[valid-type]
        try:
            return model.model_validate_json(body)  # type: ignore[no-any-return]
        except ValidationError:
            pass  # let `decode` say precisely what is wrong
    return decode(body)


MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


@dataclass
class RebuildResult:
    events: int = 0
    skipped: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def replay_region(
    nc: NatsClient,
    region: str,
    model: ReadModel,
    progress: Callable[[str], None],
    result: RebuildResult,
    *,
    every: int = 10_000,
    idle_timeout: float = 5.0,
    start_seq: int = 1,
    network_view: bool = False,
) -> int:
    """Fold the events of one region's stream from `start_seq` (ordered consumer).

    Returns the last stream sequence it read (`start_seq - 1` when there was nothing).
    """
    js = nc.jetstream()
    spec = consumer_for("reporting", "projections")
    where = binding(spec, region, network_view=network_view)
    stream = where.stream
    try:
        state = (await js.stream_info(stream)).state
    except NotFoundError:
        progress(f"{region}: no stream {stream}, skipped")
        return start_seq - 1
    if not state.messages or state.last_seq < start_seq:
        if start_seq == 1:
            progress(f"{region}: 0/0 events, done")
        return start_seq - 1
    counts = {"done": 0, "total": 0, "last": start_seq - 1}
    finished = asyncio.Event()

    async def on_message(msg: Msg) -> None:
        counts["done"] += 1
        counts["last"] = msg.metadata.sequence.stream
        remaining = msg.metadata.num_pending
        counts["total"] = counts["done"] + remaining
        try:
            model.apply(fast_decode(msg.data))
            result.events += 1
        except InvalidEvent:
            result.skipped += 1
        if counts["done"] % every == 0:
            progress(f"{region}: {counts['done']}/{counts['total']} events")
        if remaining == 0:
            finished.set()

    sub = await js.subscribe(
        "",
        stream=stream,
        cb=on_message,
        ordered_consumer=True,
        config=ConsumerConfig(
            filter_subjects=where.filter_subjects,
            deliver_policy=DeliverPolicy.ALL if start_seq == 1 else DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=None if start_seq == 1 else start_seq,
        ),
        pending_msgs_limit=200_000,
    )
    try:
        while not finished.is_set():
            before = counts["done"]
            try:
                await asyncio.wait_for(finished.wait(), idle_timeout)
            except TimeoutError:
                if counts["done"] == before:
                    break  # nothing (more) matches the filter
        if start_seq == 1:
            progress(f"{region}: {counts['done']}/{counts['total']} events, done")
        elif counts["done"]:
            progress(f"{region}: {counts['done']} more events arrived during the replay, applied")
    finally:
        await sub.unsubscribe()
    return counts["last"]


async def write_read_models(
    database: Database,
    model: ReadModel,
    batch_size: int,
    catch_up: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, int]:
    """Replace every read-model row with `model`'s, in one transaction, `batch_size` rows a time.

    The live consumer's writes wait while this transaction holds the read models, and `catch_up`
    folds what it wrote since the replay; whatever it writes afterwards lands on the new rows
    (merges are idempotent), so nothing that happened during a rebuild is lost.
    """
    counts: dict[str, int] = {}
    async with database.transaction() as session:
        repo = SqlaReadModelRepository(session)
        await repo.lock()
        await repo.clear()
        if catch_up is not None:
            await catch_up()
        for kind in KINDS:
            rows = list(model.rows[kind].values())
            for start in range(0, len(rows), batch_size):
                await repo.insert_many(kind, rows[start : start + batch_size])
            counts[kind] = len(rows)
    return counts


async def rebuild(
    settings: ServiceSettings, progress: Callable[[str], None] = print
) -> RebuildResult:
    """Drop the read models and replay every region stream from the start; print progress."""
    started = time.perf_counter()
    result = RebuildResult()
    database = Database(settings.database_url)
    try:
        await migrate(database, MIGRATIONS)
        nc = await nats.connect(
            settings.nats_url,
            user=settings.nats_user,
            password=settings.nats_password,
            user_credentials=settings.nats_creds,
            name="echo-reporting-rebuild",
        )
        model = ReadModel()
        try:
            last = {
                region: await replay_region(
                    nc, region, model, progress, result, network_view=settings.network_view
                )
                for region in settings.regions
            }

            async def catch_up() -> None:
                for region, seq in last.items():
                    await replay_region(
                        nc,
                        region,
                        model,
                        progress,
                        result,
                        start_seq=seq + 1,
                        idle_timeout=1.0,
                        network_view=settings.network_view,
                    )

            batch = getattr(settings, "rebuild_batch_size", 2000)
            result.rows = await write_read_models(database, model, batch, catch_up)
        finally:
            await nc.close()
        progress("read models written: " + ", ".join(f"{k}={n}" for k, n in result.rows.items()))
    finally:
        await database.dispose()
    result.seconds = time.perf_counter() - started
    log.info("rebuild_done", events=result.events, skipped=result.skipped, seconds=result.seconds)
    progress(
        f"rebuilt from {result.events} events in {result.seconds:.1f}s"
        f" ({result.events_per_second:.0f} events/s)"
    )
    return result
