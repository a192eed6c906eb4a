"""Provision streams, consumers and the DLQ idempotently (`echo-hub streams apply`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from echo_contracts import stream_name
from echo_contracts.topology import (
    CONSUMERS,
    ConsumerSpec,
    StreamSpec,
    dlq_stream,
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
            external=ExternalStream(api=s.external_api) if s.external_api else None,
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


def consumer_config(spec: ConsumerSpec, region: str) -> ConsumerConfig:
    """The durable pull consumer of a service in one region's stream."""
    return ConsumerConfig(
        durable_name=spec.durable,
        name=spec.durable,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=spec.ack_wait_seconds,
        max_deliver=spec.max_deliver,
        max_ack_pending=spec.max_ack_pending,
        filter_subjects=spec.filter_subjects(region),
    )


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
        and len(current.sources or []) == len(config.sources or [])
        and {s.name for s in current.sources or []} == {s.name for s in config.sources or []}
    ):
        report.unchanged.append(f"stream {spec.name}")
        return
    await js.update_stream(config)
    report.updated.append(f"stream {spec.name}")


async def apply_consumer(
    js: JetStreamContext, spec: ConsumerSpec, region: str, report: ApplyReport
) -> None:
    name = f"consumer {stream_name(region)}/{spec.durable}"
    config = consumer_config(spec, region)
    try:
        info = await js.consumer_info(stream_name(region), spec.durable)
    except NotFoundError:
        await js.add_consumer(stream_name(region), config=config)
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
    await js.add_consumer(stream_name(region), config=config)
    report.updated.append(name)


async def apply_topology(
    js: JetStreamContext,
    regions: list[str],
    *,
    network: bool = True,
    replicas: int = 1,
    services: list[str] | None = None,
) -> ApplyReport:
    """Create or update every region stream, the network stream, the DLQ and the consumers."""
    report = ApplyReport()
    if network:
        await apply_stream(js, superhub_stream(replicas=replicas), report)
    for region in regions:
        await apply_stream(js, region_stream(region, replicas=replicas), report)
    if network:
        await apply_stream(js, network_stream(regions, replicas=replicas), report)
    await apply_stream(js, dlq_stream(replicas=replicas), report)
    for spec in CONSUMERS:
        if services is not None and spec.service not in services:
            continue
        for region in regions:
            await apply_consumer(js, spec, region, report)
    return report
