"""The five services served over real HTTP (uvicorn in threads) on one real nats-server.

Each service runs its own lifespan (migrations on a fresh SQLite file, broker, relay, consumers)
in a uvicorn server on a free loopback port, as `echo-hub dev` would run it, so HTTP tools that
make blocking calls (schemathesis) and async clients can both reach it.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import uvicorn
from echo_runtime.natsserver import free_port
from echo_runtime.provision import apply_topology
from echo_runtime.service import ServiceRuntime
from echo_runtime.testing import REGIONS, reset_streams

SERVICES = ("scheduling", "cases", "attendance", "notifications", "reporting")


def settings_class(service: str) -> type[Any]:
    module = importlib.import_module(f"echo_{service}.settings")
    return getattr(module, f"{service.capitalize()}Settings")  # type: ignore[no-any-return]


def build_runtime(
    service: str, nats_url: str, workdir: Path, port: int, **overrides: Any
) -> ServiceRuntime:
    """`bootstrap(settings)` of one service with its files under `workdir`."""
    cls = settings_class(service)
    fields = cls.model_fields
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "database_url": f"sqlite+aiosqlite:///{workdir}/{service}.db",
        "regions": list(REGIONS),
        "port": port,
    }
    extras = {
        "library_dir": workdir / "library",
        "mail_drop_dir": str(workdir / "mail"),
        "public_base_url": f"http://127.0.0.1:{port}",
        "library_public_url": f"http://127.0.0.1:{port}",
    }
    values.update({k: v for k, v in extras.items() if k in fields})
    values.update(overrides)
    bootstrap = importlib.import_module(f"echo_{service}.bootstrap").bootstrap
    runtime: ServiceRuntime = bootstrap(cls(**values))
    return runtime


@dataclass
class Served:
    service: str
    runtime: ServiceRuntime
    server: uvicorn.Server
    thread: threading.Thread
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def serve(service: str, runtime: ServiceRuntime, port: int) -> Served:
    config = uvicorn.Config(
        runtime.create_app(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{service}", daemon=True)
    thread.start()
    for _ in range(1200):  # bounded: 60 s
        if server.started:
            break
        if not thread.is_alive():
            raise RuntimeError(f"{service} did not start")
        threading.Event().wait(0.05)
    else:
        raise TimeoutError(f"{service} not started within 60 s")
    return Served(service, runtime, server, thread, port)


def stop(served: Served) -> None:
    served.server.should_exit = True
    served.thread.join(30)


def provision(nats_url: str) -> None:
    """Fresh streams and durables of the three regions (the operator's provisioning)."""

    async def run() -> None:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            await reset_streams(js)
            await apply_topology(js, list(REGIONS))
        finally:
            await nc.close()

    asyncio.run(run())


@contextmanager
def served_stack(
    nats_url: str, workdir: Path, services: tuple[str, ...] = SERVICES, **overrides: Any
) -> Iterator[dict[str, Served]]:
    """Every service up, each on its own port and database; all stopped afterwards."""
    provision(nats_url)
    running: dict[str, Served] = {}
    try:
        for service in services:
            port = free_port()
            runtime = build_runtime(service, nats_url, workdir, port, **overrides)
            running[service] = serve(service, runtime, port)
        yield running
    finally:
        for served in running.values():
            stop(served)
