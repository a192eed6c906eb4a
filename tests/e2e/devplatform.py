"""`echo-hub dev` as a person starts it, for the end-to-end tests (one platform a module)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """URLs, pids, token and data dir of a running `echo-hub dev` (emails land as .eml files)."""
    data = tmp_path_factory.mktemp("echo-dev")
    env = dict(os.environ)
    env.pop("NOTIFICATIONS_SMTP_HOST", None)  # emails land as .eml files under data/mail
    proc = subprocess.Popen(
        [sys.executable, "-m", "echo_hub", "dev", "--data-dir", str(data), "--base-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    urls = data / "urls.json"
    deadline = time.monotonic() + 150
    while not urls.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out = proc.stdout.read() if proc.stdout else ""
            logs = {p.name: p.read_text()[-3000:] for p in (data / "logs").glob("*.log")}
            pytest.fail(f"echo-hub dev did not come up: {out}\n{logs}")
        time.sleep(0.3)
    info: dict[str, Any] = json.loads(urls.read_text())
    info["process"] = proc
    info["data"] = data
    yield info
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)


def wait_for(check: Any, timeout: float = 60.0) -> Any:
    """Poll `check` until it returns something truthy; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"not reached within {timeout}s: {last!r}")
