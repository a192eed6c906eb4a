"""`echo-hub dev --topology multi-region`: the superhub and one leaf per region, on this machine.

The checked-in `deploy/nats` configs (a superhub server in JetStream domain `hub`; a leaf per
region with its own domain and account) are copied into the data directory and started with
their `$VARIABLES` (ports, store directories, one random password per user) set for loopback.
Streams are provisioned as an operator would (`echo-hub streams apply --network-only` at the
superhub, `--no-network --superhub-api '$JS.hub.API'` on each leaf). Each region's five services
run on its leaf under their own least-privilege users; the superhub runs scheduling (templates).
Ctrl-C stops exactly the processes started here.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
from echo_contracts.topology import HUB_DOMAIN, NETWORK_READERS, domain_api
from echo_runtime.auth import mint_dev_token
from echo_runtime.natsserver import free_port, nats_server_binary
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
#: What the superhub runs (its config has users for these only).
HUB_SERVICES = ["scheduling", "reporting"]
#: The checked-in configs, next to this package in the repository.
NATS_DIR = Path(__file__).resolve().parents[3] / "deploy" / "nats"
HUB_SERVERS = ("hub-1", "hub-2", "hub-3")


def env_name(*parts: str) -> str:
    return "_".join(p.upper().replace("-", "_") for p in parts)


def new_password() -> str:
    """Letters and digits, starting with a letter (nats-server would read `12e4...` as a number)."""
    return "p" + secrets.token_hex(20)


def password_names(regions: list[str]) -> list[str]:
    names = ["NATS_SYS_PASSWORD", "NATS_ROUTE_PASSWORD", "HUB_ADMIN_NATS_PASSWORD"]
    names += [
        env_name("hub", s, "NATS_PASSWORD") for s in ("scheduling", "reporting", "integrator")
    ]
    for region in regions:
        names.append(env_name("leaf", region, "NATS_PASSWORD"))
        names.append(env_name(region, "admin", "NATS_PASSWORD"))
        names += [env_name(region, s, "NATS_PASSWORD") for s in (*SERVICES, "integrator")]
    return names


@dataclass
class Server:
    """One nats-server from a checked-in config, its variables set for loopback."""

    name: str
    config: Path
    env: dict[str, str]
    client_port: int
    http_port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def url(self, user: str, password: str) -> str:
        return f"nats://{user}:{password}@127.0.0.1:{self.client_port}"

    @property
    def public_url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603
                [str(nats_server_binary()), "-c", str(self.config)],
                env=self.env,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"nats {self.name} exited {self.process.returncode}; see {self.log}"
                )
            try:
                url = f"http://127.0.0.1:{self.http_port}/healthz"
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"nats {self.name} not healthy after {timeout}s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def _server(
    name: str,
    config: Path,
    data_dir: Path,
    passwords: dict[str, str],
    extra: dict[str, str],
) -> Server:
    """Copy `config` into the data directory and fill its variables in for loopback."""
    nats_dir = data_dir / "nats"
    store = nats_dir / name
    store.mkdir(parents=True, exist_ok=True)
    rendered = nats_dir / f"{name}.conf"
    shutil.copyfile(config, rendered)
    client, http, cluster, leaf = free_port(), free_port(), free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "NATS_SERVER_NAME": name,
        "NATS_HOST": "127.0.0.1",
        "NATS_PORT": str(client),
        "NATS_HTTP_PORT": str(http),
        "NATS_CLUSTER_PORT": str(cluster),
        "NATS_LEAF_PORT": str(leaf),
        "NATS_STORE_DIR": str(store.resolve()),
        "NATS_MAX_FILE_STORE": "1GB",
        **passwords,
        **extra,
    }
    # What is machine-specific, next to the copy (no passwords): to see what runs where.
    (nats_dir / f"{name}.ports.json").write_text(
        json.dumps(
            {"client": client, "http": http, "cluster": cluster, "leaf": leaf, "store": str(store)}
        )
    )
    return Server(name, rendered, env, client, http, nats_dir / f"{name}.log")


@dataclass
class MultiRegionPlatform:
    regions: list[str]
    data_dir: Path
    base_port: int
    nats_dir: Path = NATS_DIR
    passwords: dict[str, str] = field(default_factory=dict)
    hubs: list[Server] = field(default_factory=list)
    #: The server the superhub's services and the operator connect to.
    hub: Server | None = None
    leaves: dict[str, Server] = field(default_factory=dict)
    #: `(where, service)` -> process; `where` is a region or `superhub`.
    processes: dict[tuple[str, str], subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[tuple[str, str], int] = field(default_factory=dict)
    metrics_ports: dict[tuple[str, str], int] = field(default_factory=dict)
    supervisor: Supervisor = field(default_factory=Supervisor)

    def metrics_url(self, where: str, service: str) -> str:
        return f"http://127.0.0.1:{self.metrics_ports[(where, service)]}/metrics"

    def supervise(self) -> bool:
        """Restart what exited (raises `GaveUp`); True when a pid changed."""
        changed = self.supervisor.check()
        if changed:
            for child in self.supervisor.children:
                if child.labels["role"] == "service" and child.process is not None:
                    where = child.labels["region"]
                    self.processes[(where, child.labels["service"])] = child.process
        return changed

    def _supervise_server(self, server: Server, region: str) -> None:
        def start() -> subprocess.Popen[bytes]:
            server.start()
            assert server.process is not None
            return server.process

        labels = {"service": server.name, "region": region, "role": "nats"}
        self.supervisor.add(Child(f"nats {server.name}", labels, start)).launch()

    def password(self, *parts: str) -> str:
        return self.passwords[env_name(*parts, "NATS_PASSWORD")]

    def url(self, where: str, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[(where, service)]}"

    def start_nats(self) -> None:
        secrets_file = self.data_dir / "nats" / "passwords.json"
        secrets_file.parent.mkdir(parents=True, exist_ok=True)
        known: dict[str, str] = (
            json.loads(secrets_file.read_text()) if secrets_file.exists() else {}
        )
        self.passwords = {n: known.get(n) or new_password() for n in password_names(self.regions)}
        secrets_file.write_text(json.dumps(self.passwords))
        secrets_file.chmod(0o600)
        # The superhub's config references every region's leaf user: the regions not run here
        # get a password nobody knows.
        for name in re.findall(
            r"\$([A-Z0-9_]+_PASSWORD)", (self.nats_dir / "superhub.conf").read_text()
        ):
            self.passwords.setdefault(name, new_password())
        missing = [r for r in self.regions if not (self.nats_dir / f"leaf-{r}.conf").exists()]
        if missing:
            raise RuntimeError(
                f"no checked-in leaf config for {', '.join(missing)} in {self.nats_dir}"
                " (add the region to deploy/nats/generate.py)"
            )
        self.hubs = [
            _server(name, self.nats_dir / "superhub.conf", self.data_dir, self.passwords, {})
            for name in HUB_SERVERS
        ]
        ports = [
            json.loads((self.data_dir / "nats" / f"{h.name}.ports.json").read_text())
            for h in self.hubs
        ]
        route = f"nats-route://route:{self.passwords['NATS_ROUTE_PASSWORD']}@127.0.0.1:"
        for hub in self.hubs:  # the cluster of the checked-in config: three servers
            for i, p in enumerate(ports):
                hub.env[f"NATS_ROUTE_{i + 1}"] = f"{route}{p['cluster']}"
        self.hub = self.hubs[0]
        leaf_port = ports[0]["leaf"]
        for region in self.regions:
            leaf_url = (
                f"nats-leaf://leaf-{region}:{self.password('leaf', region)}@127.0.0.1:{leaf_port}"
            )
            self.leaves[region] = _server(
                f"leaf-{region}",
                self.nats_dir / f"leaf-{region}.conf",
                self.data_dir,
                self.passwords,
                {"NATS_HUB_LEAF_URL": leaf_url},
            )
        for hub in self.hubs:
            self._supervise_server(hub, "superhub")
        for hub in self.hubs:
            hub.wait_ready()
        for region, leaf in self.leaves.items():
            self._supervise_server(leaf, region)
        for leaf in self.leaves.values():
            leaf.wait_ready()

    async def provision(self) -> None:
        """As an operator would: the superhub (network only), then each leaf (its region)."""
        assert self.hub is not None
        nc = await nats.connect(self.hub.url("admin", self.password("hub", "admin")))
        try:
            await apply_topology(
                nc.jetstream(timeout=30),
                self.regions,
                regional=False,
                region_apis={r: domain_api(r) for r in self.regions},
                region_delivers={r: _hub_deliver(r) for r in self.regions},
            )
        finally:
            await nc.close()
        for region, leaf in self.leaves.items():
            nc = await nats.connect(leaf.url("admin", self.password(region, "admin")))
            try:
                await apply_topology(
                    nc.jetstream(timeout=30),
                    [region],
                    network=False,
                    superhub_api=domain_api(HUB_DOMAIN),
                    superhub_deliver=_region_deliver(region),
                )
            finally:
                await nc.close()

    def _start(self, where: str, service: str, nats_url: str, user: str, password: str) -> None:
        port = port_for(self.base_port + len(self.ports) if self.base_port else 0)
        self.ports[(where, service)] = port
        self.metrics_ports[(where, service)] = port_for(0)
        prefix = service.upper() + "_"
        home = self.data_dir / where
        home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            {
                # log lines (and console-exported spans) reach the log file at once
                "PYTHONUNBUFFERED": "1",
                f"{prefix}NATS_URL": nats_url,
                f"{prefix}NATS_USER": user,
                f"{prefix}NATS_PASSWORD": password,
                f"{prefix}REGIONS": where if where != "superhub" else ",".join(self.regions),
                f"{prefix}DATABASE_URL": (
                    f"sqlite+aiosqlite:///{(home / f'{service}.db').resolve()}"
                ),
                f"{prefix}DATA_DIR": str((home / service).resolve()),
                f"{prefix}PUBLIC_URL": f"http://127.0.0.1:{port}",
                f"{prefix}METRICS_PORT": str(self.metrics_ports[(where, service)]),
                # Superhub readers fold each region's network events from ECHO_NETWORK.
                f"{prefix}NETWORK_VIEW": str(
                    where == "superhub" and service in NETWORK_READERS
                ).lower(),
            }
        )
        if (where, "scheduling") in self.ports:  # started first in every region
            for name, value in region_links(service, self.url(where, "scheduling")).items():
                env.setdefault(name, value)
        log_path = self.data_dir / "logs" / f"{where}-{service}.log"
        argv = [sys.executable, "-m", f"echo_{service}", "serve", "--port", str(port)]

        def start() -> subprocess.Popen[bytes]:
            with log_path.open("ab") as log:
                return subprocess.Popen(  # noqa: S603
                    argv, env=env, stdout=log, stderr=log, start_new_session=True
                )

        labels = {"service": service, "region": where, "role": "service"}
        child = self.supervisor.add(Child(f"{where} {service}", labels, start))
        child.launch()
        assert child.process is not None
        self.processes[(where, service)] = child.process

    def start_services(self) -> None:
        assert self.hub is not None
        for service in HUB_SERVICES:
            self._start(
                "superhub",
                service,
                self.hub.public_url,
                service,
                self.password("hub", service),
            )
        for region, leaf in self.leaves.items():
            for service in SERVICES:
                self._start(
                    region, service, leaf.public_url, service, self.password(region, service)
                )

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        for (where, service), proc in self.processes.items():
            log = self.data_dir / "logs" / f"{where}-{service}.log"
            wait_ready(f"{where} {service}", proc, self.url(where, service), log, deadline)

    def stop(self) -> None:
        stop_all(self.processes.values(), grace=20)
        for leaf in self.leaves.values():
            leaf.stop()
        for hub in self.hubs:
            hub.stop()


def _hub_deliver(region: str) -> str:
    from echo_contracts.topology import HUB_ACCOUNT, deliver_prefix, stream_name

    return deliver_prefix(HUB_ACCOUNT, stream_name(region))


def _region_deliver(region: str) -> str:
    from echo_contracts.topology import SUPERHUB_STREAM, account_name, deliver_prefix

    return deliver_prefix(account_name(region), SUPERHUB_STREAM)


def write_urls(platform: MultiRegionPlatform, token: str) -> None:
    """`urls.json`: what runs where, each pid labelled; rewritten after every restart."""
    assert platform.hub is not None
    processes = platform.supervisor.labelled_pids()
    info = {
        "superhub_nats": platform.hub.public_url,
        "leaves": {r: s.public_url for r, s in platform.leaves.items()},
        "services": {
            f"{where}/{service}": platform.url(where, service) for where, service in platform.ports
        },
        "metrics": {
            f"{where}/{service}": platform.metrics_url(where, service)
            for where, service in platform.metrics_ports
        },
        "token": token,
        "pids": [p["pid"] for p in processes],
        "processes": processes,
    }
    target = platform.data_dir / "urls.json"
    partial = target.with_suffix(".json.tmp")
    partial.write_text(json.dumps(info))
    partial.replace(target)


def run_multi_region(*, regions: list[str], data_dir: Path, fresh: bool, base_port: int) -> int:
    """Start the superhub, the leaves and every service; print the URLs; wait for Ctrl-C."""
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    platform = MultiRegionPlatform(regions=regions, data_dir=data_dir, base_port=base_port)
    stopping = {"flag": False}

    def on_signal(signum: int, _: Any) -> None:
        stopping["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        platform.start_nats()
        asyncio.run(platform.provision())
        platform.start_services()
        platform.wait_ready()
        secret = os.environ.get("ECHO_AUTH_DEV_SECRET", DEV_SECRET)
        token = mint_dev_token(secret, roles=["network-admin"], regions=["*"])
        assert platform.hub is not None
        print("ECHO network, multi-region (Ctrl-C stops everything)\n")
        urls = ", ".join(h.public_url for h in platform.hubs)
        print(f"  superhub NATS   {urls}   (domain hub, 3 servers)")
        for service in HUB_SERVICES:
            print(f"  superhub {service:<13} {platform.url('superhub', service)}")
        for region, leaf in platform.leaves.items():
            print(f"\n  {region} NATS   {leaf.public_url}   (domain {region}, leaf of the hub)")
            for service in SERVICES:
                print(f"  {region} {service:<13} {platform.url(region, service)}")
        print(f"\n  data, configs and logs {data_dir.resolve()}")
        print(f"  NATS passwords         {data_dir.resolve() / 'nats' / 'passwords.json'}")
        print("\nA network-admin development token (12 h):\n")
        print(f"  export TOKEN={token}\n")
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
    except (RuntimeError, TimeoutError, httpx.HTTPError, OSError) as exc:
        print(f"echo-hub dev failed: {exc}", file=sys.stderr)
        return 1
    finally:
        platform.stop()
        (data_dir / "urls.json").unlink(missing_ok=True)
        print("stopped")
