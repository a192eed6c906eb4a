"""Provision streams, consumers and the DLQ idempotently (`echo-hub streams apply`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from echo_contracts import stream_name
from echo_contracts.topology import (
    CONSUMERS,
    NETWORK_READERS,
    NETWORK_STREAM,
    ConsumerSpec,
    StreamSpec,
    dlq_stream,
    network_durable,
    network_filter_subjects,
    network_stream,
    region_stream,
    superhub_stream,
)
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    ExternalStream,
    StorageType,
    StreamConfig,
    StreamSource,
    SubjectTransform,
)
from nats.js.errors import NotFoundError


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return (
            [f"created   {n}" for n in self.created]
            + [f"updated   {n}" for n in self.updated]
            + [f"unchanged {n}" for n in self.unchanged]
        )


def stream_config(spec: StreamSpec) -> StreamConfig:
    """The nats-py config of a stream spec (file storage, dedup window, sources)."""
    sources = [
        StreamSource(
            name=s.stream,
            subject_transforms=[SubjectTransform(src=f, dest=f) for f in s.filter_subjects] or None,
            external=(
                ExternalStream(api=s.external_api, deliver=s.deliver_prefix)
                if s.external_api
                else None
            ),
        )
        for s in spec.sources
    ]
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects) or None,
        storage=StorageType.FILE,
        duplicate_window=spec.duplicate_window_seconds,
        num_replicas=spec.replicas,
        max_age=spec.max_age_seconds or None,
        sources=sources or None,
    )


def consumer_config(
    spec: ConsumerSpec, region: str, *, network_view: bool = False
) -> ConsumerConfig:
    """The durable pull consumer of a service in one region's stream, or (`network_view`) the
    superhub reader's durable for that region on `ECHO_NETWORK`."""
    durable = network_durable(spec, region) if network_view else spec.durable
    return ConsumerConfig(
        durable_name=durable,
        name=durable,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=spec.ack_wait_seconds,
        max_deliver=spec.max_deliver,
        max_ack_pending=spec.max_ack_pending,
        filter_subjects=(
            network_filter_subjects(spec, region) if network_view else spec.filter_subjects(region)
        ),
    )


def _sources_key(config: StreamConfig) -> list[tuple[str, ...]]:
    """What identifies the sources of a stream: name, filters, external api and deliver."""
    keys: list[tuple[str, ...]] = []
    for source in config.sources or []:
        filters = sorted(t.src or "" for t in source.subject_transforms or [])
        if source.filter_subject:
            filters.append(source.filter_subject)
        external = source.external
        keys.append(
            (
                source.name or "",
                ",".join(filters),
                (external.api or "") if external else "",
                (external.deliver or "") if external else "",
            )
        )
    return sorted(keys)


async def apply_stream(js: JetStreamContext, spec: StreamSpec, report: ApplyReport) -> None:
    config = stream_config(spec)
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(config)
        report.created.append(f"stream {spec.name}")
        return
    current = info.config
    if (
        sorted(current.subjects or []) == sorted(config.subjects or [])
        and current.duplicate_window == config.duplicate_window
        and _sources_key(current) == _sources_key(config)
    ):
        report.unchanged.append(f"stream {spec.name}")
        return
    await js.update_stream(config)
    report.updated.append(f"stream {spec.name}")


async def apply_consumer(
    js: JetStreamContext,
    spec: ConsumerSpec,
    region: str,
    report: ApplyReport,
    *,
    network_view: bool = False,
) -> None:
    stream = NETWORK_STREAM if network_view else stream_name(region)
    config = consumer_config(spec, region, network_view=network_view)
    durable = config.durable_name or spec.durable
    name = f"consumer {stream}/{durable}"
    try:
        info = await js.consumer_info(stream, durable)
    except NotFoundError:
        await js.add_consumer(stream, config=config)
        report.created.append(name)
        return
    current = info.config
    if (
        sorted(current.filter_subjects or []) == sorted(config.filter_subjects or [])
        and current.max_deliver == config.max_deliver
        and current.ack_wait == config.ack_wait
        and current.max_ack_pending == config.max_ack_pending
    ):
        report.unchanged.append(name)
        return
    await js.add_consumer(stream, config=config)
    report.updated.append(name)


async def apply_topology(
    js: JetStreamContext,
    regions: list[str],
    *,
    network: bool = True,
    regional: bool = True,
    replicas: int = 1,
    services: list[str] | None = None,
    superhub_api: str | None = None,
    superhub_deliver: str | None = None,
    region_apis: dict[str, str] | None = None,
    region_delivers: dict[str, str] | None = None,
) -> ApplyReport:
    """Create or update every region stream, the network stream, the DLQ and the consumers.

    One server (development, compose): the defaults, everything in one JetStream domain.
    A regional leaf: `network=False`, `superhub_api`/`superhub_deliver` name the superhub's
    domain API and the deliver prefix of the templates sourced down. The superhub:
    `regional=False` (no region streams or durables there), `region_apis`/`region_delivers`
    per region for the `network` subjects sourced up into `ECHO_NETWORK`.
    """
    report = ApplyReport()
    if network:
        await apply_stream(js, superhub_stream(replicas=replicas), report)
    if regional:
        for region in regions:
            spec = region_stream(
                region,
                replicas=replicas,
                superhub_api=superhub_api,
                superhub_deliver=superhub_deliver,
            )
            await apply_stream(js, spec, report)
    if network:
        spec = network_stream(
            regions,
            replicas=replicas,
            region_apis=region_apis,
            region_delivers=region_delivers,
        )
        await apply_stream(js, spec, report)
    await apply_stream(js, dlq_stream(replicas=replicas, regions=regions), report)
    if network and not regional:  # the superhub: its readers' durables on ECHO_NETWORK
        for consumer in CONSUMERS:
            if consumer.service not in NETWORK_READERS:
                continue
            if services is not None and consumer.service not in services:
                continue
            for region in regions:
                await apply_consumer(js, consumer, region, report, network_view=True)
    if regional:
        for consumer in CONSUMERS:
            if services is not None and consumer.service not in services:
                continue
            for region in regions:
                await apply_consumer(js, consumer, region, report)
    return report
