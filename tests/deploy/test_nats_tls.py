"""A production leaf config serves TLS: a client trusting its CA gets in, others do not."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from tests.deploy.natstopology import (
    NATS_DIR,
    ServerPorts,
    ServerProcess,
    all_password_vars,
    base_env,
    free_port,
    password_env,
    wait_until_ready,
    write_self_signed_tls,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_leaf(tmp_path: Path) -> Iterator[tuple[ServerProcess, dict[str, str], dict[str, str]]]:
    tls = write_self_signed_tls(tmp_path / "tls")
    passwords = password_env(all_password_vars())
    ports = ServerPorts()
    env = base_env("leaf-ontario", ports, tmp_path / "store") | passwords | tls
    # no superhub in this test: the remote retries in the background, which is what a leaf does
    env["NATS_HUB_LEAF_URL"] = f"nats-leaf://leaf-ontario:x@127.0.0.1:{free_port()}"
    server = ServerProcess(
        "leaf-ontario", NATS_DIR / "leaf-ontario.prod.conf", env, ports, tmp_path / "nats.log"
    )
    server.start()
    try:
        wait_until_ready(server, 30)
        yield server, passwords, tls
    finally:
        server.stop()


async def test_production_leaf_requires_tls_with_its_ca(
    tls_leaf: tuple[ServerProcess, dict[str, str], dict[str, str]],
) -> None:
    server, passwords, tls = tls_leaf
    url = f"tls://cases:{passwords['ONTARIO_CASES_NATS_PASSWORD']}@127.0.0.1:{server.ports.client}"
    trusted = ssl.create_default_context(cafile=tls["NATS_TLS_CA"])
    nc = await nats.connect(url, tls=trusted, connect_timeout=5, max_reconnect_attempts=0)
    try:
        assert nc.is_connected
        assert nc._server_info.get("tls_required") is True
    finally:
        await nc.close()

    stranger = ssl.create_default_context()  # public roots only: the server's CA is unknown
    with pytest.raises((ssl.SSLError, nats.errors.NoServersError, OSError)):
        await nats.connect(
            url, tls=stranger, connect_timeout=5, max_reconnect_attempts=0, allow_reconnect=False
        )
    assert "TLS required for client connections" in server.log.read_text()
