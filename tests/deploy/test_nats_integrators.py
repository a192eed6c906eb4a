"""Integrator users on the superhub-and-leaves topology, driven by the guide's own client code.

An integrator of ontario reads ontario's events on its `hub-integrator-*` durable; everything
else it tries (another region's stream, a platform durable, deleting one, publishing) is refused,
and `docs/examples/subscriber.py` turns each refusal into `PermissionRefused`. The superhub's
integrator reads the network events on `ECHO_NETWORK`, and not the platform's durables there.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from echo_contracts import SessionScheduled, new_envelope, to_wire
from echo_contracts.topology import NETWORK_STREAM, stream_name
from nats.js.errors import NotFoundError

from tests.deploy.natstopology import LoopbackTopology, apply_region, apply_superhub

pytestmark = pytest.mark.integration

REGIONS = ("ontario", "shanghai")
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "subscriber.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("integrator_subscriber", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sub = _example()


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackTopology]:
    topo = LoopbackTopology(tmp_path_factory.mktemp("nats-integrators"), regions=REGIONS)
    try:
        topo.start()
        yield topo
    finally:
        topo.stop()


@pytest.fixture(scope="module")
async def provisioned(topology: LoopbackTopology) -> LoopbackTopology:
    await apply_superhub(topology.hub_url("admin", topology.password("hub", "admin")), [*REGIONS])
    for region in REGIONS:
        await apply_region(
            topology.leaf_url(region, "admin", topology.password(region, "admin")), region
        )
    return topology


async def _wait(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 45) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"not within {timeout}s: {what}"
        await asyncio.sleep(0.2)


def _session() -> SessionScheduled:
    return SessionScheduled(
        session_id=uuid.uuid4(),
        programme_id=uuid.uuid4(),
        starts_at=datetime(2027, 3, 1, 17, tzinfo=UTC),
        ends_at=datetime(2027, 3, 1, 18, tzinfo=UTC),
        timezone="America/Toronto",
    )


async def test_an_integrator_reads_its_region_and_every_other_attempt_is_refused(
    provisioned: LoopbackTopology, capsys: pytest.CaptureFixture[str]
) -> None:
    topo = provisioned
    env = new_envelope(_session(), region="ontario", service="scheduling")
    newer = to_wire(env).replace(b"session_scheduled.v1", b"session_scheduled.v2")
    newer = newer.replace(str(env.id).encode(), str(uuid.uuid4()).encode())
    publisher = await sub.nats.connect(
        topo.leaf_url("ontario", "scheduling", topo.password("ontario", "scheduling"))
    )
    try:
        js = publisher.jetstream()
        for body, msg_id in (
            (to_wire(env), str(env.id)),
            (newer, "newer"),
            (to_wire(env), str(env.id)),
        ):
            await js.publish(
                "echo.ontario.scheduling.session_scheduled", body, headers={"Nats-Msg-Id": msg_id}
            )
    finally:
        await publisher.close()

    refusals = sub.Refusals()
    client = await sub.connect(
        topo.leaves["ontario"].url, refusals, "integrator", topo.password("ontario", "integrator")
    )
    refused: list[str] = []
    try:
        mine = await sub.open_durable(client, refusals, "ontario", "hub-integrator-events")
        assert await sub.follow(mine, client, refusals, 2.0, set()) == 1
        out = capsys.readouterr().out
        assert f"event echo.scheduling.session_scheduled.v1 {env.id}" in out
        assert "skipped echo.scheduling.session_scheduled.v2" in out

        attempts: dict[str, Callable[[], Awaitable[object]]] = {
            "platform durable cases-inbox": lambda: sub.open_durable(
                client, refusals, "ontario", "cases-inbox"
            ),
            "another region's stream": lambda: sub.open_durable(
                client,
                refusals,
                "shanghai",
                "hub-integrator-events",
                js=client.jetstream(domain="shanghai"),
            ),
            "an integrator durable name not issued": lambda: sub.open_durable(
                client, refusals, "ontario", "hub-someone-events"
            ),
        }

        async def delete_platform_durable() -> None:
            async with refusals.guard(client, "delete cases-inbox"):
                await client.jetstream().delete_consumer(stream_name("ontario"), "cases-inbox")

        async def publish_event() -> None:
            async with refusals.guard(client, "publish"):
                await client.publish("echo.ontario.cases.case_submitted", b"{}")

        attempts["delete platform durable"] = delete_platform_durable
        attempts["publish an event"] = publish_event
        for what, attempt in attempts.items():
            with pytest.raises(sub.PermissionRefused, match=r"(?i)permissions violation") as caught:
                await attempt()
            refused.append(f"{what}: {caught.value}")
    finally:
        await client.close()
    with capsys.disabled():
        print(f"\nintegrator ontario: read 1 event, skipped 1 unknown, refused {len(refused)}:")
        for line in refused:
            print("  " + line[:220])
    assert len(refused) == 5
    admin = await sub.nats.connect(
        topo.leaf_url("ontario", "admin", topo.password("ontario", "admin"))
    )
    try:
        info = await admin.jetstream().consumer_info(stream_name("ontario"), "cases-inbox")
        assert info.delivered.consumer_seq == 0  # untouched: nothing read, not deleted
    finally:
        await admin.close()


async def test_an_integrators_dead_letters_stay_out_of_the_platform_dlq(
    provisioned: LoopbackTopology,
) -> None:
    """The integrator terminates an event on its replay durable: it hears its own advisory, and
    ECHO_DLQ does not grow; the same done on a platform durable (the control) lands there."""
    topo = provisioned
    admin = await sub.nats.connect(
        topo.leaf_url("ontario", "admin", topo.password("ontario", "admin"))
    )
    refusals = sub.Refusals()
    client = await sub.connect(
        topo.leaves["ontario"].url, refusals, "integrator", topo.password("ontario", "integrator")
    )
    try:
        ajs = admin.jetstream()
        before = (await ajs.stream_info("ECHO_DLQ")).state.messages
        heard: list[str] = []
        advisory = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ECHO_ONTARIO.hub-integrator-replay"

        async def on_advisory(msg: sub.nats.aio.msg.Msg) -> None:
            heard.append(msg.subject)

        async with refusals.guard(client, "own advisories"):
            await client.subscribe(advisory, cb=on_advisory)
        replay = await sub.open_durable(
            client,
            refusals,
            "ontario",
            "hub-integrator-replay",
            since=datetime(2020, 1, 1, tzinfo=UTC),
        )
        (msg,) = await replay.fetch(1, timeout=5)
        await msg.term()

        async def told() -> bool:
            return heard == [advisory]

        await _wait(told, "the integrator's own MSG_TERMINATED advisory", timeout=15)
        cases = await sub.nats.connect(
            topo.leaf_url("ontario", "cases", topo.password("ontario", "cases"))
        )
        try:
            platform = await cases.jetstream().pull_subscribe_bind(
                "cases-inbox", stream=stream_name("ontario")
            )
            (control,) = await platform.fetch(1, timeout=5)
            await control.term()
            await cases.flush()
        finally:
            await cases.close()

        async def indexed() -> bool:
            return (await ajs.stream_info("ECHO_DLQ")).state.messages > before

        await _wait(indexed, "the platform durable's dead letter in ECHO_DLQ", timeout=15)
        letters = (await ajs.stream_info("ECHO_DLQ", subjects_filter=">")).state.subjects or {}
        assert not [s for s in letters if "hub-" in s], letters
        assert (await ajs.stream_info("ECHO_DLQ")).state.messages == before + 1
    finally:
        await client.close()
        await admin.close()


async def test_reporting_can_no_longer_delete_another_services_durable(
    provisioned: LoopbackTopology,
) -> None:
    refusals = sub.Refusals()
    client = await sub.connect(
        provisioned.leaves["ontario"].url,
        refusals,
        "reporting",
        provisioned.password("ontario", "reporting"),
    )
    try:
        with pytest.raises(sub.PermissionRefused):
            async with refusals.guard(client, "delete cases-inbox"):
                await client.jetstream().delete_consumer(stream_name("ontario"), "cases-inbox")
    finally:
        await client.close()


async def test_the_superhub_integrator_reads_network_events_only_on_its_own_durable(
    provisioned: LoopbackTopology,
) -> None:
    topo = provisioned
    env = new_envelope(_session(), region="shanghai", service="scheduling")
    publisher = await sub.nats.connect(
        topo.leaf_url("shanghai", "scheduling", topo.password("shanghai", "scheduling"))
    )
    try:
        await publisher.jetstream().publish(
            "echo.shanghai.scheduling.session_scheduled",
            to_wire(env),
            headers={"Nats-Msg-Id": str(env.id)},
        )
    finally:
        await publisher.close()
    refusals = sub.Refusals()
    client = await sub.connect(
        topo.hubs[0].url, refusals, "integrator", topo.password("hub", "integrator")
    )
    try:
        mine = await sub.open_durable(
            client, refusals, "shanghai", "hub-integrator-events", stream=NETWORK_STREAM
        )
        got: list[str] = []

        async def arrived() -> bool:
            try:
                msgs = await mine.fetch(10, timeout=1)
            except TimeoutError:
                return False
            for msg in msgs:
                got.append(msg.subject)
                await msg.ack()
            return "echo.shanghai.scheduling.session_scheduled" in got

        await _wait(arrived, "shanghai's network event on the superhub integrator's durable")
        with pytest.raises(sub.PermissionRefused):
            await sub.open_durable(
                client,
                refusals,
                "shanghai",
                "reporting-projections-shanghai",
                stream=NETWORK_STREAM,
            )
        with pytest.raises((sub.PermissionRefused, NotFoundError)):
            await sub.open_durable(client, refusals, "ontario", "hub-integrator-events")
    finally:
        await client.close()


def test_integrator_add_prints_a_block_nats_server_accepts(tmp_path: Path) -> None:
    import subprocess

    from tests.deploy.natstopology import (
        ECHO_HUB,
        NATS_DIR,
        ServerPorts,
        all_password_vars,
        base_env,
        password_env,
        validate,
    )

    done = subprocess.run(
        [
            str(ECHO_HUB),
            "integrator",
            "add",
            "acme",
            "--region",
            "ontario",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    block = done.stdout.split("reload`):\n", 1)[1].split("\n\n", 1)[0]
    password = done.stdout.split("ONTARIO_ACME_NATS_PASSWORD=", 1)[1].split()[0]
    assert "hub-acme-events" in block and '"echo.' not in block  # publishes no event
    config = (NATS_DIR / "leaf-ontario.conf").read_text()
    anchor = "  ONTARIO: {\n    jetstream: enabled\n    users: [\n"
    assert anchor in config
    conf = tmp_path / "leaf-ontario.conf"
    conf.write_text(config.replace(anchor, anchor + block + "\n"))
    env = base_env("leaf-ontario", ServerPorts(), tmp_path) | password_env(all_password_vars())
    env |= {
        "ONTARIO_ACME_NATS_PASSWORD": password,
        "NATS_HUB_LEAF_URL": "nats-leaf://x:y@127.0.0.1:1",
    }
    checked = validate(conf, env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    bad = subprocess.run(
        [str(ECHO_HUB), "integrator", "add", "Not Valid", "--region", "ontario"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert bad.returncode == 2 and "lowercase letters" in bad.stdout
