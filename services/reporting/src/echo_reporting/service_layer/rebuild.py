"""Drop every read model and rebuild it by replaying each region's stream from the start.

The events are folded in memory with the same reducer the live consumer uses, then written in one
transaction (old rows deleted, new rows inserted in batches): readers see the old numbers until the
new ones are complete. Redelivered or duplicate events change nothing (the merges are idempotent).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nats
from echo_contracts import InvalidEvent, consumer_for, decode, stream_name
from echo_runtime.database import Database, migrate
from echo_runtime.logging import get_logger
from echo_runtime.settings import ServiceSettings
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from echo_reporting.adapters.repository import SqlaReadModelRepository
from echo_reporting.domain.model import KINDS, ReadModel

log = get_logger(__name__)

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
) -> None:
    """Fold every event of one region's stream (ordered consumer, from the first message)."""
    js = nc.jetstream()
    stream = stream_name(region)
    spec = consumer_for("reporting", "projections")
    try:
        stored = (await js.stream_info(stream)).state.messages
    except NotFoundError:
        progress(f"{region}: no stream {stream}, skipped")
        return
    if not stored:
        progress(f"{region}: 0/0 events, done")
        return
    sub = await js.subscribe(
        "",
        stream=stream,
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.ALL,
        config=ConsumerConfig(filter_subjects=spec.filter_subjects(region)),
        pending_msgs_limit=200_000,
    )
    done = total = 0
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=idle_timeout)
            except TimeoutError:
                break  # nothing (more) matches the filter
            done += 1
            remaining = msg.metadata.num_pending
            total = done + remaining
            try:
                model.apply(decode(msg.data))
                result.events += 1
            except InvalidEvent:
                result.skipped += 1
            if done % every == 0:
                progress(f"{region}: {done}/{total} events")
            if remaining == 0:
                break
        progress(f"{region}: {done}/{total} events, done")
    finally:
        await sub.unsubscribe()


async def write_read_models(
    database: Database, model: ReadModel, batch_size: int
) -> dict[str, int]:
    """Replace every read-model row with `model`'s, in one transaction, `batch_size` rows a time."""
    counts: dict[str, int] = {}
    async with database.transaction() as session:
        repo = SqlaReadModelRepository(session)
        await repo.clear()
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
            for region in settings.regions:
                await replay_region(nc, region, model, progress, result)
        finally:
            await nc.close()
        batch = getattr(settings, "rebuild_batch_size", 2000)
        result.rows = await write_read_models(database, model, batch)
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
