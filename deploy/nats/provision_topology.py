"""Provision the multi-region streams across JetStream domains and accounts (idempotent).

`echo-hub streams apply` provisions one server's streams; across the superhub and its leaves two
things must be added that it cannot express yet, and this script adds them:

* each cross-domain source carries `external.deliver`, the prefix the accounts export and import
  (`deliver.<ACCOUNT>.<STREAM>`), besides `external.api`;
* `ECHO_NETWORK` has ONE source per `network` subject of each region. A source with several
  filters asks for `$JS.<domain>.API.CONSUMER.CREATE.<stream>.<name>` without a filter token,
  which the region's pinned exports do not match: it would silently receive nothing.

Run from the repository root with the operator's credentials:

    .venv/bin/python deploy/nats/provision_topology.py superhub --nats tls://admin:PW@hub:4222 \\
        --regions ontario,northern-ireland,shanghai --replicas 3
    .venv/bin/python deploy/nats/provision_topology.py region ontario --nats tls://admin:PW@leaf:4222
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import nats
from echo_contracts.topology import (
    CONSUMERS,
    dlq_stream,
    network_stream,
    region_stream,
    superhub_stream,
)
from echo_runtime.provision import ApplyReport, apply_consumer, stream_config
from nats.js import JetStreamContext
from nats.js.api import ExternalStream, StreamConfig, StreamSource
from nats.js.errors import NotFoundError

HUB_DOMAIN = "hub"
HUB_ACCOUNT = "HUB"


def account_name(region: str) -> str:
    """`northern-ireland` -> `NORTHERN_IRELAND` (as in deploy/nats/generate.py)."""
    return region.upper().replace("-", "_")


def deliver_prefix(consumer_account: str, stream: str) -> str:
    """The deliver subject prefix the generated configs export and import."""
    return f"deliver.{consumer_account}.{stream}"


def region_stream_config(region: str, *, replicas: int = 1) -> StreamConfig:
    """`ECHO_<REGION>` on its leaf, sourcing the superhub's templates from domain `hub`."""
    config = stream_config(
        region_stream(region, replicas=replicas, superhub_api=f"$JS.{HUB_DOMAIN}.API")
    )
    for source in config.sources or []:
        assert source.external is not None
        source.external.deliver = deliver_prefix(account_name(region), source.name or "")
    return config


def network_stream_config(regions: list[str], *, replicas: int = 3) -> StreamConfig:
    """`ECHO_NETWORK` at the superhub: one source per network subject of each region."""
    spec = network_stream(
        regions, replicas=replicas, region_apis={r: f"$JS.{r}.API" for r in regions}
    )
    config = stream_config(spec)
    sources: list[StreamSource] = []
    for source in config.sources or []:
        assert source.external is not None
        for transform in source.subject_transforms or []:
            sources.append(
                StreamSource(
                    name=source.name,
                    subject_transforms=[transform],
                    external=ExternalStream(
                        api=source.external.api,
                        deliver=deliver_prefix(HUB_ACCOUNT, source.name or ""),
                    ),
                )
            )
    config.sources = sources
    return config


async def put_stream(js: JetStreamContext, config: StreamConfig, report: ApplyReport) -> None:
    """Create the stream, or update it to exactly this config."""
    name = config.name or ""
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(config)
        report.created.append(f"stream {name}")
        return
    await js.update_stream(config)
    report.updated.append(f"stream {name}")


async def apply_superhub(js: JetStreamContext, regions: list[str], replicas: int) -> ApplyReport:
    """ECHO_SUPERHUB (templates), ECHO_NETWORK (network subjects of each region), ECHO_DLQ."""
    report = ApplyReport()
    await put_stream(js, stream_config(superhub_stream(replicas=replicas)), report)
    await put_stream(js, network_stream_config(regions, replicas=replicas), report)
    await put_stream(js, stream_config(dlq_stream(replicas=replicas)), report)
    return report


async def apply_region(js: JetStreamContext, region: str, replicas: int) -> ApplyReport:
    """ECHO_<REGION> with the superhub's templates sourced down, ECHO_DLQ, every durable."""
    report = ApplyReport()
    await put_stream(js, region_stream_config(region, replicas=replicas), report)
    await put_stream(js, stream_config(dlq_stream(replicas=replicas)), report)
    for spec in CONSUMERS:
        await apply_consumer(js, spec, region, report)
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nats", required=True, help="the operator's URL, credentials included")
    sub = parser.add_subparsers(dest="where", required=True)
    hub = sub.add_parser("superhub")
    hub.add_argument("--regions", required=True, help="comma separated")
    hub.add_argument("--replicas", type=int, default=3)
    region = sub.add_parser("region")
    region.add_argument("region")
    region.add_argument("--replicas", type=int, default=1)
    return parser


async def run(args: argparse.Namespace) -> int:
    nc = await nats.connect(args.nats, connect_timeout=5, max_reconnect_attempts=1)
    try:
        js = nc.jetstream()
        if args.where == "superhub":
            regions = [r.strip() for r in args.regions.split(",") if r.strip()]
            report = await apply_superhub(js, regions, args.replicas)
        else:
            report = await apply_region(js, args.region, args.replicas)
    finally:
        await nc.close()
    for line in report.lines():
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(build_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
