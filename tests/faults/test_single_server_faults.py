"""Faults 1-6 of issue 9 during one load of more than 10,000 events, HTTP in, reporting out.

scheduling (behind a TCP proxy to NATS) and reporting run as processes on a PostgreSQL of the
test's own, against one nats-server on file storage. While programmes are posted, the test:
1. kills reporting (the consumer) with SIGKILL three times, each while it holds unacked messages;
2. freezes the acks to scheduling's relay until the stream has stored what it published, then
   kills scheduling: published, never marked sent;
3. kills nats-server and keeps it down 5 s (same store, same port);
4. restarts PostgreSQL;
5. publishes a poison message on a subject reporting consumes;
6. freezes nats-server with SIGSTOP for 8 s.
The restart policy restarts only the services the test killed; NATS outages, the PostgreSQL
restart and the freeze are ridden out by the running processes. Then every accepted programme
must be in reporting's read model exactly once (count and sum of minutes, per programme and in
total), the stream must hold each event once, the poison message must be in the DLQ with its
delivery count, and a doubled row must be caught by the same check (negative control).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import sqlalchemy as sa
from echo_contracts import SessionScheduled, subject_for
from echo_contracts.topology import consumer_for, stream_name
from echo_hub.dlq import dead_letters
from echo_reporting.adapters.tables import sessions as rm_sessions
from echo_runtime.natsserver import free_port
from echo_runtime.provision import apply_topology
from echo_runtime.testing import token
from echo_scheduling.adapters.tables import metadata as scheduling_tables
from sqlalchemy.ext.asyncio import create_async_engine

from tests.faults.ledger import (
    ConsumerWatch,
    ProgrammeLoad,
    check_counts,
    count_read_model,
    holds,
    outbox_backlog,
    wait_for,
)
from tests.faults.rig import (
    REGION,
    EmbeddedPostgres,
    FreezableProxy,
    RestartPolicy,
    ServiceProcess,
    expected_nats_error,
    logged,
    nats_node,
    service_env,
    sigstop_for,
    wait_ready,
    wait_restarted,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(330)]

STREAM = stream_name(REGION)
REPORTING = consumer_for("reporting", "projections").durable
MIN_EVENTS = 10_200
#: Events a second: the faults take 100-130 s here, so the load spans them all and ends near
#: MIN_EVENTS (it goes on until then when they take less).
RATE = 100.0


async def _outbox_sent_after(database_url: str, event_ids: set[str], when: datetime) -> int:
    """How many of `event_ids` scheduling's outbox marked sent after `when` (republished)."""
    outbox = scheduling_tables.tables["outbox"]
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(outbox.c.event_id, outbox.c.sent_at).where(
                        outbox.c.event_id.in_(sorted(event_ids))
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    return sum(1 for _, sent_at in rows if sent_at is not None and sent_at > when)


async def test_faults_1_to_6_during_ten_thousand_events(
    tmp_path: Path, figures: Callable[[str], None]
) -> None:
    started = time.monotonic()
    logs = tmp_path / "logs"
    logs.mkdir()
    pg = EmbeddedPostgres()
    nats_server = nats_node(free_port(), tmp_path / "nats", logs / "nats.log")
    nats_server.start()
    proxy = FreezableProxy(nats_server.port)
    policy = RestartPolicy()
    nc = await nats.connect(
        nats_server.url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        ping_interval=2,
        error_cb=expected_nats_error,
    )
    stop_watch = asyncio.Event()
    try:
        await proxy.start()
        js = nc.jetstream()
        await apply_topology(js, [REGION])
        db = {s: await pg.create_database(s) for s in ("scheduling", "reporting")}
        procs = {}
        for service, nats_url in (("scheduling", proxy.url), ("reporting", nats_server.url)):
            port = free_port()
            env = service_env(
                service, nats_url=nats_url, database_url=db[service], port=port, data_dir=tmp_path
            )
            procs[service] = ServiceProcess(service, env, port, logs / f"{service}.log")
            procs[service].start()
            policy.add(procs[service])
        for proc in procs.values():
            await asyncio.to_thread(wait_ready, proc)
        policy.start()
        scheduling, reporting = procs["scheduling"], procs["reporting"]

        watch = ConsumerWatch(js, STREAM, REPORTING)
        watcher = asyncio.create_task(watch.run(stop_watch))  # stopped by `stop_watch`
        load = ProgrammeLoad(scheduling.url, run_id=uuid.uuid4().hex[:8], rate=RATE)
        loader = asyncio.create_task(load.run())
        faults: list[str] = []

        async def standing() -> str:
            try:
                messages = (await js.stream_info(STREAM)).state.messages
            except Exception as exc:
                messages = type(exc).__name__  # type: ignore[assignment]
            backlog = await outbox_backlog(db["scheduling"])
            seen = await count_read_model(db["reporting"])
            return (
                f"accepted {load.ledger.expected_events} events (unanswered"
                f" {len(load.ledger.unknown)}), stream {messages}, outbox backlog {backlog},"
                f" read model {seen.total_sessions} sessions, load running {not loader.done()}"
            )

        async def settle(seconds: float = 2.0) -> None:
            print(
                f"[{time.monotonic() - started:5.0f}s] {faults[-1] if faults else 'start'}:"
                f" {await standing()}",
                flush=True,
            )
            await asyncio.sleep(seconds)

        await settle(3)

        # 1. kill -9 the consuming service three times, each time with messages in its hands.
        landed_mid_batch = 0
        for _ in range(3):
            landed_mid_batch += await watch.in_flight()
            pid = policy.kill("reporting")
            await asyncio.to_thread(wait_restarted, reporting, pid)
            await settle(0)
        faults.append(f"reporting kill -9 x3 ({landed_mid_batch} mid-batch)")

        # 2. kill -9 the outbox relay between publishing and marking sent.
        before = (await js.stream_info(STREAM)).state.last_seq
        proxy.freeze()

        async def stored_unacked() -> int:
            last = (await js.stream_info(STREAM)).state.last_seq
            return last if last > before else 0

        await wait_for(stored_unacked, timeout=30, interval=0.1)
        await asyncio.sleep(0.5)  # let the batch in flight land
        killed_at = datetime.now(UTC)
        pid = policy.kill("scheduling")
        proxy.thaw()
        last = (await js.stream_info(STREAM)).state.last_seq
        stored_ids = set()
        for seq in range(before + 1, last + 1):
            msg = await js.get_msg(STREAM, seq)
            if msg.headers and "Nats-Msg-Id" in msg.headers:
                stored_ids.add(msg.headers["Nats-Msg-Id"])
        await asyncio.to_thread(wait_restarted, scheduling, pid)
        faults.append(f"relay kill -9 with {len(stored_ids)} events stored but unacked")
        await settle(0)

        # 3. kill -9 nats-server, keep it down 5 s, start it again on the same store.
        nats_server.kill()
        await asyncio.sleep(5)
        backlog_nats_down = await outbox_backlog(db["scheduling"])  # accepted, not published
        await asyncio.to_thread(nats_server.start)
        faults.append("nats-server kill -9, down 5 s")
        await settle(3)

        # 4. restart PostgreSQL under both services.
        retries_before = logged(reporting.log, "event_retry")
        await asyncio.to_thread(pg.restart)
        faults.append("postgresql restart")
        await settle()

        # 5. a poison message on a subject reporting consumes.
        poison_subject = subject_for(REGION, SessionScheduled)
        ack = await js.publish(
            poison_subject,
            b'{"this is": "not an event"}',
            headers={"Nats-Msg-Id": f"poison-{uuid.uuid4()}"},
        )
        poison_seq = ack.seq
        faults.append("poison message")
        await settle()

        # 6. freeze nats-server (SIGSTOP) for 8 s: every client is connected to it.
        assert nats_server.process is not None
        frozen = asyncio.create_task(asyncio.to_thread(sigstop_for, nats_server.process.pid, 8.0))
        await asyncio.sleep(6)
        backlog_frozen = await outbox_backlog(db["scheduling"])  # no acks from a frozen server
        await frozen
        retries_after_db_restart = logged(reporting.log, "event_retry") - retries_before
        faults.append("nats-server SIGSTOP 8 s")

        # Keep the load on until it has produced enough events, then stop it.
        await wait_for(
            lambda: holds(load.ledger.expected_events >= MIN_EVENTS or loader.done()),
            timeout=180,
            interval=0.5,
            describe=standing,
        )
        load.stopping.set()
        ledger = await loader
        reconciled = await load.reconcile()
        expected = ledger.accepted
        want_sessions = sum(p.sessions for p in expected.values())

        async def caught_up() -> int:
            seen = await count_read_model(db["reporting"])
            return seen.total_sessions if seen.total_sessions >= want_sessions else 0

        await wait_for(caught_up, timeout=150, describe=standing)
        await asyncio.sleep(1)  # anything still in flight would land now and show as too many
        seen = await count_read_model(db["reporting"])
        problems = check_counts(expected, seen)
        assert problems == [], problems

        # The stream holds every event exactly once (the relay's republish was deduplicated).
        events = sum(p.events for p in expected.values())
        state = (await js.stream_info(STREAM)).state
        assert state.messages == events + 1, (state.messages, events)  # + the poison message
        by_subject = (await js.stream_info(STREAM, subjects_filter=poison_subject)).state.subjects
        assert by_subject == {poison_subject: want_sessions + 1}

        # The report a user reads says the same.
        report = await _region_totals(reporting.url)
        assert (report["programmes"], report["sessions_total"]) == (len(expected), want_sessions)

        # The poison message is in the DLQ with its delivery count; everything else flowed.
        letters = [x for x in await dead_letters(js) if x.stream_seq == poison_seq]
        assert len(letters) == 1, await dead_letters(js)
        assert letters[0].consumer == REPORTING and (letters[0].deliveries or 0) >= 1
        all_letters = await dead_letters(js)
        assert len(all_letters) == 1, all_letters

        # The faults landed: messages came again, and only what the test killed restarted.
        async def all_acked() -> bool:
            info = await js.consumer_info(STREAM, REPORTING)
            return (info.num_pending, info.num_ack_pending) == (0, 0)

        # A batch committed but not acked before a kill comes back after the ack wait (10 s).
        await wait_for(all_acked, timeout=60, describe=standing)
        redelivered = await watch.redeliveries()
        assert redelivered > 0 or watch.max_redelivered > 0
        # Rows stored before the kill, never marked sent: the restarted relay published them
        # again (and the stream, counted above, deduplicated them by Nats-Msg-Id).
        republished = await _outbox_sent_after(db["scheduling"], stored_ids, killed_at)
        assert republished > 0, (len(stored_ids), republished)
        assert ledger.refused == {}, ledger.refused  # every request was valid
        assert backlog_nats_down > 0 and backlog_frozen > 0  # the outages held events back
        assert dict(policy.unexpected) == {}
        assert dict(policy.restarts) == {"reporting": 3, "scheduling": 1}

        # Negative control: one session counted twice must fail the same check.
        await _double_count_one_session(db["reporting"])
        doubled = check_counts(expected, await count_read_model(db["reporting"]))
        assert len(doubled) == 2 and "expected" in doubled[0] and "totals" in doubled[1], doubled
        report_after = await _region_totals(reporting.url)
        assert report_after["sessions_total"] == want_sessions + 1

        figures(
            f"events={events} programmes={len(expected)} (requests {ledger.sent},"
            f" unanswered {len(ledger.unknown)}, of which committed {reconciled})"
            f" sessions={want_sessions}"
            f" minutes={seen.total_minutes} faults=[{'; '.join(faults)}]"
            f" republished-after-relay-kill={republished}/{len(stored_ids)}"
            f" outbox-backlog nats-down={backlog_nats_down} sigstop={backlog_frozen}"
            f" handler-retries-after-db-restart={retries_after_db_restart}"
            f" redeliveries={redelivered} (max in flight redelivered {watch.max_redelivered})"
            f" dlq={len(all_letters)} (deliveries {letters[0].deliveries})"
            f" restarts={dict(policy.restarts)} unexpected={sum(policy.unexpected.values())}"
            f" negative-control='{doubled[-1]}' time={time.monotonic() - started:.0f}s"
        )
        stop_watch.set()
        await watcher
    finally:
        stop_watch.set()
        policy.stop()
        await nc.close()
        await proxy.close()
        nats_server.close()
        pg.close()


async def _region_totals(reporting_url: str) -> dict[str, Any]:
    """The region report's totals, as a user reads them."""
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(
            f"{reporting_url}/v1/reports/regions/{REGION}", headers=token("hub-admin", REGION)
        )
    response.raise_for_status()
    totals: dict[str, Any] = response.json()["totals"]
    return totals


async def _double_count_one_session(database_url: str) -> None:
    """Copy one session row under a new id: the read model now counts one session twice."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            row = (await conn.execute(sa.select(rm_sessions).limit(1))).mappings().one()
            await conn.execute(sa.insert(rm_sessions).values({**row, "id": uuid.uuid4()}))
    finally:
        await engine.dispose()
