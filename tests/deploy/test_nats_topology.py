"""The superhub cluster and two regional leaves, started from the checked-in configs on loopback.

Three superhub servers (JetStream domain `hub`, R3 streams) and the `ontario` and `shanghai` leaf
nodes (their own domains and accounts), with the users and exports of `deploy/nats`. Everything
is counted: what must arrive is waited for (bounded), and what must not arrive is checked by
exact message and consumer counts once the traffic that had to arrive has arrived.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated

import nats
import pytest
from echo_contracts.topology import (
    CONSUMERS,
    DLQ_STREAM,
    NETWORK_STREAM,
    SUPERHUB_STREAM,
    consumer_for,
    network_durable,
    network_subjects,
    stream_name,
)
from faststream import AckPolicy, Context
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from faststream.nats.message import NatsBatchMessage
from faststream.security import SASLPlaintext
from nats.aio.client import Client
from nats.errors import NoServersError
from nats.js import JetStreamContext
from nats.js.api import ExternalStream, StreamConfig, StreamSource, SubjectTransform

from tests.deploy.natstopology import (
    LoopbackTopology,
    apply_region,
    apply_superhub,
    wait_until_ready,
)

pytestmark = pytest.mark.integration

REGIONS = ("ontario", "shanghai")
TEMPLATE = "echo.network.scheduling.template_published"
WAIT = 45.0  # bound of every wait for replication (sources retry on their own schedule)


@dataclass
class Errors:
    """Asynchronous errors a connection received (permission violations arrive this way)."""

    seen: list[str] = field(default_factory=list)

    async def record(self, exc: Exception) -> None:
        self.seen.append(str(exc))

    def violations(self) -> list[str]:
        return [e for e in self.seen if "permissions violation" in e.lower()]


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.1)


async def subject_counts(js: JetStreamContext, stream: str) -> dict[str, int]:
    info = await js.stream_info(stream, subjects_filter=">")
    return dict(info.state.subjects or {})


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackTopology]:
    topo = LoopbackTopology(tmp_path_factory.mktemp("nats-topology"), regions=REGIONS)
    try:
        topo.start()
        yield topo
    finally:
        topo.stop()


@dataclass
class Admins:
    hub: Client
    leaves: dict[str, Client]

    @property
    def hub_js(self) -> JetStreamContext:
        # R3 stream creation right after the cluster formed can take longer than the 5 s default
        return self.hub.jetstream(timeout=30)

    def js(self, region: str) -> JetStreamContext:
        return self.leaves[region].jetstream(timeout=15)


async def connect(url: str, errors: Errors | None = None) -> Client:
    return await nats.connect(
        url,
        error_cb=(errors or Errors()).record,
        connect_timeout=5,
        max_reconnect_attempts=60,
        reconnect_time_wait=0.5,
        allow_reconnect=True,
    )


@pytest.fixture(scope="module")
async def admins(topology: LoopbackTopology) -> AsyncIterator[Admins]:
    """Operators' connections, with the streams and consumers provisioned as ops would."""
    hub = await connect(topology.hub_url("admin", topology.password("hub", "admin")))
    leaves = {
        r: await connect(topology.leaf_url(r, "admin", topology.password(r, "admin")))
        for r in REGIONS
    }
    found = Admins(hub, leaves)
    hub_admin = topology.hub_url("admin", topology.password("hub", "admin"))
    report = await apply_superhub(hub_admin, list(REGIONS), 3)
    readers = [
        f"consumer {NETWORK_STREAM}/{network_durable(consumer_for('reporting', 'projections'), r)}"
        for r in REGIONS
    ]
    assert report.created == [
        *(f"stream {s}" for s in (SUPERHUB_STREAM, NETWORK_STREAM, DLQ_STREAM)),
        *readers,
    ]
    again = await apply_superhub(hub_admin, list(REGIONS), 3)  # idempotent
    assert (again.created, again.updated, len(again.unchanged)) == ([], [], 3 + len(readers))
    for region in REGIONS:
        url = topology.leaf_url(region, "admin", topology.password(region, "admin"))
        report = await apply_region(url, region, 1)
        assert len(report.created) == 2 + len(CONSUMERS)
        again = await apply_region(url, region, 1)  # idempotent
        assert (again.created, again.updated, len(again.unchanged)) == (
            [],
            [],
            2 + len(CONSUMERS),
        )
    yield found
    for client in [hub, *leaves.values()]:
        await client.close()


