"""The shipped dashboards and alert rules against a real Prometheus scraping `echo-hub dev`.

One platform (single topology) for the module: the logs of real requests, every dashboard
panel's and alert's query answered with series, one alert fired by a real fault (NATS paused
with SIGSTOP) and resolved after SIGCONT, and a service killed with -9 restarted by
`echo-hub dev` with nothing lost.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from echo_runtime.testing import token

from tests.e2e.devplatform import wait_for
from tests.observability.promserver import (
    DASHBOARDS,
    RULES,
    Prometheus,
    binary,
    prometheus,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SERVICES = ["scheduling", "cases", "attendance", "notifications", "reporting"]
CASE_FIELDS = {
    "presenting_question": "Which second-line agent for this patient?",
    "age_band": "50-59",
    "sex": "male",
    "relevant_history": "Type 2 diabetes for 12 years.",
    "medications": "Metformin 1000 mg BID.",
    "investigations": "HbA1c 9.1%.",
    "what_was_tried": "Diet counselling for 6 months.",
    "specific_question": "SGLT2 inhibitor or GLP-1 agonist first?",
}


@pytest.fixture(scope="module")
def prom(
    platform: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    jobs = {f"echo-{s}": [platform["metrics"][s]] for s in SERVICES}
    with prometheus(tmp_path_factory.mktemp("prometheus"), jobs) as server:
        yield server


@pytest.fixture(scope="module")
def traffic(platform: dict[str, Any]) -> dict[str, Any]:
    """Requests a hub makes on a normal day: a programme, cases, reports (and a 404)."""
    admin = token("hub-admin", "ontario")
    with httpx.Client(timeout=30) as http:
        created = http.post(
            f"{platform['scheduling']}/v1/programmes",
            headers=admin,
            json={
                "region": "ontario",
                "title": "Observability ECHO",
                "timezone": "America/Toronto",
                "starts_on": "2027-03-01",
                "local_start": "12:00",
                "session_count": 3,
            },
        )
        assert created.status_code == 201, created.text
        programme_id = created.json()["id"]
        cases: list[str] = []

        def submit() -> bool:
            case = http.post(
                f"{platform['cases']}/v1/cases",
                headers=admin,
                json={"programme_id": programme_id, "fields": CASE_FIELDS},
            )
            # 422 until cases has learned the programme from scheduling's event
            assert case.status_code in (201, 422), case.text
            if case.status_code == 201:
                cases.append(case.json()["id"])
            return case.status_code == 201

        for _ in range(3):
            wait_for(submit, timeout=60)
        assert (
            http.get(f"{platform['cases']}/v1/cases/{programme_id}", headers=admin).status_code
            == 404
        )
        http.get(f"{platform['reporting']}/v1/reports/regions/ontario", headers=admin)
    return {"programme_id": programme_id, "cases": cases}


def log_lines(platform: dict[str, Any], service: str) -> list[dict[str, Any]]:
    path: Path = platform["data"] / "logs" / f"{service}.log"
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"{service}.log has a line that is not JSON: {line[:300]}")
    return parsed


def test_access_log_request_lines_and_uvicorn_lines_are_json_with_service_region_event(
    platform: dict[str, Any], traffic: dict[str, Any]
) -> None:
    def submitted() -> list[dict[str, Any]]:
        return [line for line in log_lines(platform, "cases") if line["event"] == "case_submitted"]

    wait_for(lambda: len(submitted()) >= 3, timeout=30)
    lines = log_lines(platform, "cases")
    access = [line for line in lines if line["event"] == "http_request"]
    posts = [
        a
        for a in access
        if a["method"] == "POST" and a["route"] == "/v1/cases" and a["status"] == 201
    ]
    assert len(posts) == 3
    for line in posts:
        assert line["duration_ms"] >= 0
        assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"])
        assert line["service"] == "cases" and line["region"] == "ontario"
        assert line["event_id"]
    missing = [a for a in access if a["status"] == 404]
    assert missing and missing[0]["route"] == "/v1/cases/{case_id}"  # the template, not the id
    for line in submitted():
        assert line["service"] == "cases" and line["region"] == "ontario" and line["event_id"]
    # the access line and the request's own line share the event id and the trace
    by_event = {a["event_id"]: a for a in posts}
    for line in submitted():
        assert by_event[line["event_id"]]["trace_id"] == line["trace_id"]
    uvicorn = [line for line in lines if str(line.get("logger", "")).startswith("uvicorn")]
    assert uvicorn and all(line["service"] == "cases" for line in uvicorn)
    # Consumer lines carry the event's region, not the process's three regions.
    handled = [
        line
        for s in SERVICES
        for line in log_lines(platform, s)
        if line.get("event_type") and line.get("event") != "http_request"
    ]
    assert all(line["region"] in ("ontario", "northern-ireland", "shanghai") for line in handled)
    # no case text in any log
    blob = "".join((platform["data"] / "logs" / f"{s}.log").read_text() for s in SERVICES)
    assert CASE_FIELDS["specific_question"] not in blob


def test_metrics_are_not_on_the_public_port(platform: dict[str, Any]) -> None:
    for service in SERVICES:
        assert httpx.get(platform[service] + "/metrics").status_code == 404
        body = httpx.get(platform["metrics"][service]).text
        assert "http_server_request_duration_seconds_bucket" in body
        assert 'target_info{deployment_environment="development"' in body


def test_promtool_checks_and_unit_tests_pass() -> None:
    promtool = binary("promtool")
    check = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run(
        [promtool, "test", "rules", RULES.with_name("echo-rules.test.yml").name],
        capture_output=True,
        text=True,
        cwd=RULES.parent,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "SUCCESS" in tests.stdout


def dashboard_queries() -> dict[str, str]:
    queries = {}
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                # a template variable set to "All" (its allValue)
                queries[f"{path.name}: {panel['title']} [{target['refId']}]"] = target[
                    "expr"
                ].replace("$job", ".*")
    return queries


def measured(expr: str) -> str:
    """An alert's expression with each threshold turned into `bool`: it then returns every
    series it compares (0 or 1), firing or not."""
    return re.sub(r"(==|!=|>=|<=|>|<)\s*(?=[0-9(])", r"\1 bool ", expr)


def test_every_dashboard_panel_and_alert_query_returns_series(
    prom: Prometheus, traffic: dict[str, Any], platform: dict[str, Any]
) -> None:
    groups = {g["name"]: g for g in json.loads(json.dumps(prom.rule_groups()))}
    alerts = [r for r in groups["echo-alerts"]["rules"] if r["type"] == "alerting"]
    records = [r for r in groups["echo-recording"]["rules"]]
    assert len(alerts) >= 11 and len(records) >= 8
    queries = dashboard_queries()
    queries.update({f"alert {r['name']}": measured(r["query"]) for r in alerts})
    queries.update({f"record {r['name']}": r["name"] for r in records})
    assert len(queries) > 40

    admin = token("hub-admin", "ontario")

    def empty() -> list[str]:
        # Requests while Prometheus watches: the rates over them are then defined.
        for service in SERVICES:
            httpx.get(platform[service] + "/v1/programmes/x", headers=admin, timeout=10)
        httpx.get(f"{platform['reporting']}/v1/reports/regions/ontario", headers=admin)
        return [name for name, expr in queries.items() if not prom.query(expr)]

    deadline = time.monotonic() + 120
    left = empty()
    while left and time.monotonic() < deadline:
        time.sleep(2)
        left = empty()
    print(f"{len(queries)} dashboard and rule queries, {len(queries) - len(left)} with series")
    assert not left, f"queries with no series: {left}"

    def unhealthy() -> list[tuple[str, str, str]]:
        # read afresh: the groups listed at the start may not all have been evaluated yet
        # (health "unknown" until a rule's first evaluation, which a loaded machine delays)
        return [
            (r["name"], r["health"], r.get("lastError", ""))
            for g in prom.rule_groups()
            for r in g["rules"]
            if r["health"] != "ok"
        ]

    bad = unhealthy()
    while bad and time.monotonic() < deadline + 30:
        time.sleep(1)
        bad = unhealthy()
    assert not bad, f"rules not evaluated cleanly: {bad}"
    up = prom.query('up{job=~"echo-.*"}')
    assert len(up) == len(SERVICES) and all(s["value"][1] == "1" for s in up)


def alert_state(prom: Prometheus, name: str) -> str:
    states = [a["state"] for a in prom.alerts() if a["labels"]["alertname"] == name]
    return "firing" if "firing" in states else (states[0] if states else "inactive")


def test_nats_paused_fires_an_alert_that_resolves_after(
    prom: Prometheus, platform: dict[str, Any]
) -> None:
    info = json.loads((platform["data"] / "urls.json").read_text())
    [nats] = [p for p in info["processes"] if p["role"] == "nats"]
    wait_for(lambda: prom.query("echo_nats_connected == 1"), timeout=60)
    assert alert_state(prom, "EchoNatsDisconnected") == "inactive"
    os.kill(nats["pid"], signal.SIGSTOP)
    try:
        # The clients notice the silent server after their pings go unanswered (~10-20 s).
        wait_for(lambda: alert_state(prom, "EchoNatsDisconnected") == "firing", timeout=120)
        firing = [a for a in prom.alerts() if a["labels"]["alertname"] == "EchoNatsDisconnected"]
        print(f"EchoNatsDisconnected firing for {sorted(a['labels']['job'] for a in firing)}")
    finally:
        os.kill(nats["pid"], signal.SIGCONT)
    wait_for(lambda: alert_state(prom, "EchoNatsDisconnected") == "inactive", timeout=120)


def test_a_service_killed_with_sigkill_is_restarted_and_loses_nothing(
    platform: dict[str, Any],
) -> None:
    admin = token("hub-admin", "northern-ireland")
    report_url = f"{platform['reporting']}/v1/reports/regions/northern-ireland"
    info = json.loads((platform["data"] / "urls.json").read_text())
    [old] = [p for p in info["processes"] if p["service"] == "reporting"]
    assert old["role"] == "service" and old["region"] == "ontario,northern-ireland,shanghai"

    def programmes() -> int:
        try:
            response = httpx.get(report_url, headers=admin, timeout=10)
        except httpx.TransportError:  # restarting: nobody listens yet
            return -1
        return int(response.json()["totals"]["programmes"]) if response.status_code == 200 else -1

    before = wait_for(lambda: programmes() if programmes() >= 0 else None, timeout=60)

    def create(title: str) -> None:
        response = httpx.post(
            f"{platform['scheduling']}/v1/programmes",
            headers=admin,
            timeout=30,
            json={
                "region": "northern-ireland",
                "title": title,
                "timezone": "Europe/Belfast",
                "starts_on": "2027-04-01",
                "local_start": "13:00",
                "session_count": 2,
            },
        )
        assert response.status_code == 201, response.text

    create("Before the kill")
    os.kill(old["pid"], signal.SIGKILL)
    for n in range(3):  # while reporting is down: they wait in the stream
        create(f"During the outage {n}")

    def restarted() -> dict[str, Any] | None:
        now = json.loads((platform["data"] / "urls.json").read_text())
        [new] = [p for p in now["processes"] if p["service"] == "reporting"]
        return new if new["pid"] != old["pid"] else None

    new = wait_for(restarted, timeout=60)
    wait_for(lambda: programmes() >= 0, timeout=90)  # ready again
    create("After the restart")
    wait_for(lambda: programmes() == before + 5, timeout=90)
    assert programmes() == before + 5  # nothing lost, nothing counted twice
    assert platform["process"].poll() is None, "echo-hub dev kept running"
    os.kill(new["pid"], 0)
