"""Fixtures of the scheduling tests: settings, programme bodies, and reading the region streams."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from echo_contracts import decode
from echo_runtime.natsserver import NatsServer
from echo_scheduling.settings import SchedulingSettings
from nats.js import JetStreamContext

REGIONS = ["ontario", "northern-ireland", "shanghai"]


def next_weekday(weekday: int, after: date | None = None) -> date:
    """The first date with `weekday` (Monday 0) strictly after `after` (default today)."""
    day = (after or date.today()) + timedelta(days=1)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


@pytest.fixture
def settings_for(nats_server: NatsServer) -> Callable[..., SchedulingSettings]:
    def make(database_url: str, *, messaging: bool = True) -> SchedulingSettings:
        return SchedulingSettings(
            nats_url=nats_server.url,
            database_url=database_url,
            regions=REGIONS,
            messaging=messaging,
            relay_poll_interval=0.05,
        )

    return make


@pytest.fixture
def programme_body() -> Callable[..., dict[str, Any]]:
    def make(**overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "region": "ontario",
            "title": "Chronic pain and opioid stewardship",
            "language": "en",
            "timezone": "America/Toronto",
            "session_minutes": 90,
            "starts_on": next_weekday(1).isoformat(),
            "local_start": "12:00",
            "session_count": 4,
        }
        body.update(overrides)
        return body

    return make


async def stream_events(js: JetStreamContext, stream: str, prefix: str = "") -> list[Any]:
    """Each (subject, msg id, envelope) in `stream` whose subject starts with `prefix`."""
    state = (await js.stream_info(stream)).state
    found: list[Any] = []
    if state.messages == 0:
        return found
    for seq in range(state.first_seq, state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        if msg.subject.startswith(prefix):
            found.append(
                (msg.subject, (msg.headers or {}).get("Nats-Msg-Id"), decode(msg.data or b""))
            )
    return found


async def drained(runtime: Any) -> bool:
    """True once the relay has published every outbox row of `runtime`."""
    return bool(await runtime.relay.backlog() == 0)


def of_type(events: list[Any], name: str) -> list[Any]:
    """The envelopes of one event name (e.g. `session_rescheduled`), oldest first."""
    return [env for _, _, env in events if env.type == f"echo.scheduling.{name}.v1"]
