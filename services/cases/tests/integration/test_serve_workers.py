"""`python -m echo_cases serve --workers 2`: one port, two processes, one migration."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from echo_contracts import ProgrammeCreated, new_envelope, subject_for, to_wire
from echo_runtime.natsserver import NatsServer, free_port
from echo_runtime.testing import PostgresProvider, eventually, token
from nats.js import JetStreamContext

pytestmark = pytest.mark.integration


@pytest.fixture
async def postgres_url(postgres: PostgresProvider) -> AsyncIterator[str]:
    url = await postgres.create()
    try:
        yield url
    finally:
        await postgres.drop(url)


def _workers(pid: int) -> list[int]:
    """Child processes of `pid` started by multiprocessing to run a worker."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[1]) == pid and b"spawn_main" in cmdline:
                found.append(int(entry.name))
    return found


async def test_two_workers_serve_one_port_after_one_migration(
    nats_server: NatsServer, js: JetStreamContext, postgres_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "CASES_DATABASE_URL": postgres_url,
            "CASES_NATS_URL": nats_server.url,
            "CASES_REGIONS": "ontario",
        }
    )
    log = (tmp_path / "cases.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, watched through its HTTP port
        [sys.executable, "-m", "echo_cases", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:

            async def ready() -> bool:
                assert proc.poll() is None, (tmp_path / "cases.log").read_text()[-2000:]
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(ready, timeout=180)  # start-up on a loaded 2-core machine
            workers = await eventually(lambda: len(_workers(proc.pid)) == 2, timeout=120)
            assert workers

            # Both workers consume: the programme reaches the database whichever one takes it.
            programme_id = uuid.uuid4()
            event = ProgrammeCreated(
                programme_id=programme_id,
                region="ontario",
                language="en",
                timezone="America/Toronto",
                session_minutes=90,
                starts_on="2027-01-04",  # type: ignore[arg-type]
            )
            env_ = new_envelope(event, region="ontario", service="scheduling")
            await js.publish(
                subject_for("ontario", event), to_wire(env_), headers={"Nats-Msg-Id": str(env_.id)}
            )
            body = {
                "programme_id": str(programme_id),
                "fields": {"presenting_question": "x"},
            }

            async def known() -> bool:
                got = await client.post("/v1/cases", json=body, headers=token("hub-admin"))
                return got.status_code != 422 or "not known" not in got.text

            await eventually(known, timeout=120)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
    text = (tmp_path / "cases.log").read_text()
    assert "Traceback" not in text, text[-2000:]  # e.g. two workers migrating at once
