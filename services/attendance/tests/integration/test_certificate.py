"""Certificates: a PDF that renders and carries the participant, programme, sessions and hours."""

from __future__ import annotations

import subprocess
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from echo_contracts import (
    ProgrammeProfileUpdated,
    SessionScheduled,
    decode,
    new_envelope,
    subject_for,
    to_wire,
)
from echo_runtime.testing import eventually, token

pytestmark = pytest.mark.integration


async def test_certificate_pdf_renders_with_the_right_hours(
    kit: Any, database_url: str, nats_server: Any, js: Any, tmp_path: Path
) -> None:
    async with kit.world(database_url, nats_server.url, js) as w:
        await w.schedule()
        # Two profile updates arrive newest first: the older title must not win.
        older = new_envelope(
            ProgrammeProfileUpdated(programme_id=w.programme_id, title="Old Working Title"),
            region="ontario",
            service="scheduling",
        )
        newer = new_envelope(
            ProgrammeProfileUpdated(
                programme_id=w.programme_id, title="Hepatitis C in Primary Care"
            ),
            region="ontario",
            service="scheduling",
        )
        for env in (newer, older):
            await js.publish(
                subject_for("ontario", env.data), to_wire(env), headers={"Nats-Msg-Id": str(env.id)}
            )
        second = uuid.uuid4()
        week = timedelta(days=7)
        await kit.publish(
            js,
            SessionScheduled(
                session_id=second,
                programme_id=w.programme_id,
                starts_at=kit.SESSION_START + week,
                ends_at=kit.SESSION_END + week,
                timezone="America/Toronto",
            ),
        )
        person = await w.participant("zoë.martin@example.org", name="Dr. Zoë Martin")
        pid = person["id"]
        url = f"/v1/participants/{pid}/certificates/{w.programme_id}"
        none_yet = await w.client.get(url, headers=w.admin)
        assert none_yet.status_code == 404
        assert "no credit" in none_yet.json()["detail"]

        async def hook(session_id: uuid.UUID, kind: str, minute: int) -> None:
            start = kit.SESSION_START + (week if session_id == second else timedelta(0))
            body = kit.generic_body(
                kind,
                session_id,
                start + timedelta(minutes=minute),
                join_token=person["join_token"],
            )
            r = await w.client.post(
                "/v1/webhooks/video/generic", content=body, headers=kit.generic_headers(body)
            )
            assert r.status_code == 200, r.text

        async def second_known() -> bool:
            r = await w.client.get(f"/v1/sessions/{second}/attendance", headers=w.admin)
            return r.status_code == 200

        await eventually(second_known)
        await hook(w.session_id, "join", 0)
        await hook(w.session_id, "leave", 100)  # 100 min -> 1.75 h
        await hook(second, "join", 5)
        await hook(second, "leave", 90)  # 85 min -> 1.42 h -> 1.5 h

        async def titled() -> bool:
            r = await w.client.get(url, headers=w.admin)
            return r.status_code == 200 and b"Hepatitis" in _text(r.content, tmp_path)

        await eventually(titled)
        r = await w.client.get(url, headers=token("spoke", subject=pid))
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/pdf"
        text = _text(r.content, tmp_path).decode()
        assert "Dr. Zoë Martin" in text
        assert "Hepatitis C in Primary Care" in text and "Old Working Title" not in text
        assert "3.25 credit hours" in text
        assert "1.75" in text and "1.50" in text
        assert "2026-01-05 17:00" in text and "2026-01-12 17:00" in text
        assert "Verification code:" in text
        assert "accredited" in text

        png = _png(r.content, tmp_path)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(png) > 2000

        # Someone else's certificate is not there for another spoke, nor for another region.
        stranger = await w.client.get(url, headers=token("spoke", subject=str(uuid.uuid4())))
        assert stranger.status_code == 404
        abroad = await w.client.get(url, headers=token("hub-admin", "shanghai"))
        assert abroad.status_code == 404

        sub = await js.pull_subscribe(
            "echo.ontario.attendance.certificate_issued", stream="ECHO_ONTARIO"
        )

        async def issued_once() -> list[Any]:
            try:
                return [decode(m.data) for m in await sub.fetch(10, timeout=0.5)]
            except Exception:
                return []

        [issued] = await eventually(issued_once)
        assert issued.data.hours == 3.25 and str(issued.data.participant_id) == pid


def _text(pdf: bytes, tmp: Path) -> bytes:
    path = tmp / "check.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True
    ).stdout


def _png(pdf: bytes, tmp: Path) -> bytes:
    """The first page rendered by pdftoppm."""
    path = tmp / "certificate.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(path), str(tmp / "page")], check=True)
    [png] = list(tmp.glob("page*.png"))
    return png.read_bytes()
