"""`echo-hub replay`: say exactly what is rebuilt from where, and refuse a wrong target.

A replay drops and rewrites read models: run against the wrong NATS server (or none) it would
write an empty database and report success. So the server, the database and the regions are
named (flags or the service's own settings), and the streams the service reads must exist there.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import nats
from echo_contracts import consumer_for
from echo_runtime.consumer import binding
from nats.js.errors import NotFoundError


@dataclass(frozen=True)
class ReplayTarget:
    """What a replay reads and writes."""

    service: str
    nats_url: str
    database_url: str
    regions: list[str]
    network_view: bool
    nats_user: str | None = None
    nats_password: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, env: Mapping[str, str]) -> ReplayTarget:
        """Flags first, then `<SERVICE>_*`; ValueError naming what is not set."""
        prefix = args.service.upper() + "_"
        nats_url = args.nats or env.get(prefix + "NATS_URL")
        database = args.database or env.get(prefix + "DATABASE_URL")
        regions = args.regions or [
            r.strip() for r in env.get(prefix + "REGIONS", "").split(",") if r.strip()
        ]
        missing = [
            what
            for what, value in (
                (f"the NATS server (--nats or {prefix}NATS_URL)", nats_url),
                (f"the database (--database or {prefix}DATABASE_URL)", database),
                (f"the regions (--regions or {prefix}REGIONS)", regions),
            )
            if not value
        ]
        if missing:
            raise ValueError("name " + ", ".join(missing) + "; nothing was written")
        assert nats_url and database
        return cls(
            service=args.service,
            nats_url=nats_url,
            database_url=database,
            regions=regions,
            network_view=env.get(prefix + "NETWORK_VIEW", "").lower() in ("1", "true", "yes"),
            nats_user=env.get(prefix + "NATS_USER"),
            nats_password=env.get(prefix + "NATS_PASSWORD"),
        )

    def streams(self) -> dict[str, str]:
        """Stream -> the region it is read for."""
        spec = consumer_for(self.service, "projections")
        found: dict[str, str] = {}
        for region in self.regions:
            found.setdefault(binding(spec, region, network_view=self.network_view).stream, region)
        return found

    def environment(self) -> dict[str, str]:
        """The service's settings for the rebuild process."""
        prefix = self.service.upper() + "_"
        return {
            prefix + "NATS_URL": self.nats_url,
            prefix + "DATABASE_URL": self.database_url,
            prefix + "REGIONS": ",".join(self.regions),
        }


async def check_streams(target: ReplayTarget, timeout: float = 5.0) -> None:
    """LookupError naming the server and each stream it lacks (or that it cannot be reached)."""
    try:
        # Bounded from outside too: nats-py retries a refused first connection on its own.
        nc = await asyncio.wait_for(
            nats.connect(
                target.nats_url,
                user=target.nats_user,
                password=target.nats_password,
                connect_timeout=timeout,
                allow_reconnect=False,
                max_reconnect_attempts=0,
            ),
            timeout * 2,
        )
    except Exception as exc:
        raise LookupError(
            f"cannot reach NATS at {target.nats_url} ({type(exc).__name__}); nothing was written"
        ) from exc
    try:
        js = nc.jetstream(timeout=timeout)
        missing = []
        for stream, region in target.streams().items():
            try:
                await js.stream_info(stream)
            except NotFoundError:
                missing.append(f"{stream} (region {region})")
    finally:
        await nc.close()
    if missing:
        raise LookupError(
            f"{target.nats_url} has no stream {', '.join(missing)}: not the platform's server,"
            " or not provisioned (`echo-hub streams apply`); nothing was written"
        )
