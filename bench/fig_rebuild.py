"""Figure 5: reporting rebuild of N events, against a raw pull loop over the same stream.

The stream gets N events once (per programme: created, 10 sessions, 10 cases submitted and 79
attendance records; published with `publish_async`, untimed). Each run executes the real command,
`python -m echo_reporting rebuild` (a process, PostgreSQL), and takes the events/s it reports
(its own clock: replay, fold and the write of the read models; the interpreter's start-up
excluded, shown separately as wall time). The baseline is nats-py in this process: a pull
consumer with no acks (a rebuild's ordered consumer acks nothing) on the same subjects,
`fetch(1000)` and `json.loads` of each body until all N were read.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from echo_contracts import (
    AttendanceRecorded,
    CaseSubmitted,
    consumer_for,
    stream_name,
)
from echo_contracts.events import AttendanceSource
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bench.harness import Options, Row, repeat, say
from bench.stack import (
    REGION,
    REGIONS,
    Stack,
    envelope,
    programme_created,
    publish_all,
    session_scheduled,
    wire,
)

STREAM = stream_name(REGION)
REPORTED = re.compile(r"rebuilt from (\d+) events in ([\d.]+)s \((\d+) events/s\)")


def events(
    count: int, start: datetime = datetime(2027, 1, 4, 17, 0, tzinfo=UTC)
) -> Iterator[tuple[str, bytes, dict[str, str]]]:
    """`count` events of programmes, sessions, cases and attendance, in a plausible order."""
    made = 0
    while made < count:
        pid = uuid.uuid4()
        batch = [programme_created(pid, start.date())]
        sessions = [uuid.uuid4() for _ in range(10)]
        for week, sid in enumerate(sessions):
            batch.append(session_scheduled(sid, pid, start + timedelta(weeks=week)))
        for _ in range(10):
            batch.append(
                CaseSubmitted(
                    case_id=uuid.uuid4(),
                    programme_id=pid,
                    presenter_id=uuid.uuid4(),
                    template_id="echo-default",
                    template_version=1,
                )
            )
        for n in range(79):
            batch.append(
                AttendanceRecorded(
                    attendance_id=uuid.uuid4(),
                    session_id=sessions[n % 10],
                    programme_id=pid,
                    participant_id=uuid.uuid4(),
                    attended_seconds=4800,
                    session_seconds=5400,
                    source=AttendanceSource.ZOOM,
                )
            )
        for event in batch[: count - made]:
            yield wire(envelope(event))
            made += 1


def rebuild_command(
    env: dict[str, str], log_path: Path
) -> tuple[subprocess.CompletedProcess[bytes], float]:
    """`python -m echo_reporting rebuild`, its output kept in the log; and its wall time."""
    started = time.perf_counter()
    with open(log_path, "ab") as log:
        proc = subprocess.run(
            [sys.executable, "-m", "echo_reporting", "rebuild"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            timeout=3600,
            check=False,
        )
        log.write(proc.stdout)
    return proc, time.perf_counter() - started


async def run(stack: Stack, opts: Options) -> list[Row]:
    await stack.reset_streams()
    count = opts.rebuild_events
    published = 0.0
    chunk: list[tuple[str, bytes, dict[str, str]]] = []
    for message in events(count):
        chunk.append(message)
        if len(chunk) == 10_000:
            published += await publish_all(stack.js, chunk)
            chunk.clear()
    published += await publish_all(stack.js, chunk)
    say(f"  published {count} events in {published:.1f}s ({count / published:.0f}/s)")
    database = await stack.database()
    subjects = consumer_for("reporting", "projections").filter_subjects(REGION)
    env = dict(os.environ)
    env.update(
        {
            "REPORTING_NATS_URL": stack.nats.url,
            "REPORTING_DATABASE_URL": database,
            "REPORTING_REGIONS": ",".join(REGIONS),
        }
    )
    log_path = stack.log_dir / "rebuild.log"

    async def raw_loop(i: int) -> float:
        name = f"bench-rebuild-raw-{i}"
        await stack.js.add_consumer(
            STREAM,
            config=ConsumerConfig(
                durable_name=name,
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.NONE,
                filter_subjects=subjects,
            ),
        )
        sub = await stack.js.pull_subscribe_bind(name, stream=STREAM)
        done = 0
        started = time.perf_counter()
        while done < count:
            try:
                msgs = await sub.fetch(1000, timeout=1)
            except NatsTimeoutError:
                continue
            for msg in msgs:
                json.loads(msg.data)
            done += len(msgs)
        seconds = time.perf_counter() - started
        await sub.unsubscribe()
        await stack.js.delete_consumer(STREAM, name)
        return count / seconds

    async def once(i: int) -> dict[str, float]:
        proc, wall = await asyncio.to_thread(rebuild_command, env, log_path)
        found = REPORTED.search(proc.stdout.decode(errors="replace"))
        if proc.returncode != 0 or found is None:
            raise RuntimeError(f"rebuild failed ({proc.returncode}); see {log_path}")
        # events/s as the command computed it: its seconds are printed rounded to 0.1 s
        rebuilt, rate = int(found.group(1)), float(found.group(3))
        if rebuilt != count:
            raise RuntimeError(f"the rebuild folded {rebuilt} events, not {count}")
        return {
            "rebuild": rate,
            "wall": wall,
            "wall_rate": rebuilt / wall,
            "raw": await raw_loop(i),
        }

    got = await repeat(opts.repeats, once, say, "rebuild")
    return [
        Row(
            "rebuild",
            f"reporting rebuild of {count:,} events",
            "ev/s",
            values=got["rebuild"],
            baseline=got["raw"],
            baseline_name="raw pull loop",
            min_ratio=0.4,
            goal=">= 40% of baseline" + ("" if count >= 1_000_000 else " (issue: at 1M events)"),
            notes=[
                f"rate from the command's own clock; wall time with interpreter start-up"
                f" {', '.join(f'{w:.1f}s' for w in got['wall'])}"
            ],
            extra={"wall_seconds": got["wall"], "wall_rate": got["wall_rate"]},
        )
    ]
