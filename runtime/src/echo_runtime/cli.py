"""`python -m echo_<service> [serve|migrate]`: the same two commands for every service."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
from collections.abc import Callable

import uvicorn
from starlette.types import ASGIApp

from echo_runtime.database import migrate
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
        asyncio.run(migrate(runtime.db, runtime.migrations))
        print(f"{settings.service}: database migrated to head")
        return 0
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
    if settings.auto_migrate and runtime.migrations is not None:
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


def asgi_from_environment() -> ASGIApp:
    """The app of one `--workers` process: the service named by `ECHO_SERVE_BUILD`."""
    module, _, name = os.environ[BUILD_ENV].partition(":")
    build: Callable[[ServiceSettings | None], ServiceRuntime] = getattr(
        importlib.import_module(module), name
    )
    return build(None).asgi()
