"""Figure 6: memory of the idle embedded platform, as `echo-hub dev` (`make run`) starts it.

`echo_hub.dev.Platform` itself: its own nats-server (free port), the topology provisioned, the
five services as processes on SQLite files in a temporary directory, all ready; no demo data, no
load. After 5 s of idling, RSS (VmRSS) of each process is sampled once per run, 2 s apart. The
platform total is the sum of the six RSS values (shared pages counted in each process, so an
upper bound); the PSS sum (shared pages divided among the processes) is kept in the JSON.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from echo_hub.dev import SERVICES, Platform
from echo_runtime.natsserver import free_port

from bench.harness import Options, Row, repeat, say
from bench.stack import REGIONS, Stack, pss_mb, rss_mb

SERVICE_GOAL_MB = 150.0
PLATFORM_GOAL_MB = 1024.0


async def run(stack: Stack, opts: Options) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="echo-bench-platform-") as tmp:
        data_dir = Path(tmp)
        (data_dir / "logs").mkdir()
        platform = Platform(regions=list(REGIONS), data_dir=data_dir, base_port=free_port())
        try:
            platform.start_nats()
            await platform.provision()
            platform.start_services()
            await asyncio.to_thread(platform.wait_ready)
            await asyncio.sleep(5)
            assert platform.nats is not None and platform.nats.process is not None
            pids = {s: p.pid for s, p in platform.processes.items()}
            pids["nats-server"] = platform.nats.process.pid

            async def once(i: int) -> dict[str, float]:
                if i:
                    await asyncio.sleep(2)
                values = {name: rss_mb(pid) for name, pid in pids.items()}
                values["total"] = sum(values.values())
                values["total_pss"] = sum(pss_mb(pid) for pid in pids.values())
                return values

            got = await repeat(opts.repeats, once, say, "memory")
        finally:
            await asyncio.to_thread(platform.stop)
    rows = [
        Row(
            "memory",
            f"idle {service} RSS",
            "MB",
            values=got[service],
            max_value=SERVICE_GOAL_MB,
            goal="< 150 MB",
        )
        for service in SERVICES
    ]
    rows.append(Row("memory", "idle nats-server RSS", "MB", values=got["nats-server"]))
    rows.append(
        Row(
            "memory",
            "embedded platform + NATS (RSS sum)",
            "MB",
            values=got["total"],
            max_value=PLATFORM_GOAL_MB,
            goal="< 1 GB",
            notes=[
                "echo_hub.dev.Platform on SQLite, idle 5 s after ready; RSS sum is an upper bound"
            ],
            extra={"pss_sum_mb": got["total_pss"]},
        )
    )
    return rows
