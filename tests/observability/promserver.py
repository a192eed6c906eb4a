"""Start Debian's Prometheus on a free port with the shipped rules, against given targets."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from echo_runtime.natsserver import free_port

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
RULES = MONITORING / "prometheus" / "echo-rules.yml"
DASHBOARDS = sorted((MONITORING / "grafana").glob("*.json"))


def binary(name: str) -> str:
    """`prometheus` or `promtool`; a missing one fails the test (scripts/system-deps.sh)."""
    found = shutil.which(name)
    assert found, f"{name} is missing: run scripts/system-deps.sh (Debian's prometheus package)"
    return found


def quick_rules(target: Path, hold: str = "3s") -> Path:
    """The shipped rules with every `for:` shortened, so a test need not wait minutes.

    The expressions are the shipped ones, unchanged.
    """
    target.write_text(re.sub(r"(\n\s+for:) \S+", rf"\1 {hold}", RULES.read_text()))
    return target


class Prometheus:
    def __init__(self, url: str, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.process = process
        self.http = httpx.Client(base_url=url, timeout=10)

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = self.http.get("/api/v1/query", params={"query": expr})
        body = response.json()
        assert body.get("status") == "success", f"{expr}: {body}"
        return list(body["data"]["result"])

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.http.get("/api/v1/alerts").json()["data"]["alerts"])

    def rule_groups(self) -> list[dict[str, Any]]:
        return list(self.http.get("/api/v1/rules").json()["data"]["groups"])

    def targets(self) -> list[dict[str, Any]]:
        return list(self.http.get("/api/v1/targets").json()["data"]["activeTargets"])


@contextmanager
def prometheus(workdir: Path, jobs: dict[str, list[str]]) -> Iterator[Prometheus]:
    """Prometheus scraping `jobs` (job -> metrics URLs) every second, rules every second."""
    workdir.mkdir(parents=True, exist_ok=True)
    rules = quick_rules(workdir / "rules.yml")
    scrape = []
    for job, urls in jobs.items():
        hosts = [u.split("//", 1)[1].split("/", 1)[0] for u in urls]
        scrape.append({"job_name": job, "static_configs": [{"targets": hosts}]})
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": scrape,
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (workdir / "prometheus.log").open("ab")
    process = subprocess.Popen(
        [
            binary("prometheus"),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
        ],
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (workdir / "prometheus.log").read_text()[-3000:]
            try:
                if httpx.get(url + "/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "prometheus not ready in 60 s"
            time.sleep(0.2)
        yield Prometheus(url, process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()
