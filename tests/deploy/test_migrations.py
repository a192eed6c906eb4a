"""Migrations as operators run them: Jobs / one-shots migrate, services only check the schema.

Three `migrate` processes on one PostgreSQL database at once: one migrates, the other two wait
on the advisory lock and find nothing to do; then three `serve` processes start on the schema.
A service refuses to start on an unmigrated or a newer schema, saying what to do.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from echo_runtime.natsserver import free_port
from echo_runtime.testing import PostgresProvider, eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def postgres_url(postgres: PostgresProvider) -> AsyncIterator[str]:
    url = await postgres.create()
    try:
        yield url
    finally:
        await postgres.drop(url)


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _env(url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CASES_DATABASE_URL": url,
            "CASES_REGIONS": "ontario",
            "CASES_MESSAGING": "false",
            "CASES_AUTO_MIGRATE": "false",
            **extra,
        }
    )
    return env


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "echo_cases", *args], env=env, stdout=out, stderr=out
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _lock_waiters(conn: asyncpg.Connection) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    )


async def test_three_processes_migrate_one_database_at_once_then_all_serve(
    postgres_url: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    env = _env(postgres_url)
    blocker = await asyncpg.connect(_plain(postgres_url))
    try:
        # Hold the migration lock ourselves: all three start, all three must wait on it.
        from echo_cases.bootstrap import MIGRATIONS
        from echo_runtime.database import _lock_key

        await blocker.execute("SELECT pg_advisory_lock($1)", _lock_key(MIGRATIONS))
        for n in range(3):
            processes.append(_start(["migrate"], env, tmp_path / f"migrate-{n}.log"))

        async def all_waiting() -> bool:
            return await _lock_waiters(blocker) == 3

        assert await eventually(all_waiting, timeout=120)
        assert all(proc.poll() is None for proc in processes)  # all three are waiting
        await blocker.execute("SELECT pg_advisory_unlock_all()")
        codes = [proc.wait(180) for proc in processes]
        outputs = [(tmp_path / f"migrate-{n}.log").read_text() for n in range(3)]
        assert codes == [0, 0, 0], outputs
        migrated = [o for o in outputs if "migrated the database from no schema" in o]
        idle = [o for o in outputs if "nothing to do" in o]
        assert (len(migrated), len(idle)) == (1, 2), outputs
        versions = await blocker.fetch("SELECT version_num FROM alembic_version")
        assert len(versions) == 1
    finally:
        await blocker.close()

    processes.clear()
    ports = [free_port() for _ in range(3)]
    for n, port in enumerate(ports):
        processes.append(_start(["serve", "--port", str(port)], env, tmp_path / f"serve-{n}.log"))
    async with httpx.AsyncClient(timeout=5) as client:
        for n, port in enumerate(ports):

            async def ready(port: int = port, n: int = n) -> bool:
                assert processes[n].poll() is None, (tmp_path / f"serve-{n}.log").read_text()
                try:
                    return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False

            assert await eventually(ready, timeout=180)


def _refused(env: dict[str, str], tmp_path: Path, name: str) -> str:
    log = tmp_path / f"{name}.log"
    proc = _start(["serve", "--port", str(free_port())], env, log)
    try:
        code = proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert code != 0
    return log.read_text()


async def test_a_service_refuses_an_unmigrated_or_newer_schema(
    postgres_url: str, tmp_path: Path
) -> None:
    # as in production (see the next test): `serve` does not migrate, it checks
    env = _env(postgres_url)
    text = _refused(env, tmp_path, "unmigrated")
    assert "refusing to start" in text and "has no schema" in text
    assert "python -m echo_cases migrate" in text
    conn = await asyncpg.connect(_plain(postgres_url))
    try:
        # nothing was created: the service did not migrate on its own
        assert await conn.fetchval("SELECT to_regclass('alembic_version')") is None
        migrate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "echo_cases", "migrate", env=env
        )
        assert await migrate.wait() == 0
        await conn.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
        text = _refused(env, tmp_path, "newer")
        assert "f00dfeedbeef" in text and "newer than this version knows" in text
    finally:
        await conn.close()


def test_production_serve_checks_and_development_migrates() -> None:
    from echo_cases.settings import CasesSettings

    assert CasesSettings().migrates_at_start is True
    assert (
        CasesSettings(environment="production", auth_jwks_json='{"keys": []}').migrates_at_start
        is False
    )
    assert CasesSettings(
        environment="production", auth_jwks_json='{"keys": []}', auto_migrate=True
    ).migrates_at_start
