"""Figure 7: report latency and reporting memory at 10k, 100k (and 1M) events in one region.

For each size the `ontario` stream gets the rebuild figure's event mix (per programme: created,
10 weekly sessions, 10 cases submitted, 79 attendance records), with sessions in 2025 so they
are held; the read models are written by the real `python -m echo_reporting rebuild` into a new
PostgreSQL database (the projection's own rows, no hand-made shape; the raw publish path fills
the stream at ~25k events/s). Then `python -m echo_reporting serve` with its consumer off (so
nothing else competes for the CPU) answers, one request at a time on one keep-alive connection,
`GET /v1/reports/programmes/{id}`, `/v1/reports/regions/ontario`, `/v1/reports/network` and
`/dashboard` (network-admin token), N times each after one warm-up request, within a time bound.
Reported: p50 and p99 of each, and the service's peak RSS (VmHWM) after the requests.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.fig_rebuild import events, rebuild_command
from bench.harness import Options, Row, percentile, say
from bench.loadgen import Connection
from bench.stack import REGION, REGIONS, Stack, publish_all, token

START = datetime(2025, 1, 6, 17, 0, tzinfo=UTC)
#: Requests per endpoint (after a warm-up) and the seconds each endpoint may take in all.
REQUESTS, BOUND = 20, 120.0
TARGETS = {"programme": 50.0, "region": 200.0, "network": 300.0, "dashboard": 300.0}


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024
    return float("nan")


async def _timed(conn: Connection, path: str, headers: dict[str, str], n: int) -> list[float]:
    status, body = await conn.request("GET", path, headers=headers)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
    took: list[float] = []
    started = time.perf_counter()
    while len(took) < n and time.perf_counter() - started < BOUND:
        t0 = time.perf_counter()
        status, _ = await conn.request("GET", path, headers=headers)
        took.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
    return took


async def run(stack: Stack, opts: Options) -> list[Row]:
    rows: list[Row] = []
    n = 5 if opts.quick else REQUESTS
    auth = {"authorization": f"Bearer {token('network-admin')}"}
    for size in opts.report_sizes:
        await stack.reset_streams()
        messages = list(events(size, START))
        programme = json.loads(messages[0][1])["data"]["programme_id"]
        seconds = await publish_all(stack.js, messages)
        del messages
        say(f"  {size:,} events published in {seconds:.1f}s")
        database = await stack.database()
        env = dict(os.environ)
        env.update(
            {
                "REPORTING_NATS_URL": stack.nats.url,
                "REPORTING_DATABASE_URL": database,
                "REPORTING_REGIONS": ",".join(REGIONS),
            }
        )
        proc, wall = await asyncio.to_thread(
            rebuild_command, env, stack.log_dir / f"reports-rebuild-{size}.log"
        )
        if proc.returncode != 0:
            raise RuntimeError(f"rebuild of {size} events failed; see the log")
        say(f"  rebuilt in {wall:.1f}s")
        service = stack.service(
            "reporting", database, extra_env={"REPORTING_MESSAGING": "false"}, tag=f"-{size}"
        )
        await service.wait_ready()
        conn = Connection(service.port)
        paths = {
            "programme": f"/v1/reports/programmes/{programme}",
            "region": f"/v1/reports/regions/{REGION}",
            "network": "/v1/reports/network",
            "dashboard": "/dashboard",
        }
        try:
            for name, path in paths.items():
                took = await _timed(conn, path, auth, n)
                p50, p99 = percentile(took, 50), percentile(took, 99)
                say(f"  {size:,} {name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(took)} requests)")
                rows.append(
                    Row(
                        "reports",
                        f"{name} p99 @{size:,} events",
                        "ms",
                        values=[p99],
                        max_value=TARGETS[name] if size >= 1_000_000 else None,
                        goal=f"< {TARGETS[name]:.0f} ms at 1M",
                        notes=[f"p50 {p50:.1f} ms over {len(took)} requests"],
                        extra={"p50": p50, "requests": len(took)},
                    )
                )
        finally:
            await conn.close()
        rss = _peak_rss_mb(service.pid)
        rows.append(
            Row(
                "reports",
                f"reporting peak RSS @{size:,} events",
                "MB",
                values=[rss],
                max_value=200.0 if size >= 1_000_000 else None,
                goal="< 200 MB at 1M",
            )
        )
        stack.stop_processes()
    return rows
