"""Child processes of `echo-hub dev`: pick ports, wait until ready, stop them all."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

import httpx
from echo_runtime.natsserver import free_port


def port_for(wanted: int) -> int:
    """`wanted` when it is free (0: any free port), else a free one."""
    if wanted:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", wanted))
            except OSError:
                return free_port()
            return wanted
    return free_port()


def wait_ready(
    name: str, proc: subprocess.Popen[bytes], url: str, log: Path, deadline: float
) -> None:
    """Block until `url` + /readyz answers 200; fail fast when the process exits."""
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not ready in time; see {log}")
        time.sleep(0.2)


def stop_all(processes: Iterable[subprocess.Popen[bytes]], grace: float = 15.0) -> None:
    """SIGTERM every process, wait up to `grace` seconds in all, then SIGKILL the rest."""
    procs = list(processes)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def region_links(service: str, scheduling_url: str) -> dict[str, str]:
    """Environment a service needs to link people to another service of its region."""
    if service == "notifications":
        library = scheduling_url + "/v1/programmes/{programme_id}/materials"
        return {"NOTIFICATIONS_LIBRARY_URL": library}
    return {}
