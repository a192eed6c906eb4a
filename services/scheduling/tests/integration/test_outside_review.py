"""Bounded input in scheduling (issue 15, findings 3-4): any Unicode file name is stored and
served back (RFC 6266 / 5987), oversized integers and control characters are 422s, never 500s."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from echo_runtime.natsserver import NatsServer
from echo_runtime.testing import REGIONS, running, token
from echo_scheduling.bootstrap import bootstrap
from echo_scheduling.settings import SchedulingSettings

pytestmark = pytest.mark.integration

NAMES = ["糖尿病讲义.txt", "Ōtautahi notes \u2013 v2.txt", "O'Brien (v2) notes.txt", "мед план.txt"]


def _runtime(nats: NatsServer, database_url: str, tmp_path: Path) -> Any:
    return bootstrap(
        SchedulingSettings(
            nats_url=nats.url,
            database_url=database_url,
            regions=REGIONS,
            library_dir=tmp_path / "library",
        )
    )


async def _programme(client: httpx.AsyncClient, body: dict[str, Any], staff: Any) -> str:
    made = await client.post("/v1/programmes", json=body, headers=staff)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def test_any_unicode_file_name_is_kept_and_served_back(
    nats_server: NatsServer,
    database_url: str,
    tmp_path: Path,
    programme_body: Any,
) -> None:
    staff = token("hub-admin")
    async with running(_runtime(nats_server, database_url, tmp_path)) as client:
        pid = await _programme(client, programme_body(), staff)
        for name in NAMES:
            up = await client.post(
                f"/v1/programmes/{pid}/materials",
                headers=staff,
                data={"kind": "document", "title": "Handout", "language": "zh-Hans"},
                files={"file": (name, "糖尿病 handout\n".encode(), "text/plain")},
            )
            assert up.status_code == 201, (name, up.text)
            assert up.json()["filename"] == name
            link = await client.get(f"/v1/materials/{up.json()['id']}/download", headers=staff)
            got = await client.get(link.headers["location"]) if link.is_redirect else link
            assert got.status_code == 200, got.text
            disposition = got.headers["content-disposition"]
            assert f"filename*=UTF-8''{quote(name, safe='')}" in disposition, disposition
            fallback = disposition.split('filename="', 1)[1].split('"; filename*=')[0]
            assert fallback.isascii() and fallback.endswith(".txt"), disposition


async def test_out_of_range_numbers_and_control_characters_are_422s(
    nats_server: NatsServer,
    database_url: str,
    tmp_path: Path,
    programme_body: Any,
) -> None:
    staff = token("network-admin", "*")
    async with running(_runtime(nats_server, database_url, tmp_path)) as client:
        pid = await _programme(client, programme_body(), staff)
        template = await client.post(
            "/v1/templates",
            json={"title": "T", "weekday": 2, "local_start": "12:00"},
            headers=staff,
        )
        assert template.status_code == 201, template.text
        tid = template.json()["id"]
        huge = str(2**63)
        for method, url, kwargs in [
            ("GET", "/v1/programmes", {"params": {"offset": huge}}),
            ("GET", f"/v1/programmes/{pid}/sessions", {"params": {"offset": huge}}),
            ("GET", "/v1/templates", {"params": {"offset": huge}}),
            ("GET", f"/v1/programmes/{pid}/materials", {"params": {"offset": huge}}),
            ("GET", f"/v1/templates/{tid}", {"params": {"version": huge}}),
            (
                "POST",
                f"/v1/templates/{tid}/replicate",
                {
                    "json": {
                        "region": "ontario",
                        "timezone": "America/Toronto",
                        "starts_on": "2027-01-04",
                        "version": 2**63,
                    }
                },
            ),
            ("POST", "/v1/programmes", {"json": programme_body(title="Diabetes\x00ECHO")}),
            ("POST", "/v1/programmes", {"json": programme_body(title="two\nlines")}),
            ("PATCH", f"/v1/programmes/{pid}", {"json": {"title": "bell\x07"}}),
        ]:
            answer = await client.request(method, url, headers=staff, **kwargs)
            assert answer.status_code == 422, (method, url, answer.status_code, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
