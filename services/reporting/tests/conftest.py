"""Fixtures of the reporting tests: settings, and publishing envelopes to the region streams."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from echo_contracts import Envelope, subject_for, to_wire
from echo_reporting.settings import ReportingSettings
from echo_runtime.natsserver import NatsServer
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