async def test_hub_streams_are_replicated_three_times(admins: Admins) -> None:
    for name in (SUPERHUB_STREAM, NETWORK_STREAM):
        info = await admins.hub_js.stream_info(name)
        assert info.config.num_replicas == 3
        assert info.cluster is not None and info.cluster.leader is not None
        assert len(info.cluster.replicas or []) == 2
    network = await admins.hub_js.stream_info(NETWORK_STREAM)
    assert len(network.config.sources or []) == sum(len(network_subjects(r)) for r in REGIONS)


async def test_template_published_at_the_superhub_reaches_both_regions(
    topology: LoopbackTopology, admins: Admins
) -> None:
    publisher = await connect(
        topology.hub_url("scheduling", topology.password("hub", "scheduling"))
    )
    try:
        js = publisher.jetstream()
        msg_id = str(uuid.uuid4())
        first = await js.publish(TEMPLATE, b'{"template": 1}', headers={"Nats-Msg-Id": msg_id})
        again = await js.publish(TEMPLATE, b'{"template": 1}', headers={"Nats-Msg-Id": msg_id})
        assert (first.stream, first.domain, bool(again.duplicate)) == (SUPERHUB_STREAM, "hub", True)
    finally:
        await publisher.close()

    for region in REGIONS:

        async def arrived(region: str = region) -> bool:
            counts = await subject_counts(admins.js(region), stream_name(region))
            return counts.get(TEMPLATE, 0) >= 1

        await wait_for(arrived, f"the template in {stream_name(region)}")
        counts = await subject_counts(admins.js(region), stream_name(region))
        assert counts == {TEMPLATE: 1}, f"exactly one template and nothing else in {region}"
        # and it waits for the region's scheduling service on its durable
        inbox = await admins.js(region).consumer_info(stream_name(region), "scheduling-inbox")
        assert inbox.num_pending == 1


async def test_network_events_reach_the_superhub_and_regional_events_stay_home(
    topology: LoopbackTopology, admins: Admins
) -> None:
    network = "echo.{}.attendance.registration_confirmed"
    regional = "echo.{}.attendance.participant_registered"
    for region in REGIONS:
        client = await connect(
            topology.leaf_url(region, "attendance", topology.password(region, "attendance"))
        )
        try:
            js = client.jetstream()
            for subject in (regional.format(region), network.format(region)):
                ack = await js.publish(subject, b"{}", headers={"Nats-Msg-Id": str(uuid.uuid4())})
                assert (ack.stream, ack.domain) == (stream_name(region), region)
        finally:
            await client.close()

    async def both_arrived() -> bool:
        counts = await subject_counts(admins.hub_js, NETWORK_STREAM)
        return all(counts.get(network.format(r), 0) >= 1 for r in REGIONS)

    await wait_for(both_arrived, "both regions' network events in ECHO_NETWORK")
    assert await subject_counts(admins.hub_js, NETWORK_STREAM) == {
        network.format("ontario"): 1,
        network.format("shanghai"): 1,
    }
    # the superhub's reporting user reads them (and nothing else is there to read)
    reporting = await connect(topology.hub_url("reporting", topology.password("hub", "reporting")))
    try:
        sub = await reporting.jetstream().pull_subscribe(">", stream=NETWORK_STREAM)
        msgs = await sub.fetch(10, timeout=3)
        assert sorted(m.subject for m in msgs) == sorted(network.format(r) for r in REGIONS)
        # and the per-region durables provisioned for it give each region's events, once
        js = reporting.jetstream()
        for region in REGIONS:
            durable = network_durable(consumer_for("reporting", "projections"), region)
            bound = await js.pull_subscribe("", durable=durable, stream=NETWORK_STREAM)
            got = await bound.fetch(10, timeout=3)
            assert [m.subject for m in got] == [network.format(region)]
            for m in got:
                await m.ack()
    finally:
        await reporting.close()
    # Nothing of ontario in shanghai, and the other way round.
    for region, other in (("ontario", "shanghai"), ("shanghai", "ontario")):
        counts = await subject_counts(admins.js(region), stream_name(region))
        assert not [s for s in counts if s.startswith(f"echo.{other}.")]
        assert counts[network.format(region)] == 1
        assert counts[regional.format(region)] == 1


