"""The platform as a person runs it: `echo-hub dev` starts real processes, HTTP drives the flow.

Programme created in scheduling -> session.scheduled events -> attendance, cases and notifications
take them into their own tables -> reporting counts programmes and sessions per region.
Ctrl-C (SIGINT) must leave no process behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from echo_runtime.testing import token

from tests.e2e.devplatform import wait_for

pytestmark = pytest.mark.e2e


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def test_programme_to_report_flow_over_http(platform: dict[str, Any]) -> None:
    admin = token("hub-admin", "ontario")
    with httpx.Client(timeout=30) as http:
        before = http.get(
            f"{platform['reporting']}/v1/reports/regions/ontario", headers=admin
        ).json()
        created = http.post(
            f"{platform['scheduling']}/v1/programmes",
            headers=admin,
            json={
                "region": "ontario",
                "title": "Opioid Use Disorder ECHO",
                "timezone": "America/Toronto",
                "starts_on": "2027-02-01",
                "local_start": "12:00",
                "session_count": 6,
            },
        )
        assert created.status_code == 201, created.text
        programme_id = created.json()["id"]
        sessions = http.get(
            f"{platform['scheduling']}/v1/programmes/{programme_id}/sessions", headers=admin
        ).json()
        assert sessions["total"] == 6

        def report() -> dict[str, Any] | None:
            body: dict[str, Any] = http.get(
                f"{platform['reporting']}/v1/reports/regions/ontario", headers=admin
            ).json()
            totals = body["totals"]
            # The programme and its six sessions may reach reporting in different batches.
            arrived = (
                totals["programmes"] >= before["totals"]["programmes"] + 1
                and totals["sessions_scheduled"] >= before["totals"]["sessions_scheduled"] + 6
            )
            return totals if arrived else None

        after = wait_for(report)
        assert after["programmes"] == before["totals"]["programmes"] + 1
        assert after["sessions_scheduled"] == before["totals"]["sessions_scheduled"] + 6

        # Attendance took the sessions into its own tables: it knows the session now.
        first = sessions["items"][0]["id"]
        facilitator = token("facilitator", "ontario")
        wait_for(
            lambda: (
                http.get(
                    f"{platform['attendance']}/v1/sessions/{first}/attendance", headers=facilitator
                ).status_code
                == 200
            )
        )
        # Bad input is a problem naming the field; a wrong token is refused.
        bad = http.post(
            f"{platform['scheduling']}/v1/programmes",
            headers=admin,
            json={
                "region": "ontario",
                "title": "x",
                "timezone": "Mars/Olympus",
                "starts_on": "2027-02-01",
                "local_start": "12:00",
            },
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "timezone"
        assert http.get(f"{platform['reporting']}/v1/reports/regions/ontario").status_code == 401
        wrong = http.get(
            f"{platform['reporting']}/v1/reports/regions/ontario",
            headers=token("hub-admin", "shanghai"),
        )
        assert wrong.status_code == 403


def test_ctrl_c_leaves_no_process_behind(platform: dict[str, Any]) -> None:
    proc: subprocess.Popen[str] = platform["process"]
    pids = [pid for pid in platform["pids"].values() if pid]
    assert len(pids) == 7  # NATS, the five services and the console
    assert all(_alive(pid) for pid in pids)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
    wait_for(lambda: not any(_alive(pid) for pid in pids), timeout=30)
