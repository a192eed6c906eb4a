"""`echo-hub streams apply`."""

from __future__ import annotations

import nats
from echo_runtime.provision import apply_topology


async def apply_command(url: str, regions: list[str], replicas: int, network: bool) -> int:
    """Provision streams, consumers and the DLQ; print what changed."""
    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=1)
    try:
        report = await apply_topology(nc.jetstream(), regions, network=network, replicas=replicas)
    finally:
        await nc.close()
    for line in report.lines():
        print(line)
    print(
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged"
    )
    return 0