async def test_nobody_can_source_what_a_region_does_not_export(
    topology: LoopbackTopology, admins: Admins
) -> None:
    """Shanghai sourcing ontario, and even the superhub sourcing a regional subject, get nothing.

    Each probe stream also sources something it IS allowed to (the control): once the control
    has arrived, the forbidden source has had the same chance, and must have produced nothing.
    """
    regional = "echo.ontario.attendance.participant_registered"
    allowed = "echo.ontario.attendance.registration_confirmed"
    hub_probe = StreamConfig(
        name="PROBE_HUB_REGIONAL",
        sources=[
            StreamSource(
                name=stream_name("ontario"),
                subject_transforms=[SubjectTransform(src=subject, dest=subject)],
                external=ExternalStream(
                    api="$JS.ontario.API", deliver=f"deliver.HUB.{stream_name('ontario')}"
                ),
            )
            for subject in (regional, allowed)
        ],
    )
    shanghai_probe = StreamConfig(
        name="PROBE_SHANGHAI_STEALS",
        sources=[
            StreamSource(
                name=stream_name("ontario"),
                subject_transforms=[SubjectTransform(src=subject, dest=subject)],
                external=ExternalStream(api="$JS.ontario.API", deliver="deliver.SHANGHAI.x"),
            )
            for subject in (regional, allowed)
        ]
        + [
            StreamSource(
                name=NETWORK_STREAM,
                subject_transforms=[SubjectTransform(src=allowed, dest=allowed)],
                external=ExternalStream(api="$JS.hub.API", deliver="deliver.SHANGHAI.y"),
            ),
            StreamSource(  # the control: templates are exported to every region
                name=SUPERHUB_STREAM,
                subject_transforms=[SubjectTransform(src=TEMPLATE, dest=TEMPLATE)],
                external=ExternalStream(
                    api="$JS.hub.API", deliver=f"deliver.SHANGHAI.{SUPERHUB_STREAM}"
                ),
            ),
        ],
    )
    await admins.hub_js.add_stream(hub_probe)
    await admins.js("shanghai").add_stream(shanghai_probe)
    try:

        async def hub_control() -> bool:
            return (await subject_counts(admins.hub_js, hub_probe.name or "")).get(allowed, 0) >= 1

        async def shanghai_control() -> bool:
            counts = await subject_counts(admins.js("shanghai"), shanghai_probe.name or "")
            return counts.get(TEMPLATE, 0) >= 1

        await wait_for(hub_control, "the allowed network subject in the hub's probe")
        await wait_for(shanghai_control, "the template in shanghai's probe")
        assert await subject_counts(admins.hub_js, hub_probe.name or "") == {allowed: 1}
        assert await subject_counts(admins.js("shanghai"), shanghai_probe.name or "") == {
            TEMPLATE: 1
        }
    finally:
        await admins.hub_js.delete_stream(hub_probe.name or "")
        await admins.js("shanghai").delete_stream(shanghai_probe.name or "")


async def test_a_region_service_user_is_confined_to_its_region_and_context(
    topology: LoopbackTopology, admins: Admins
) -> None:
    errors = Errors()
    attendance = await connect(
        topology.leaf_url("shanghai", "attendance", topology.password("shanghai", "attendance")),
        errors,
    )
    reporting_errors = Errors()
    reporting = await connect(
        topology.leaf_url("shanghai", "reporting", topology.password("shanghai", "reporting")),
        reporting_errors,
    )
    before = await subject_counts(admins.js("shanghai"), stream_name("shanghai"))
    try:
        # what it may do: publish its own context's events in its own region
        ack = await attendance.jetstream().publish(
            "echo.shanghai.attendance.attendance_recorded", b"{}"
        )
        assert ack.stream == stream_name("shanghai")
        # what it may not: four attempts, four violations
        await attendance.subscribe("echo.ontario.>")
        await attendance.subscribe("echo.network.>")
        await attendance.publish("echo.ontario.attendance.registration_confirmed", b"{}")
        await attendance.publish("echo.shanghai.cases.case_submitted", b"{}")
        await reporting.publish("echo.shanghai.reporting.report_generated", b"{}")
        await attendance.flush(timeout=5)
        await reporting.flush(timeout=5)

        async def all_refused() -> bool:
            return len(errors.violations()) >= 4 and len(reporting_errors.violations()) >= 1

        await wait_for(all_refused, "five permission violations", timeout=10)
        assert len(errors.violations()) == 4, errors.seen
        assert len(reporting_errors.violations()) == 1, reporting_errors.seen
        assert sum('subscription to "echo.' in v.lower() for v in errors.violations()) == 2
    finally:
        await attendance.close()
        await reporting.close()
    after = await subject_counts(admins.js("shanghai"), stream_name("shanghai"))
    recorded = "echo.shanghai.attendance.attendance_recorded"
    assert after.get(recorded, 0) == before.get(recorded, 0) + 1
    assert sum(after.values()) == sum(before.values()) + 1
    assert not [s for s in after if s.startswith("echo.ontario.")]


