"""Faults 7 and 8 of issue 9 in a three-node JetStream cluster (R3 streams), under load.

scheduling and reporting run as processes (SQLite) connected to the cluster. While programmes are
posted over HTTP, the test:
7. kills the stream leader with SIGKILL: a new leader takes over and events keep flowing; the
   killed node is started again (the platform's restart policy) and catches up;
8. kills two of the three nodes (quorum lost): a publish fails loudly (counted), requests are
   still accepted and their events wait in the outbox; the nodes come back and the backlog
   drains. Then every accepted programme is in reporting's read model exactly once (count and
   sum) and the stream holds every event once. No service is restarted in this test.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import nats
import pytest
from echo_contracts.topology import consumer_for, stream_name
from echo_runtime.natsserver import free_port
from echo_runtime.provision import apply_topology
from nats.js import JetStreamContext

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
    NatsCluster,
    RestartPolicy,
    ServiceProcess,
    expected_nats_error,
    logged,
    service_env,
    wait_ready,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

STREAM = stream_name(REGION)
REPORTING = consumer_for("reporting", "projections").durable
#: A subject of the region's stream that no consumer reads: where the probes of quorum loss go.
PROBE_SUBJECT = f"echo.{REGION}.faults.probe"
MIN_EVENTS = 2_000
RATE = 60.0


async def _provision(js: JetStreamContext) -> None:
    """Create the R3 topology once the cluster has elected its meta leader."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        try:
            await apply_topology(js, [REGION], replicas=3)
            return
        except Exception:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _leader(js: JetStreamContext) -> str | None:
    try:
        info = await asyncio.wait_for(js.stream_info(STREAM), 3)
    except Exception:
        return None
    return info.cluster.leader if info.cluster else None


async def _all_current(js: JetStreamContext) -> bool:
    """The stream has a leader and both followers are current."""
    try:
        info = await asyncio.wait_for(js.stream_info(STREAM), 3)
    except Exception:
        return False
    cluster = info.cluster
    if cluster is None or not cluster.leader:
        return False
    replicas = cluster.replicas or []
    return len(replicas) == 2 and all(r.current and not r.offline for r in replicas)


