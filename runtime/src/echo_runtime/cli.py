"""`python -m echo_<service> [serve|migrate]`: the same two commands for every service."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Callable

import uvicorn
from starlette.types import ASGIApp

from echo_runtime.database import SchemaMismatch, check_schema, migrate
from echo_runtime.logging import configure_logging
from echo_runtime.service import ServiceRuntime
from echo_runtime.settings import ServiceSettings

#: How `--workers` tells each worker process which service to build (`module:function`).
BUILD_ENV = "ECHO_SERVE_BUILD"


def run_service_cli(
    build: Callable[[ServiceSettings | None], ServiceRuntime],
    settings_cls: type[ServiceSettings],
    argv: list[str] | None = None,
) -> int:
    """Serve the service with uvicorn (uvloop and httptools when installed) or migrate it.

    `--workers N` runs N processes on one port: migrations run once here first, then each
    worker serves HTTP, relays the outbox (several relays share it safely on PostgreSQL) and
    consumes from the same durables. Use it with PostgreSQL; SQLite has a single writer.
    """
    settings = settings_cls()
    parser = argparse.ArgumentParser(prog=f"echo-{settings.service}")
    parser.add_argument("command", choices=["serve", "migrate"], nargs="?", default="serve")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on the port (default 1; each runs the relay and the consumers)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    runtime = build(settings)
    if args.command == "migrate":
        if runtime.migrations is None:  # a service without a database (the console)
            print(f"{settings.service}: no database to migrate")
            return 0
        before, after = asyncio.run(_migrate_once(runtime))
        if before == after:
            print(
                f"{settings.service}: the database is already at {', '.join(after)}; nothing to do"
            )
        else:
            print(
                f"{settings.service}: migrated the database from"
                f" {', '.join(before) or 'no schema'} to {', '.join(after)}"
            )
        return 0
    # Before uvicorn logs its first line: its lines are JSON through the same formatter.
    configure_logging(settings.service, settings.regions, settings.log_level)
    if not settings.migrates_at_start:
        # Production: the migration Job / one-shot migrates; refuse a schema not at our head.
        try:
            asyncio.run(_check_once(runtime, settings.service))
        except SchemaMismatch as exc:
            print(f"refusing to start: {exc}", file=sys.stderr)
            return 1
    common = {
        "host": args.host,
        "port": args.port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }
    if args.workers == 1:
        uvicorn.run(runtime.asgi(), **common)
        return 0
    if settings.migrates_at_start and runtime.migrations is not None:
        # Once, before the workers start: concurrent upgrades of one database would collide.
        asyncio.run(migrate(runtime.db, runtime.migrations))
        prefix = str(settings_cls.model_config.get("env_prefix", ""))
        os.environ[f"{prefix}AUTO_MIGRATE"] = "false"
    os.environ[BUILD_ENV] = f"{build.__module__}:{build.__qualname__}"
    uvicorn.run(
        "echo_runtime.cli:asgi_from_environment",
        factory=True,
        workers=args.workers,
        **common,
    )
    return 0


async def _migrate_once(runtime: ServiceRuntime) -> tuple[tuple[str, ...], tuple[str, ...]]:
    assert runtime.migrations is not None  # `migrate` returned early for a service without one
    try:
        return await migrate(runtime.db, runtime.migrations)
    finally:
        await runtime.db.dispose()


async def _check_once(runtime: ServiceRuntime, service: str) -> None:
    if runtime.migrations is None:  # no database (the console): nothing to check
        return
    try:
        await check_schema(runtime.db, runtime.migrations, service)
    finally:
        await runtime.db.dispose()


def asgi_from_environment() -> ASGIApp:
    """The app of one `--workers` process: the service named by `ECHO_SERVE_BUILD`."""
    module, _, name = os.environ[BUILD_ENV].partition(":")
    build: Callable[[ServiceSettings | None], ServiceRuntime] = getattr(
        importlib.import_module(module), name
    )
    return build(None).asgi()
