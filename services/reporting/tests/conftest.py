"""Fixtures of the reporting tests: settings, and publishing envelopes to the region streams."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from echo_contracts import Envelope, subject_for, to_wire
from echo_reporting.settings import ReportingSettings
from echo_runtime.natsserver import NatsServer
from echo_runtime.testing import eventually
from nats.js import JetStreamContext

REGIONS = ["ontario", "northern-ireland", "shanghai"]


@pytest.fixture
def settings_for(nats_server: NatsServer) -> Callable[..., ReportingSettings]:
    def make(database_url: str, *, messaging: bool = True) -> ReportingSettings:
        return ReportingSettings(
            nats_url=nats_server.url,
            database_url=database_url,
            regions=REGIONS,
            messaging=messaging,
            relay_poll_interval=0.05,
        )

    return make


async def publish(js: JetStreamContext, envelopes: Iterable[Envelope[Any]]) -> int:
    """Publish envelopes to their region's stream as the other services would (deduplicated)."""
    count = 0
    for env in envelopes:
        await js.publish(
            subject_for(env.region, env.data), to_wire(env), headers={"Nats-Msg-Id": str(env.id)}
        )
        count += 1
    return count


async def consumed(js: JetStreamContext, stream: str) -> bool:
    """True when the reporting consumer has acked every message of `stream`."""
    last = (await js.stream_info(stream)).state.last_seq
    info = await js.consumer_info(stream, "reporting-projections")
    return bool(info.ack_floor.stream_seq >= last)


async def all_consumed(js: JetStreamContext) -> None:
    """Wait until the reporting consumer has acked every message of every region stream.

    A batch the pull loop drops is redelivered after the consumer's ack wait (10 s), hence the
    generous bound.
    """
    for region in REGIONS:
        stream = "ECHO_" + region.upper().replace("-", "_")
        await eventually(lambda s=stream: consumed(js, s), timeout=45)