async def test_faults_7_and_8_leader_kill_and_quorum_loss(
    tmp_path: Path, figures: Callable[[str], None]
) -> None:
    started = time.monotonic()
    logs = tmp_path / "logs"
    logs.mkdir()
    cluster = NatsCluster(tmp_path / "cluster")
    cluster.start()
    policy = RestartPolicy()
    nc = await nats.connect(
        cluster.urls,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        ping_interval=2,
        error_cb=expected_nats_error,
    )
    stop_watch = asyncio.Event()
    try:
        js = nc.jetstream(timeout=3)
        await _provision(js)
        db = {s: f"sqlite+aiosqlite:///{tmp_path / s}.db" for s in ("scheduling", "reporting")}
        procs = {}
        for n, service in enumerate(("scheduling", "reporting")):
            port = free_port()
            env = service_env(
                service,
                nats_url=cluster.nodes[n].url,  # the others are discovered from the cluster
                database_url=db[service],
                port=port,
                data_dir=tmp_path,
            )
            procs[service] = ServiceProcess(service, env, port, logs / f"{service}.log")
            procs[service].start()
            policy.add(procs[service])
        for proc in procs.values():
            await asyncio.to_thread(wait_ready, proc)
        policy.start()  # it must have nothing to do here: no service dies

        watch = ConsumerWatch(js, STREAM, REPORTING)
        watcher = asyncio.create_task(watch.run(stop_watch))
        load = ProgrammeLoad(
            procs["scheduling"].url, run_id=uuid.uuid4().hex[:8], rate=RATE, max_sessions=60
        )
        loader = asyncio.create_task(load.run())

        def progress(what: str) -> None:
            print(
                f"[{time.monotonic() - started:5.0f}s] {what}:"
                f" {load.ledger.expected_events} events accepted",
                flush=True,
            )

        await asyncio.sleep(4)

        # 7. kill -9 the stream leader; a follower takes over and the events keep coming.
        old_leader = await _leader(js)
        assert old_leader is not None
        seq_at_kill = (await js.stream_info(STREAM)).state.last_seq
        cluster.node(old_leader).kill()
        progress(f"killed leader {old_leader}")

        async def new_leader() -> str | None:
            leader = await _leader(js)
            return leader if leader and leader != old_leader else None

        took_over = await wait_for(new_leader, timeout=60, interval=0.5)

        async def flowing() -> bool:
            try:
                return (await js.stream_info(STREAM)).state.last_seq > seq_at_kill
            except Exception:
                return False

        await wait_for(flowing, timeout=60, interval=0.5)
        await asyncio.sleep(3)
        await asyncio.to_thread(cluster.node(old_leader).start)
        await wait_for(lambda: _all_current(js), timeout=90, interval=0.5)
        progress(f"{took_over} leads; {old_leader} back and current")

        # 8. lose quorum: two of three down. Publishing must fail loudly; the outbox keeps rows.
        survivor = cluster.nodes[0]
        lost = [n for n in cluster.nodes if n is not survivor]
        relay_retries_before = logged(procs["scheduling"].log, "outbox_relay_retry")
        for node in lost:
            node.kill()
        progress(f"quorum lost ({', '.join(n.name for n in lost)} down)")
        failed_publishes = 0
        probes = 3
        for n in range(probes):
            try:
                await js.publish(
                    PROBE_SUBJECT, b"probe", timeout=2, headers={"Nats-Msg-Id": f"probe-{n}"}
                )
            except Exception as exc:  # timeout, no responders, no quorum: all are loud
                failed_publishes += 1
                print(f"publish during quorum loss failed: {type(exc).__name__}", flush=True)
        accepted_before = len(load.ledger.accepted)
        backlog = await wait_for(lambda: outbox_backlog(db["scheduling"]), timeout=30, interval=0.5)
        # Long enough for the relay to try, fail and back off more than once.
        await asyncio.sleep(8)
        accepted_during = len(load.ledger.accepted) - accepted_before
        backlog = max(backlog, await outbox_backlog(db["scheduling"]))
        relay_failures = (
            logged(procs["scheduling"].log, "outbox_relay_retry") - relay_retries_before
        )
        for node in lost:
            await asyncio.to_thread(node.start)
        await wait_for(lambda: _all_current(js), timeout=90, interval=0.5)
        progress(f"quorum back, outbox backlog was {backlog}")

        await wait_for(
            lambda: holds(load.ledger.expected_events >= MIN_EVENTS), timeout=120, interval=0.5
        )
        load.stopping.set()
        ledger = await loader
        reconciled = await load.reconcile()
        expected = ledger.accepted
        want_sessions = sum(p.sessions for p in expected.values())
        await wait_for(lambda: _drained(db["scheduling"]), timeout=90, interval=0.5)

        async def caught_up() -> int:
            seen = await count_read_model(db["reporting"])
            return seen.total_sessions if seen.total_sessions >= want_sessions else 0

        await wait_for(caught_up, timeout=120)
        await asyncio.sleep(1)
        seen = await count_read_model(db["reporting"])
        problems = check_counts(expected, seen)
        assert problems == [], problems

        events = sum(p.events for p in expected.values())
        state = (await js.stream_info(STREAM, subjects_filter=">")).state
        subjects = dict(state.subjects or {})
        subjects.pop(PROBE_SUBJECT, None)  # a probe the cluster stored later is not an event
        assert sum(subjects.values()) == events, (subjects, events)
        redelivered = await watch.redeliveries()

        assert failed_publishes == probes
        assert ledger.refused == {}, ledger.refused  # every request was valid
        assert backlog > 0 and accepted_during > 0 and relay_failures > 0
        assert dict(policy.unexpected) == {} and dict(policy.restarts) == {}
        figures(
            f"events={events} programmes={len(expected)} (requests {ledger.sent},"
            f" unanswered {len(ledger.unknown)}, of which committed {reconciled})"
            f" sessions={want_sessions} minutes={seen.total_minutes}"
            f" faults=[leader {old_leader} kill -9 -> {took_over};"
            f" quorum loss {'+'.join(n.name for n in lost)} down]"
            f" failed-publishes={failed_publishes}/{probes} accepted-during-loss={accepted_during}"
            f" outbox-backlog={backlog} relay-retries-logged={relay_failures}"
            f" redeliveries={redelivered}"
            f" (max in flight redelivered {watch.max_redelivered})"
            f" service-restarts={sum(policy.restarts.values())}"
            f" time={time.monotonic() - started:.0f}s"
        )
        stop_watch.set()
        await watcher
    finally:
        stop_watch.set()
        policy.stop()
        await nc.close()
        cluster.stop()


async def _drained(database_url: str) -> bool:
    return await outbox_backlog(database_url) == 0
