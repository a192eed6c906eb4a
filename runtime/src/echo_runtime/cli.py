"""`python -m echo_<service> [serve|migrate]`: the same two commands for every service."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

import uvicorn

from echo_runtime.database import migrate
from echo_runtime.service import ServiceRuntime
from echo_runtime.settings import ServiceSettings


def run_service_cli(
    build: Callable[[ServiceSettings | None], ServiceRuntime],
    settings_cls: type[ServiceSettings],
    argv: list[str] | None = None,
) -> int:
    """Serve the service with uvicorn (one worker, uvloop) or run its migrations."""
    settings = settings_cls()
    parser = argparse.ArgumentParser(prog=f"echo-{settings.service}")
    parser.add_argument("command", choices=["serve", "migrate"], nargs="?", default="serve")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args(argv)
    runtime = build(settings)
    if args.command == "migrate":
        asyncio.run(migrate(runtime.db, runtime.migrations))
        print(f"{settings.service}: database migrated to head")
        return 0
    uvicorn.run(
        runtime.asgi(),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0