async def test_a_service_reads_only_its_own_durable(
    topology: LoopbackTopology, admins: Admins
) -> None:
    errors = Errors()
    cases = await connect(
        topology.leaf_url("ontario", "cases", topology.password("ontario", "cases")), errors
    )
    try:
        js = cases.jetstream()
        own = await js.pull_subscribe_bind("cases-inbox", stream=stream_name("ontario"))
        msgs = await own.fetch(10, timeout=5)
        # cases-inbox filters registration_confirmed: the one published earlier in this module
        assert [m.subject for m in msgs] == ["echo.ontario.attendance.registration_confirmed"]
        for msg in msgs:
            await msg.ack()
        other = await js.pull_subscribe_bind("notifications-inbox", stream=stream_name("ontario"))
        with pytest.raises((nats.errors.TimeoutError, TimeoutError)):
            await other.fetch(1, timeout=2)

        async def refused() -> bool:
            return len(errors.violations()) >= 1

        await wait_for(refused, "a violation for the other service's durable", timeout=10)
        assert all("notifications-inbox" in v for v in errors.violations())
    finally:
        await cases.close()
    info = await admins.js("ontario").consumer_info(stream_name("ontario"), "notifications-inbox")
    assert info.num_pending >= 1 and info.delivered.consumer_seq == 0


async def test_credentials_of_one_region_open_nothing_in_another(
    topology: LoopbackTopology,
) -> None:
    url = topology.leaf_url("shanghai", "cases", topology.password("ontario", "cases"))
    with pytest.raises((NoServersError, nats.errors.Error, OSError)):
        await nats.connect(url, connect_timeout=3, max_reconnect_attempts=0, allow_reconnect=False)


async def test_a_region_cut_off_catches_up_with_nothing_lost_or_doubled(
    topology: LoopbackTopology, admins: Admins
) -> None:
    shanghai = topology.leaves["shanghai"]
    shanghai.stop()
    publisher = await connect(
        topology.hub_url("scheduling", topology.password("hub", "scheduling"))
    )
    try:
        js = publisher.jetstream()
        for n in range(3):
            await js.publish(TEMPLATE, b"{}", headers={"Nats-Msg-Id": f"offline-{n}"})
    finally:
        await publisher.close()
    shanghai.start()
    wait_until_ready(shanghai, WAIT)

    async def caught_up() -> bool:
        try:
            counts = [await subject_counts(admins.js(r), stream_name(r)) for r in REGIONS]
        except (TimeoutError, nats.errors.Error):
            return False  # the admin connection is still reconnecting
        return all(c.get(TEMPLATE, 0) >= 4 for c in counts)

    await wait_for(caught_up, "both regions holding the three templates published meanwhile")
    for region in REGIONS:
        counts = await subject_counts(admins.js(region), stream_name(region))
        assert counts[TEMPLATE] == 4, f"{region}: one template before, three while cut off"


