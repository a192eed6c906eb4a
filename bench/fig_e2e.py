"""Figure 4: end-to-end latency at a steady 200 requests/s, accepted -> visible in reporting.

`POST /v1/cases` (2 cases processes on two ports, as in figure 1) at a steady rate (open loop:
request i is sent at start + i/rate whatever the answers), through the outbox relay, JetStream
and the reporting consumer (1 process) into reporting's read model, all on PostgreSQL.
"Accepted" is when the 201 arrives; "visible" is when reporting's committed read model counts
the case (reporting's database polled every 10 ms for the programme's case ids: what its
`/v1/reports/programmes/{id}` reads; the report itself is checked once at the end, not polled,
since building it loads the region's whole model). Each case is matched by its id (from the 201
body) to the moment it became visible. A case not visible within 30 s after the load counts as
an infinite latency. Requests without an answer 10 s after the last was sent are abandoned (an
overloaded service); cases they created still appear in reporting and are counted apart.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid

import asyncpg
import httpx

from bench.fig_ingest import CLEAN_FIELDS
from bench.harness import Options, Row, percentile, repeat, say
from bench.loadgen import Request, open_loop
from bench.profile import profiled
from bench.stack import Stack, envelope, programme_created, token, wire

RATE = 200.0
POLL = 0.01
#: Seconds after the load ends that a case may take to become visible before it counts as lost.
VISIBLE_WITHIN = 30.0
IDS_SQL = "SELECT id FROM rm_cases WHERE programme_id = $1 AND submitted_at IS NOT NULL"


async def run(stack: Stack, opts: Options) -> list[Row]:
    await stack.reset_streams()
    cases_db, reporting_db = await stack.database(), await stack.database()
    cases = []
    for tag in ("-a", "-b"):
        cases.append(stack.service("cases", cases_db, tag=f"-e2e{tag}"))
        await cases[-1].wait_ready()
    reporting = stack.service("reporting", reporting_db, tag="-e2e")
    await reporting.wait_ready()
    ports = [p.port for p in cases]
    admin = {"authorization": f"Bearer {token('hub-admin')}"}
    headers = {"content-type": "application/json", **admin}
    seconds = opts.pick(10.0, 15.0)
    total = int(RATE * seconds)
    programmes = [uuid.uuid4() for _ in range(opts.repeats)]
    for pid in programmes:
        subject, body, hdrs = wire(envelope(programme_created(pid)))
        await stack.js.publish(subject, body, headers=hdrs)
    db = await asyncpg.connect(reporting_db.replace("postgresql+asyncpg://", "postgresql://", 1))

    async def visible(pid: uuid.UUID) -> int:
        return len(await db.fetch(IDS_SQL, pid))

    async def warm(pid: uuid.UUID) -> int:
        """One case per cases process, until both know the programme; then until reporting
        shows them. Returns how many cases of `pid` are visible before the run."""
        body = json.dumps({"programme_id": str(pid), "fields": CLEAN_FIELDS}).encode()
        created = 0
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=10) as client:
            for port in ports:
                while True:
                    got = await client.post(
                        f"http://127.0.0.1:{port}/v1/cases", content=body, headers=headers
                    )
                    if got.status_code == 201:
                        created += 1
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"cases never accepted programme {pid}: {got.text}")
                    await asyncio.sleep(0.2)
        while await visible(pid) < created:
            if time.monotonic() > deadline:
                raise TimeoutError("reporting never showed the warm-up cases")
            await asyncio.sleep(0.05)
        return created

    async def once(i: int) -> dict[str, float]:
        pid = programmes[i]
        base = await warm(pid)
        body = json.dumps({"programme_id": str(pid), "fields": CLEAN_FIELDS}).encode()

        def make(_: int) -> Request:
            return "POST", "/v1/cases", body, headers

        seen: dict[str, float] = {}
        before = {str(r["id"]) for r in await db.fetch(IDS_SQL, pid)}
        target: dict[str, float] = {}
        wanted: set[str] = set()

        async def poll() -> None:
            while True:
                ids = [str(r["id"]) for r in await db.fetch(IDS_SQL, pid)]
                now = time.perf_counter()
                for case_id in ids:
                    seen.setdefault(case_id, now)
                if target and (wanted <= seen.keys() or now > target["deadline"]):
                    return
                await asyncio.sleep(POLL)

        poller = asyncio.create_task(poll())
        async with profiled(opts.profile_to(i), "e2e", [*cases, reporting]):
            load = await open_loop(
                ports, make, rate=RATE, total=total, max_seconds=seconds + 1, keep_bodies=True
            )
        accepted = {
            json.loads(body)["id"]: at
            for at, body in zip(load.accepted_at, load.bodies, strict=True)
        }
        wanted.update(accepted)
        target.update(deadline=time.perf_counter() + VISIBLE_WITHIN)
        await poller
        latencies = [
            max(0.0, seen[case_id] - at) if case_id in seen else math.inf
            for case_id, at in accepted.items()
        ]
        unseen = sum(1 for x in latencies if math.isinf(x))
        visible_now = len(seen.keys() - before)
        async with httpx.AsyncClient(timeout=30) as client:
            report = await client.get(
                f"http://127.0.0.1:{reporting.port}/v1/reports/programmes/{pid}", headers=admin
            )
        in_report = report.json().get("totals", {}).get("cases_submitted", -1)
        # Abandoned requests may still commit cases after the poll stopped: at least, not equal.
        report_ok = report.status_code == 200 and in_report >= base + visible_now
        if not report_ok:
            say(f"    report check: {report.status_code}, cases_submitted={in_report}")
        say(f"    load: {load.summary()}; not visible in time: {unseen}")
        return {
            "p50": percentile(latencies, 50) * 1000,
            "p99": percentile(latencies, 99) * 1000,
            "accepted_rps": load.throughput,
            "http_p99": load.p(99),
            "unseen": float(unseen),
            "report_ok": float(report_ok),
            "abandoned_but_visible": float(visible_now - (load.ok - unseen)),
        }

    try:
        got = await repeat(opts.repeats, once, say, "e2e")
    finally:
        await db.close()
    note = (
        f"{RATE:.0f} req/s offered for {seconds:.0f}s (open loop) to 2 cases processes;"
        f" visibility polled every {POLL * 1000:.0f} ms; report check ok in"
        f" {int(sum(got['report_ok']))}/{opts.repeats} runs; unseen {got['unseen']};"
        f" visible from abandoned requests {got['abandoned_but_visible']}"
    )
    return [
        Row(
            "e2e",
            "POST /v1/cases -> reporting p50",
            "ms",
            values=got["p50"],
            max_value=100,
            goal="< 100 ms",
            notes=[note],
        ),
        Row("e2e", "... p99", "ms", values=got["p99"], max_value=500, goal="< 500 ms"),
        Row(
            "e2e",
            "accepted rate",
            "req/s",
            values=got["accepted_rps"],
            baseline=[RATE] * opts.repeats,
            baseline_name="offered",
            min_ratio=0.99,
            goal="the offered 200/s",
            extra={"http_p99_ms": got["http_p99"]},
        ),
    ]
