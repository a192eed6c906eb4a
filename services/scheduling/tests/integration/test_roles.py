"""Who may do what: one table of role x action -> HTTP status, checked against the running API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from echo_runtime.testing import running, token
from echo_scheduling.bootstrap import bootstrap

pytestmark = pytest.mark.integration

ROLES: dict[str, dict[str, str]] = {
    "network-admin": token("network-admin", "*"),
    "hub-admin": token("hub-admin", "ontario"),
    "hub-admin elsewhere": token("hub-admin", "shanghai"),
    "facilitator": token("facilitator", "ontario"),
    "expert": token("expert", "ontario"),
    "spoke": token("spoke", "ontario"),
    "observer": token("observer", "ontario"),
    "spoke of another programme": token(
        "spoke", "ontario", programmes=["00000000-0000-4000-8000-000000000000"]
    ),
}

#: action -> expected status per role, in the order of ROLES.
TABLE: dict[str, tuple[int, ...]] = {
    #                       net  hub  hub@sh fac  exp  spoke obs  spoke@other
    "create programme": (201, 201, 403, 403, 403, 403, 403, 403),
    "read programme": (200, 200, 404, 200, 200, 200, 200, 404),
    "list sessions": (200, 200, 404, 200, 200, 200, 200, 404),
    "calendar": (200, 200, 404, 200, 200, 200, 200, 404),
    "add one-off session": (201, 201, 404, 403, 403, 403, 403, 404),
    "reschedule": (200, 200, 404, 403, 403, 403, 403, 404),
    "cancel": (200, 200, 404, 403, 403, 403, 403, 404),
    "edit agenda": (200, 200, 404, 200, 403, 403, 403, 404),
    "publish template": (201, 403, 403, 403, 403, 403, 403, 403),
    "replicate template": (201, 201, 403, 403, 403, 403, 403, 403),
}


async def test_each_role_gets_exactly_what_the_table_says(
    sqlite_url: str,
    settings_for: Callable[..., Any],
    programme_body: Callable[..., dict[str, Any]],
) -> None:
    runtime = bootstrap(settings_for(sqlite_url, messaging=False))
    later = (date.today() + timedelta(days=60)).isoformat()
    template_body = {"title": "T", "weekday": 2, "local_start": "09:00", "session_count": 2}
    async with running(runtime) as client:
        admin = token("hub-admin")
        template = (
            await client.post("/v1/templates", json=template_body, headers=ROLES["network-admin"])
        ).json()

        async def fresh() -> tuple[str, str]:
            p = (await client.post("/v1/programmes", json=programme_body(), headers=admin)).json()
            s = (await client.get(f"/v1/programmes/{p['id']}/sessions", headers=admin)).json()
            return p["id"], s["items"][0]["id"]

        async def call(action: str, headers: dict[str, str]) -> int:
            pid, sid = await fresh()
            requests = {
                "create programme": ("POST", "/v1/programmes", programme_body()),
                "read programme": ("GET", f"/v1/programmes/{pid}", None),
                "list sessions": ("GET", f"/v1/programmes/{pid}/sessions", None),
                "calendar": ("GET", f"/v1/programmes/{pid}/calendar.ics", None),
                "add one-off session": (
                    "POST",
                    f"/v1/programmes/{pid}/sessions",
                    {"starts_on": later},
                ),
                "reschedule": ("PATCH", f"/v1/sessions/{sid}", {"starts_at": f"{later}T15:00Z"}),
                "cancel": ("POST", f"/v1/sessions/{sid}/cancel", {"reason": "weather"}),
                "edit agenda": ("PUT", f"/v1/sessions/{sid}/agenda", {"didactic_topic": "X"}),
                "publish template": ("POST", "/v1/templates", template_body),
                "replicate template": (
                    "POST",
                    f"/v1/templates/{template['id']}/replicate",
                    {"region": "ontario", "timezone": "America/Toronto", "starts_on": later},
                ),
            }
            method, url, body = requests[action]
            response = await client.request(method, url, json=body, headers=headers)
            return response.status_code

        mismatches = []
        for action, expected in TABLE.items():
            for (role, headers), want in zip(ROLES.items(), expected, strict=True):
                got = await call(action, headers)
                if got != want:
                    mismatches.append(f"{role} / {action}: expected {want}, got {got}")
            assert await call(action, {}) == 401, f"{action} without a token"
    assert mismatches == []
