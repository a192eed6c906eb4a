"""A regional hub's subscriber to the ECHO platform's events: echo-contracts and nats-py only.

    python subscriber.py --data-dir .echo-dev --region ontario --integrator acme
    python subscriber.py --url nats://leaf.example.org:4222 --user acme --password ... \\
        --region ontario --integrator acme --since 2027-03-01T00:00:00Z

It follows the region's stream on its own durable (`hub-<integrator>-events`, or
`hub-<integrator>-replay` with `--since`), decodes each event tolerantly, skips unknown types,
dead-letters what it can never read, deduplicates by envelope id, and stops after `--idle`
seconds without news. A refusal by the server (`Permissions Violation`) becomes a
`PermissionRefused` naming what was refused, instead of the bare `nats: timeout` nats-py raises.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import nats
from echo_contracts import InvalidEvent, UnknownEvent, decode, stream_name
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy


class PermissionRefused(Exception):
    """The NATS server refused a subject to this user (wrong region, a platform durable, ...)."""

    def __init__(self, what: str, violations: list[str]) -> None:
        self.violations = violations
        super().__init__(f"{what}: refused by the server: {'; '.join(violations)}")


class Refusals:
    """Collects the server's permission violations, which nats-py reports only asynchronously
    (to `error_cb`); `guard` turns the timeout they cause into `PermissionRefused`."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def record(self, exc: Exception) -> None:
        if "permissions violation" in str(exc).lower():
            self.seen.append(str(exc))

    @contextlib.asynccontextmanager
    async def guard(self, client: Client, what: str) -> AsyncIterator[None]:
        before = len(self.seen)
        try:
            yield
            await client.flush(timeout=5)  # a refused publish is answered before the PONG
        except TimeoutError as exc:  # nats.errors.TimeoutError is a TimeoutError too
            await client.flush(timeout=5)
            if len(self.seen) > before:
                raise PermissionRefused(what, self.seen[before:]) from exc
            raise
        if len(self.seen) > before:
            raise PermissionRefused(what, self.seen[before:])


async def connect(url: str, refusals: Refusals, user: str | None, password: str | None) -> Client:
    return await nats.connect(
        url,
        user=user,
        password=password,
        error_cb=refusals.record,
        ping_interval=5,
        max_reconnect_attempts=-1,
        connect_timeout=5,
    )


async def open_durable(
    client: Client,
    refusals: Refusals,
    region: str,
    durable: str,
    since: datetime | None = None,
    js: JetStreamContext | None = None,
    stream: str | None = None,
) -> JetStreamContext.PullSubscription:
    """Bind to (or create) our durable pull consumer on the region's stream (at the superhub:
    `stream="ECHO_NETWORK"`)."""
    stream = stream or stream_name(region)
    config = ConsumerConfig(
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        max_deliver=5,
        deliver_policy=DeliverPolicy.BY_START_TIME if since else DeliverPolicy.ALL,
        opt_start_time=since.isoformat() if since else None,
    )
    async with refusals.guard(client, f"durable {durable} on {stream}"):
        return await (js or client.jetstream()).pull_subscribe(
            "", durable=durable, stream=stream, config=config
        )


async def follow(
    sub: JetStreamContext.PullSubscription,
    client: Client,
    refusals: Refusals,
    idle: float,
    seen: set[str],
) -> int:
    """Handle events until `idle` seconds pass without one; returns how many were new."""
    handled = 0
    while True:
        try:
            async with refusals.guard(client, "fetching events"):
                msgs = await sub.fetch(100, timeout=idle)
        except PermissionRefused:
            raise
        except TimeoutError:
            return handled
        for msg in msgs:
            try:
                event = decode(msg.data)
            except InvalidEvent as exc:
                # Can never be read (a required field missing): dead-letter it deliberately.
                print(f"dead-letter {msg.metadata.sequence.stream}: {str(exc)[:200]}")
                await msg.term()
                continue
            if isinstance(event.data, UnknownEvent):
                print(f"skipped {event.type} (unknown to this echo-contracts)")
            elif str(event.id) in seen:
                print(f"duplicate {event.id}")
            else:
                seen.add(str(event.id))  # keep this in your database with your change
                handled += 1
                print(f"event {event.type} {event.id} {event.region} {event.subject}")
            await msg.ack()


def _url_from(data_dir: Path) -> str:
    """`echo-hub dev` writes where NATS listens (a free port) to `<data-dir>/urls.json`."""
    return str(json.loads((data_dir / "urls.json").read_text())["nats"])


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="nats://host:port of your leaf (or the superhub)")
    where.add_argument("--data-dir", type=Path, help="echo-hub dev's data directory")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--region", required=True)
    parser.add_argument("--integrator", required=True, help="your name: durables hub-<name>-*")
    parser.add_argument("--since", type=datetime.fromisoformat, help="replay from this time")
    parser.add_argument("--idle", type=float, default=3.0, help="stop after this many quiet s")
    args = parser.parse_args(argv)
    url = args.url or _url_from(args.data_dir)
    refusals = Refusals()
    client = await connect(url, refusals, args.user, args.password)
    purpose = "replay" if args.since else "events"
    try:
        sub = await open_durable(
            client, refusals, args.region, f"hub-{args.integrator}-{purpose}", args.since
        )
        count = await follow(sub, client, refusals, args.idle, set())
    except PermissionRefused as exc:
        print(f"error: {exc}")
        return 3
    finally:
        await client.close()
    print(f"read {count} event(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
