"""`echo-hub dev --topology multi-region` as an operator runs it: URLs printed, Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_one_region_and_the_superhub_start_print_their_urls_and_stop_on_ctrl_c(
    tmp_path: Path,
) -> None:
    data = tmp_path / "dev"
    out = tmp_path / "out.txt"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "echo_hub",
                "dev",
                "--topology",
                "multi-region",
                "--regions",
                "ontario",
                "--data-dir",
                str(data),
                "--base-port",
                "0",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 150
        urls = data / "urls.json"
        while not urls.exists():
            assert proc.poll() is None, out.read_text()[-3000:]
            assert time.monotonic() < deadline, out.read_text()[-3000:]
            time.sleep(0.5)
        info = json.loads(urls.read_text())
        printed = out.read_text()
        services = info["services"]
        assert sorted(services) == sorted(
            ["superhub/scheduling", "superhub/reporting"]
            + [f"ontario/{s}" for s in ("scheduling", "cases", "attendance", "notifications")]
            + ["ontario/reporting"]
        )
        for url in [*services.values(), info["leaves"]["ontario"], info["superhub_nats"]]:
            assert url in printed
        for url in services.values():
            assert httpx.get(url + "/readyz", timeout=5).status_code == 200
        pids = info["pids"]
        assert len(pids) == 3 + 1 + len(services) and all(alive(p) for p in pids)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(90) == 0
    deadline = time.monotonic() + 30
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not [p for p in pids if alive(p)]
    assert not (data / "urls.json").exists()
