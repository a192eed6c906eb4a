"""Child processes of `echo-hub dev`: pick ports, wait until ready, supervise, stop them all."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass
class Child:
    """A process `echo-hub dev` runs and restarts: how to start it and what it is."""

    name: str
    #: `service`, `region` and `role` (service or nats) as `urls.json` lists them.
    labels: dict[str, str]
    start: Callable[[], subprocess.Popen[bytes]]
    process: subprocess.Popen[bytes] | None = None
    restarts: deque[float] = field(default_factory=deque)
    restart_at: float | None = None

    def launch(self) -> None:
        self.process = self.start()
        self.restart_at = None


class GaveUp(RuntimeError):
    """A child kept failing: more restarts in the window than the supervisor allows."""


@dataclass
class Supervisor:
    """Restarts children that exit, with back-off; gives up on one that keeps failing.

    A child that exits is started again after 0.5 s, then 1, 2, 4 ... up to 15 s while it keeps
    exiting; one line per restart on the console. More than `max_restarts` exits of one child
    within `window` seconds stop the platform (exit status 1): something is wrong that a
    restart does not cure.
    """

    children: list[Child] = field(default_factory=list)
    max_restarts: int = 5
    window: float = 60.0
    say: Callable[[str], None] = print

    def add(self, child: Child) -> Child:
        self.children.append(child)
        return child

    def check(self) -> bool:
        """Restart what is due; True when a child was (re)started (its pid changed)."""
        now = time.monotonic()
        changed = False
        for child in self.children:
            proc = child.process
            if proc is None or proc.poll() is None:
                continue
            if child.restart_at is None:
                while child.restarts and now - child.restarts[0] > self.window:
                    child.restarts.popleft()
                if len(child.restarts) >= self.max_restarts:
                    raise GaveUp(
                        f"{child.name} exited {len(child.restarts) + 1} times within"
                        f" {self.window:.0f}s (last status {proc.returncode}); giving up"
                    )
                child.restarts.append(now)
                delay = min(0.5 * 2 ** (len(child.restarts) - 1), 15.0)
                child.restart_at = now + delay
                self.say(
                    f"echo-hub dev: {child.name} exited with status {proc.returncode};"
                    f" restart {len(child.restarts)} of {self.max_restarts} in {delay:.1f}s"
                )
                sys.stdout.flush()
            if child.restart_at is not None and now >= child.restart_at:
                child.launch()
                changed = True
        return changed

    def labelled_pids(self) -> list[dict[str, Any]]:
        """Every child's pid with its service, region and role (for `urls.json`)."""
        return [
            {"pid": c.process.pid, **c.labels}
            for c in self.children
            if c.process is not None and c.process.poll() is None
        ]
