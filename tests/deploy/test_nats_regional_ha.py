"""Regional NATS HA: each region's leaf as a three-server cluster (deploy/nats/regional-ha/).

The configs are what deploy/nats/regional_ha.py writes, nats-server accepts every one, and the
same loopback config forms a JetStream cluster: R3 streams with a leader and two current
replicas, and a publish is still acknowledged after one server is killed.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import nats
import pytest
from echo_runtime.testing import eventually

from tests.deploy.natstopology import (
    NATS_DIR,
    REGIONS,
    ServerPorts,
    ServerProcess,
    all_password_vars,
    apply_region,
    base_env,
    env_name,
    free_port,
    password_env,
    validate,
    wait_until_ready,
    write_self_signed_tls,
)

HA_DIR = NATS_DIR / "regional-ha"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "echo_nats_regional_ha", NATS_DIR / "regional_ha.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_regional_ha_configs_are_what_the_generator_writes() -> None:
    rendered: dict[Path, str] = _generator().rendered_files()
    assert {p.name for p in rendered} == {p.name for p in HA_DIR.glob("*.conf")}
    assert len(rendered) == 2 * len(REGIONS)
    stale = [p.name for p, text in rendered.items() if p.read_text() != text]
    assert stale == [], "run: python deploy/nats/regional_ha.py"
    for text in rendered.values():
        assert "sync_interval: always" in text
        assert "routes: [$NATS_ROUTE_1, $NATS_ROUTE_2, $NATS_ROUTE_3]" in text


@pytest.mark.parametrize("config", sorted(HA_DIR.glob("*.conf")), ids=lambda p: p.name)
def test_nats_server_accepts_each_regional_ha_config(config: Path, tmp_path: Path) -> None:
    env = base_env("validate", ServerPorts(), tmp_path / "store")
    env |= password_env(all_password_vars())
    env |= {
        f"NATS_ROUTE_{i}": f"nats-route://route:secret@127.0.0.1:{free_port()}" for i in (1, 2, 3)
    }
    env["NATS_HUB_LEAF_URL"] = f"nats-leaf://leaf:secret@127.0.0.1:{free_port()}"
    env |= write_self_signed_tls(tmp_path / "tls")
    result = validate(config, env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def ontario_cluster(tmp_path: Path) -> Iterator[tuple[list[ServerProcess], dict[str, str]]]:
    passwords = password_env(all_password_vars())
    ports = [ServerPorts() for _ in range(3)]
    routes = {
        f"NATS_ROUTE_{i + 1}": f"nats-route://route:{passwords['NATS_ROUTE_PASSWORD']}"
        f"@127.0.0.1:{p.cluster}"
        for i, p in enumerate(ports)
    }
    servers = []
    for n, server_ports in enumerate(ports):
        store = tmp_path / f"ontario-{n}"
        store.mkdir()
        env = base_env(f"ontario-{n}", server_ports, store) | routes | passwords
        # no superhub in this test: the leaf remote keeps retrying, the cluster does not need it
        env["NATS_HUB_LEAF_URL"] = f"nats-leaf://leaf:x@127.0.0.1:{free_port()}"
        servers.append(
            ServerProcess(
                f"ontario-{n}",
                HA_DIR / "leaf-ontario.conf",
                env,
                server_ports,
                tmp_path / f"ontario-{n}.log",
            )
        )
    for server in servers:
        server.start()
    try:
        for server in servers:
            wait_until_ready(server, 60)
        yield servers, passwords
    finally:
        for server in servers:
            server.stop()


async def test_the_regional_ha_config_forms_a_cluster_with_r3_streams(
    ontario_cluster: tuple[list[ServerProcess], dict[str, str]],
) -> None:
    servers, passwords = ontario_cluster
    admin = passwords[env_name("ontario", "admin", "NATS_PASSWORD")]
    url = f"nats://admin:{admin}@127.0.0.1:{servers[0].ports.client}"
    await apply_region(url, "ontario", replicas=3)
    urls = [f"nats://admin:{admin}@127.0.0.1:{s.ports.client}" for s in servers]
    nc = await nats.connect(servers=urls, max_reconnect_attempts=-1)
    try:
        js = nc.jetstream(timeout=30)

        async def replicated() -> bool:
            info = await js.stream_info("ECHO_ONTARIO")
            cluster = info.cluster
            return bool(
                info.config.num_replicas == 3
                and cluster is not None
                and cluster.leader
                and len(cluster.replicas or []) == 2
                and all(r.current for r in cluster.replicas or [])
            )

        assert await eventually(replicated, timeout=60)
        info = await js.stream_info("ECHO_ONTARIO")
        assert info.cluster is not None and info.cluster.name == "echo-ontario"
        # one server lost (a node drain, a crash): the other two still acknowledge writes
        leader = info.cluster.leader
        victim = next(s for s in servers if s.name == leader)
        victim.kill()

        async def published() -> bool:
            try:
                ack = await js.publish("echo.ontario.scheduling.ha-check", b"{}", timeout=5)
            except (nats.errors.Error, TimeoutError):
                return False
            return ack.stream == "ECHO_ONTARIO"

        assert await eventually(published, timeout=60)
    finally:
        await nc.close()
