"""Each service's NATS user may publish and subscribe only its own subjects.

One regional leaf server runs from the checked-in `deploy/nats/leaf-ontario.conf` on loopback
(its hub link points at a closed port: the region's own permissions are what is under test). For
every service, as that service's user: its own action is accepted, and publishing on another
service's subject and subscribing to events it does not consume are refused by the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from echo_contracts import subject_for
from echo_contracts.events import ALL_EVENTS
from echo_contracts.topology import consumer_for, stream_name
from nats.aio.client import Client

from tests.deploy.natstopology import (
    NATS_DIR,
    SERVICES,
    ServerPorts,
    ServerProcess,
    apply_region,
    base_env,
    env_name,
    free_port,
    password_env,
    wait_until_ready,
)

pytestmark = pytest.mark.integration

REGION = "ontario"
STREAM = stream_name(REGION)


def _first_subject(context: str) -> str:
    event = next(e for e in ALL_EVENTS if e.context == context and not e.superhub)
    return subject_for(REGION, event)


#: What each service publishes, from the contracts (`None`: reporting only reads).
OWN_SUBJECT = {s: None if s == "reporting" else _first_subject(s) for s in SERVICES}
#: Another service's subject that each one must not publish on (the next publisher's).
_PUBLISHERS = [s for s in SERVICES if s != "reporting"]
FOREIGN_SUBJECT = {
    s: _first_subject(
        _PUBLISHERS[(_PUBLISHERS.index(s) + 1) % len(_PUBLISHERS)] if s in _PUBLISHERS else "cases"
    )
    for s in SERVICES
}


@dataclass
class Errors:
    seen: list[str] = field(default_factory=list)

    async def record(self, exc: Exception) -> None:
        self.seen.append(str(exc))

    def violations(self) -> list[str]:
        return [e for e in self.seen if "permissions violation" in e.lower()]


@dataclass
class Leaf:
    server: ServerProcess
    passwords: dict[str, str]

    def url(self, user: str) -> str:
        password = self.passwords[env_name(REGION, user, "NATS_PASSWORD")]
        return f"nats://{user}:{password}@127.0.0.1:{self.server.ports.client}"


@pytest.fixture(scope="module")
def leaf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Leaf]:
    workdir = tmp_path_factory.mktemp("nats-permissions")
    names = ["NATS_SYS_PASSWORD", env_name("leaf", REGION, "NATS_PASSWORD")]
    users = ("admin", "integrator", *SERVICES)
    names += [env_name(REGION, user, "NATS_PASSWORD") for user in users]
    passwords = password_env(names)
    ports = ServerPorts()
    store = workdir / "store"
    store.mkdir()
    env = base_env(f"leaf-{REGION}", ports, store) | passwords
    env["NATS_HUB_LEAF_URL"] = f"nats-leaf://leaf:nothing@127.0.0.1:{free_port()}"
    server = ServerProcess(
        f"leaf-{REGION}", NATS_DIR / f"leaf-{REGION}.conf", env, ports, workdir / "leaf.log"
    )
    server.start()
    try:
        wait_until_ready(server, 60)
        yield Leaf(server, passwords)
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def provisioned(leaf: Leaf) -> Leaf:
    await apply_region(leaf.url("admin"), REGION, 1)  # the operator's own command
    return leaf


async def connect(url: str, errors: Errors) -> Client:
    return await nats.connect(url, error_cb=errors.record, connect_timeout=5)


async def refused(errors: Errors, count: int) -> list[str]:
    for _ in range(100):  # violations arrive asynchronously; bounded wait, no timing asserted
        if len(errors.violations()) >= count:
            break
        await asyncio.sleep(0.05)
    return errors.violations()


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_user_may_use_its_own_subjects_only(
    provisioned: Leaf, service: str
) -> None:
    errors = Errors()
    client = await connect(provisioned.url(service), errors)
    admin = await connect(provisioned.url("admin"), Errors())
    try:
        own = OWN_SUBJECT[service]
        js = client.jetstream(timeout=10)
        if own is not None:
            ack = await js.publish(own, b"{}")
            assert ack.stream == STREAM
        else:  # reporting reads: its stream, through the API it is granted
            info = await js.stream_info(STREAM)
            assert info.config.name == STREAM
        if service != "reporting":
            durable = consumer_for(service).durable
            assert (await js.consumer_info(STREAM, durable)).name == durable

        before = (await admin.jetstream().stream_info(STREAM)).state.messages
        await client.publish(FOREIGN_SUBJECT[service], b"{}")
        await client.subscribe("echo.ontario.>")  # every event of the region: nobody's
        await client.subscribe(f"echo.shanghai.{service}.>")  # another region
        await client.flush(timeout=5)
        violations = await refused(errors, 3)
        assert len(violations) == 3, errors.seen
        assert any(FOREIGN_SUBJECT[service] in v for v in violations)
        assert sum('subscription to "echo.' in v.lower() for v in violations) == 2
        after = (await admin.jetstream().stream_info(STREAM)).state.messages
        assert after == before, "a refused publish reached the stream"
        print(f"NATS {service}: own subject accepted, {len(violations)} violations refused")
    finally:
        await client.close()
        await admin.close()


async def test_a_wrong_password_is_refused(provisioned: Leaf) -> None:
    url = provisioned.url("cases").replace(":p", ":wrong", 1)
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0, allow_reconnect=False)


def test_the_config_under_test_is_the_checked_in_one() -> None:
    assert (NATS_DIR / f"leaf-{REGION}.conf").read_text().count("permissions") >= len(SERVICES)
    assert Path(NATS_DIR / "generate.py").exists()
