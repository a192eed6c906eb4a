"""A real service on a regional leaf, under its least-privilege NATS user, feeds the superhub.

The scheduling service runs as a process (`python -m echo_scheduling serve`, SQLite) against the
ontario leaf of the checked-in topology with the `scheduling` user of account ONTARIO. Creating
a programme over HTTP must put all its events in ECHO_ONTARIO and exactly its `network` ones in
the superhub's ECHO_NETWORK: the regional `programme_profile_updated` stays in the region.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from echo_contracts.topology import NETWORK_STREAM, network_subjects, stream_name
from echo_runtime.testing import token

from tests.deploy.natstopology import LoopbackTopology, apply_region, apply_superhub, free_port

pytestmark = pytest.mark.integration

SESSIONS = 3


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackTopology]:
    topo = LoopbackTopology(tmp_path_factory.mktemp("nats-service"), regions=("ontario",))
    try:
        topo.start()
        yield topo
    finally:
        topo.stop()


@pytest.fixture(scope="module")
async def provisioned(topology: LoopbackTopology) -> LoopbackTopology:
    await apply_superhub(topology.hub_url("admin", topology.password("hub", "admin")), ["ontario"])
    await apply_region(
        topology.leaf_url("ontario", "admin", topology.password("ontario", "admin")), "ontario"
    )
    return topology


@pytest.fixture(scope="module")
def scheduling(
    provisioned: LoopbackTopology, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    data = tmp_path_factory.mktemp("scheduling")
    port = free_port()
    env = dict(os.environ) | {
        "SCHEDULING_REGIONS": "ontario",
        "SCHEDULING_NATS_URL": provisioned.leaves["ontario"].url,
        "SCHEDULING_NATS_USER": "scheduling",
        "SCHEDULING_NATS_PASSWORD": provisioned.password("ontario", "scheduling"),
        "SCHEDULING_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'scheduling.db'}",
    }
    log_path = data / "scheduling.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "echo_scheduling", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"scheduling exited {proc.returncode}: {log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"scheduling not ready: {log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url, log_path
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


async def test_a_programme_created_in_ontario_reaches_the_superhub_without_its_regional_events(
    provisioned: LoopbackTopology, scheduling: tuple[str, Path]
) -> None:
    url, log_path = scheduling
    async with httpx.AsyncClient(timeout=30) as http:
        created = await http.post(
            f"{url}/v1/programmes",
            headers=token("hub-admin", "ontario"),
            json={
                "region": "ontario",
                "title": "Opioid Use Disorder ECHO",
                "timezone": "America/Toronto",
                "starts_on": "2027-02-01",
                "local_start": "12:00",
                "session_count": SESSIONS,
            },
        )
    assert created.status_code == 201, created.text

    hub = await nats.connect(provisioned.hub_url("admin", provisioned.password("hub", "admin")))
    leaf = await nats.connect(
        provisioned.leaf_url("ontario", "admin", provisioned.password("ontario", "admin"))
    )
    try:
        expected_network = {
            "echo.ontario.scheduling.programme_created": 1,
            "echo.ontario.scheduling.session_scheduled": SESSIONS,
        }
        deadline = time.monotonic() + 45
        network: dict[str, int] = {}
        while time.monotonic() < deadline:
            info = await hub.jetstream().stream_info(NETWORK_STREAM, subjects_filter=">")
            network = dict(info.state.subjects or {})
            if sum(network.values()) >= sum(expected_network.values()):
                break
            await asyncio.sleep(0.2)
        info = await leaf.jetstream().stream_info(stream_name("ontario"), subjects_filter=">")
        in_region = dict(info.state.subjects or {})
        allowed = set(network_subjects("ontario"))
        # the superhub holds exactly the region's network-residency events, each once ...
        assert network == {s: n for s, n in in_region.items() if s in allowed}
        assert expected_network.items() <= network.items()
        # ... and the region holds regional ones too (so there was something to keep home)
        stayed_home = {s for s in in_region if s not in allowed}
        assert stayed_home, in_region
        assert not stayed_home & set(network)
    finally:
        await hub.close()
        await leaf.close()
    assert "permissions violation" not in log_path.read_text().lower()
