"""Figure: console page render latency on the embedded default with demo data (issue 16).

`echo_hub.dev.Platform` as `make run` starts it (nats-server, five services and the console as
processes on SQLite, demo data seeded). A demo coordinator and a demo spoke sign in; each run
fetches their pages one after another (programmes, a programme's calendar, a run sheet, the
wizard, the review queue, reports; the spoke's programmes, cases, credits and preferences), each
page a full server render that calls the services with the person's token. p50 and p95 of the
wall time per page over the run; the goal is p95 < 300 ms.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
from pathlib import Path

import httpx
from echo_hub.dev import Platform, seed_demo_data
from echo_runtime.auth import mint_dev_token
from echo_runtime.natsserver import free_port
from echo_runtime.settings import DEV_SECRET

from bench.harness import Options, Row, repeat, say
from bench.stack import REGIONS, Stack

P95_GOAL_MS = 300.0


def _signed_in(base: str, who: str) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=True, timeout=30)
    page = client.get("/sign-in").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    client.post("/sign-in/demo", data={"csrf": csrf.group(1), "who": who, "next": "/"})
    return client


def _pages(client: httpx.Client) -> list[str]:
    listing = client.get("/programmes").text
    programme = re.search(r'href="(/programmes/[0-9a-f-]{36})"', listing)
    assert programme is not None, "no demo programme"
    calendar = client.get(programme.group(1)).text
    session = re.search(r'href="(/sessions/[0-9a-f-]{36})"', calendar)
    paths = ["/programmes", programme.group(1)]
    return paths + ([session.group(1)] if session else [])


def _measure(base: str, rounds: int) -> list[float]:
    coordinator = _signed_in(base, "ontario:hub-admin")
    spoke = _signed_in(base, "ontario:spoke0")
    plan = [(coordinator, p) for p in _pages(coordinator)]
    plan += [(coordinator, p) for p in ("/programmes/new", "/review", "/reports", "/deliveries")]
    plan += [(spoke, p) for p in ("/programmes", "/me/cases", "/me/credits", "/me/preferences")]
    for client, path in plan:  # warm-up: first calls open connections and fill caches
        client.get(path).raise_for_status()
    took: list[float] = []
    for _ in range(rounds):
        for client, path in plan:
            t0 = time.perf_counter()
            client.get(path).raise_for_status()
            took.append((time.perf_counter() - t0) * 1000)
    coordinator.close()
    spoke.close()
    return took


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(stack: Stack, opts: Options) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="echo-bench-console-") as tmp:
        data_dir = Path(tmp)
        (data_dir / "logs").mkdir()
        platform = Platform(regions=list(REGIONS), data_dir=data_dir, base_port=free_port())
        try:
            platform.start_nats()
            await platform.provision()
            platform.start_services()
            platform.start_console()
            await asyncio.to_thread(platform.wait_ready)
            token = mint_dev_token(DEV_SECRET, roles=["network-admin"], regions=["*"])
            await asyncio.to_thread(seed_demo_data, platform, token)
            rounds = opts.pick(5, 20)

            async def once(_: int) -> dict[str, float]:
                took = await asyncio.to_thread(_measure, platform.url("console"), rounds)
                return {"p50": _quantile(took, 0.5), "p95": _quantile(took, 0.95)}

            got = await repeat(opts.repeats, once, say, "console")
        finally:
            await asyncio.to_thread(platform.stop)
    note = "coordinator and spoke pages of the demo data, one request at a time, after warm-up"
    return [
        Row("console", "page render p50", "ms", values=got["p50"]),
        Row(
            "console",
            "page render p95",
            "ms",
            values=got["p95"],
            max_value=P95_GOAL_MS,
            goal="< 300 ms",
            notes=[note],
        ),
    ]
