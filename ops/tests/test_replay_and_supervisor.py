"""`echo-hub replay` refuses a wrong or unnamed target; the dev supervisor restarts children."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from echo_hub.processes import Child, GaveUp, Supervisor
from echo_runtime.natsserver import NatsServer
from echo_runtime.provision import apply_topology
from nats.aio.client import Client as NatsClient

pytestmark = pytest.mark.integration


def replay(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REPORTING_")}
    return subprocess.run(
        [sys.executable, "-m", "echo_hub", "replay", "reporting", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**clean, **(env or {})},
    )


def test_replay_with_nothing_named_refuses_and_writes_nothing(tmp_path: Path) -> None:
    done = replay(tmp_path)
    assert done.returncode == 2, done.stderr
    assert "--nats or REPORTING_NATS_URL" in done.stderr
    assert "--database or REPORTING_DATABASE_URL" in done.stderr
    assert list(tmp_path.iterdir()) == []  # no ./reporting.db


def test_replay_against_a_server_without_the_streams_names_each_missing_one(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    db = tmp_path / "reporting.db"
    done = replay(
        tmp_path,
        "--nats",
        nats_server.url,
        "--database",
        f"sqlite+aiosqlite:///{db}",
        "--regions",
        "atlantis,zanzibar",  # the shared test server has other regions' streams
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ECHO_ATLANTIS (region atlantis)" in done.stderr
    assert "ECHO_ZANZIBAR (region zanzibar)" in done.stderr
    assert "echo-hub streams apply" in done.stderr
    assert not db.exists()


def test_replay_against_an_unreachable_server_fails(tmp_path: Path) -> None:
    from echo_runtime.natsserver import free_port

    done = replay(
        tmp_path,
        "--nats",
        f"nats://127.0.0.1:{free_port()}",
        "--database",
        f"sqlite+aiosqlite:///{tmp_path / 'r.db'}",
        "--regions",
        "ontario",
    )
    assert done.returncode == 1 and "cannot reach NATS" in done.stderr
    assert not (tmp_path / "r.db").exists()


async def test_replay_of_a_provisioned_server_rebuilds(
    nats_server: NatsServer, nats_client: NatsClient, tmp_path: Path
) -> None:
    await apply_topology(nats_client.jetstream(), ["ontario"])
    db = tmp_path / "reporting.db"
    done = replay(
        tmp_path,
        env={
            "REPORTING_NATS_URL": nats_server.url,
            "REPORTING_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "REPORTING_REGIONS": "ontario",
        },
    )
    assert done.returncode == 0, done.stderr
    # the shared test server may hold other tests' events: the count is whatever is there
    assert re.search(r"rebuilt from \d+ events", done.stdout), done.stdout
    assert db.exists()


def test_supervisor_restarts_with_backoff_and_gives_up_on_repeated_failure() -> None:
    said: list[str] = []
    starts = {"n": 0}

    def start() -> subprocess.Popen[bytes]:
        starts["n"] += 1
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    supervisor = Supervisor(max_restarts=3, window=60, say=said.append)
    supervisor.add(
        Child("flaky", {"service": "flaky", "region": "ontario", "role": "service"}, start)
    ).launch()
    deadline = time.monotonic() + 30

    def run_until_it_gives_up() -> None:
        while time.monotonic() < deadline:
            supervisor.check()
            time.sleep(0.05)

    with pytest.raises(GaveUp, match="flaky exited 4 times"):
        run_until_it_gives_up()
    assert starts["n"] == 4  # the first start and three restarts
    assert len(said) == 3 and all("flaky exited with status 3" in line for line in said)
    assert [line.split(" in ")[-1] for line in said] == ["0.5s", "1.0s", "2.0s"]