async def test_a_service_consumes_through_faststream_with_only_its_own_permissions(
    topology: LoopbackTopology, admins: Admins
) -> None:
    """The runtime's way of binding a durable (FastStream, `declare=False`) needs no more than
    the service user is granted: scheduling publishes, attendance's durable receives."""
    spec = consumer_for("attendance")
    received: list[str] = []
    errors = Errors()
    broker = NatsBroker(
        topology.leaves["ontario"].url,
        security=SASLPlaintext(
            username="attendance", password=topology.password("ontario", "attendance")
        ),
        error_cb=errors.record,
        logger=None,
    )

    async def on_batch(message: Annotated[NatsBatchMessage, Context("message")]) -> None:
        for raw in message.raw_message:
            received.append(raw.subject)
            await raw.ack()

    broker.subscriber(
        stream=JStream(stream_name("ontario"), declare=False),
        durable=spec.durable,
        config=ConsumerConfig(
            durable_name=spec.durable,
            filter_subjects=spec.filter_subjects("ontario"),
            max_deliver=spec.max_deliver,
            ack_wait=spec.ack_wait_seconds,
            max_ack_pending=spec.max_ack_pending,
        ),
        pull_sub=PullSub(batch_size=10, timeout=0.5, batch=True),
        ack_policy=AckPolicy.MANUAL,
    )(on_batch)
    await broker.start()
    scheduling = await connect(
        topology.leaf_url("ontario", "scheduling", topology.password("ontario", "scheduling"))
    )
    try:
        ack = await scheduling.jetstream().publish(
            "echo.ontario.scheduling.programme_created", b"{}"
        )
        assert ack.stream == stream_name("ontario")

        async def consumed() -> bool:
            return len(received) >= 1

        await wait_for(consumed, "attendance-inbox receiving programme_created", timeout=20)
        assert received == ["echo.ontario.scheduling.programme_created"]
        assert errors.violations() == []
    finally:
        await broker.stop()
        await scheduling.close()
    info = await admins.js("ontario").consumer_info(stream_name("ontario"), spec.durable)
    assert (info.num_ack_pending, info.num_pending) == (0, 0)


async def test_the_superhub_keeps_collecting_when_the_stream_leader_crashes(
    topology: LoopbackTopology, admins: Admins
) -> None:
    """ECHO_NETWORK is R3: SIGKILL its leader, and a region's network event still lands once."""
    first = topology.hubs[0]  # the leaves and the admin connection use this one: keep it
    info = await admins.hub_js.stream_info(NETWORK_STREAM)
    assert info.cluster is not None
    if info.cluster.leader == first.name:
        await admins.hub.request(
            f"$JS.API.STREAM.LEADER.STEPDOWN.{NETWORK_STREAM}", b"", timeout=10
        )

    async def led_elsewhere() -> bool:
        cluster = (await admins.hub_js.stream_info(NETWORK_STREAM)).cluster
        return cluster is not None and cluster.leader not in (None, first.name)

    await wait_for(led_elsewhere, "an ECHO_NETWORK leader other than hub-1", timeout=20)
    cluster = (await admins.hub_js.stream_info(NETWORK_STREAM)).cluster
    assert cluster is not None
    victim = next(h for h in topology.hubs if h.name == cluster.leader)
    victim.kill()
    subject = "echo.shanghai.attendance.credit_awarded"
    try:
        client = await connect(
            topology.leaf_url("shanghai", "attendance", topology.password("shanghai", "attendance"))
        )
        try:
            await client.jetstream().publish(subject, b"{}", headers={"Nats-Msg-Id": "credit-1"})
        finally:
            await client.close()

        async def arrived() -> bool:
            try:
                counts = await subject_counts(admins.hub_js, NETWORK_STREAM)
            except (TimeoutError, nats.errors.Error):
                return False  # electing a new leader
            return counts.get(subject, 0) >= 1

        # Observed: the new leader re-creates its cross-domain source consumers ~30 s later.
        await wait_for(arrived, "the event in ECHO_NETWORK after the leader crashed", timeout=90)
        assert (await subject_counts(admins.hub_js, NETWORK_STREAM))[subject] == 1
    finally:
        victim.start()
        wait_until_ready(victim, WAIT)

    async def all_current() -> bool:
        cluster = (await admins.hub_js.stream_info(NETWORK_STREAM)).cluster
        replicas = cluster.replicas if cluster else None
        return bool(replicas) and all(r.current for r in replicas or [])

    await wait_for(all_current, "the restarted server catching up")
    assert (await subject_counts(admins.hub_js, NETWORK_STREAM))[subject] == 1
