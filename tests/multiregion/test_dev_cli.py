"""`echo-hub dev --topology multi-region` as an operator runs it: URLs printed, Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def spans_in(log: Path) -> list[dict[str, Any]]:
    """The spans the console exporter printed among the JSON log lines."""
    text, found, at = log.read_text(), [], 0
    decoder = json.JSONDecoder()
    while (at := text.find('{\n    "name"', at)) >= 0:
        span, end = decoder.raw_decode(text, at)
        found.append(span)
        at = end
    return found


def a_programme_traced_across_the_region(info: dict[str, Any], data: Path) -> list[dict[str, Any]]:
    """Create a programme in ontario; its trace (HTTP, outbox, consumers) names the region on
    every span: the process's regions as a resource attribute, the event's on message spans."""
    headers = {"authorization": f"Bearer {info['token']}"}
    created = httpx.post(
        info["services"]["ontario/scheduling"] + "/v1/programmes",
        headers=headers,
        timeout=30,
        json={
            "region": "ontario",
            "title": "Traced ECHO",
            "timezone": "America/Toronto",
            "starts_on": "2027-05-01",
            "local_start": "12:00",
            "session_count": 2,
        },
    )
    assert created.status_code == 201, created.text
    logs = list((data / "logs").glob("*.log"))

    def trace() -> list[dict[str, Any]]:
        spans = [s for log in logs for s in spans_in(log)]
        [root] = [s for s in spans if s["kind"] == "SpanKind.SERVER" and "POST" in s["name"]] or [
            None
        ]
        if root is None:
            return []
        mine = [s for s in spans if s["context"]["trace_id"] == root["context"]["trace_id"]]
        consumers = {
            s["resource"]["attributes"]["service.name"]
            for s in mine
            if s["kind"] == "SpanKind.CONSUMER"
        }
        return mine if len(consumers) >= 2 else []

    deadline = time.monotonic() + 60
    spans = trace()
    while not spans and time.monotonic() < deadline:
        time.sleep(0.5)
        spans = trace()
    assert spans, "no trace with the programme's HTTP request and two consumers"
    for span in spans:
        resource = span["resource"]["attributes"]
        assert resource["echo.regions"] == "ontario", span["name"]
        assert resource["service.namespace"] == "echo"
        assert resource["deployment.environment"] == "development"
        if span["kind"] in ("SpanKind.CONSUMER", "SpanKind.PRODUCER"):
            assert span["attributes"]["echo.region"] == "ontario", span["name"]
    return spans


def source_lag_is_exported_at_the_superhub_and_in_the_region(info: dict[str, Any]) -> None:
    """ECHO_NETWORK's source per region at the superhub; the region's source of templates."""
    wanted = {
        "superhub/reporting": 'echo_stream_source_lag_messages{region="ontario",'
        'source="ECHO_ONTARIO",stream="ECHO_NETWORK"}',
        "ontario/reporting": 'echo_stream_source_lag_messages{region="ontario",'
        'source="ECHO_SUPERHUB",stream="ECHO_ONTARIO"}',
    }
    deadline = time.monotonic() + 30  # the gauges are refreshed every 5 s
    for where, series in wanted.items():
        assert httpx.get(info["services"][where] + "/metrics", timeout=5).status_code == 404
        while series not in (body := httpx.get(info["metrics"][where], timeout=5).text):
            assert time.monotonic() < deadline, f"{where}: no {series} in\n{body[-2000:]}"
            time.sleep(0.5)
        assert 'target_info{deployment_environment="development",echo_regions="ontario"' in body


def test_one_region_and_the_superhub_start_print_their_urls_and_stop_on_ctrl_c(
    tmp_path: Path,
) -> None:
    data = tmp_path / "dev"
    out = tmp_path / "out.txt"
    # every span printed to the process logs, every 100 ms: the trace is read back below
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "100"}
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
            env=env,
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
        labelled = {(p["role"], p["region"], p["service"]) for p in info["processes"]}
        assert ("nats", "ontario", "leaf-ontario") in labelled
        assert ("service", "superhub", "reporting") in labelled
        assert ("service", "ontario", "cases") in labelled
        assert sorted(p["pid"] for p in info["processes"]) == sorted(pids)
        trace = a_programme_traced_across_the_region(info, data)
        print(f"{len(trace)} spans in the trace of one programme, each with its region")
        source_lag_is_exported_at_the_superhub_and_in_the_region(info)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(90) == 0
    deadline = time.monotonic() + 30
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not [p for p in pids if alive(p)]
    assert not (data / "urls.json").exists()
