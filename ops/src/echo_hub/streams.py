"""`echo-hub streams apply`: one server, a regional leaf, or the superhub."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import nats
from echo_contracts.topology import (
    HUB_ACCOUNT,
    SUPERHUB_STREAM,
    account_name,
    deliver_prefix,
    stream_name,
)
from echo_runtime.provision import apply_topology


@dataclass
class ApplyOptions:
    regions: list[str]
    replicas: int = 1
    network: bool = True
    regional: bool = True
    superhub_api: str | None = None
    superhub_deliver: str | None = None
    region_apis: dict[str, str] = field(default_factory=dict)
    region_delivers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ApplyOptions:
        """Check the flags together; fill in the deliver prefixes deploy/nats exports."""
        regions: list[str] = list(args.regions)
        options = cls(
            regions=regions,
            replicas=args.replicas,
            network=not args.no_network,
            regional=not args.network_only,
            superhub_api=args.superhub_api,
            superhub_deliver=args.deliver_prefix,
            region_apis=dict(args.region_api),
            region_delivers=dict(args.region_deliver),
        )
        if options.superhub_deliver and not options.superhub_api:
            raise ValueError("--deliver-prefix needs --superhub-api")
        if options.superhub_api:
            if options.network:
                raise ValueError("--superhub-api is for a leaf: add --no-network")
            if options.superhub_deliver is None:
                if len(regions) != 1:
                    raise ValueError("--superhub-api with several regions needs --deliver-prefix")
                options.superhub_deliver = deliver_prefix(account_name(regions[0]), SUPERHUB_STREAM)
        for flag, mapping in (
            ("--region-api", options.region_apis),
            ("--region-deliver", options.region_delivers),
        ):
            if mapping and not options.network:
                raise ValueError(f"{flag} is for the superhub: drop --no-network")
            unknown = sorted(set(mapping) - set(regions))
            if unknown:
                raise ValueError(f"{flag} names regions not in --regions: {', '.join(unknown)}")
        if set(options.region_delivers) - set(options.region_apis):
            raise ValueError("--region-deliver needs --region-api for the same region")
        for region in options.region_apis:
            options.region_delivers.setdefault(
                region, deliver_prefix(HUB_ACCOUNT, stream_name(region))
            )
        return options


async def apply_command(url: str, options: ApplyOptions) -> int:
    """Provision streams, consumers and the DLQ; print what changed."""
    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=1)
    try:
        report = await apply_topology(
            nc.jetstream(timeout=30),
            options.regions,
            network=options.network,
            regional=options.regional,
            replicas=options.replicas,
            superhub_api=options.superhub_api,
            superhub_deliver=options.superhub_deliver,
            region_apis=options.region_apis or None,
            region_delivers=options.region_delivers or None,
        )
    finally:
        await nc.close()
    for line in report.lines():
        print(line)
    print(
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged"
    )
    return 0
