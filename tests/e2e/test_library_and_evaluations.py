"""Issue 11 across the real services, as `echo-hub dev` runs them (processes, NATS, SQLite).

Library: hub staff upload a recording to scheduling -> `MaterialAdded` -> notifications emails the
programme's registered participants (and nobody else) -> a registered spoke lists the library and
downloads the file through its signed link, a spoke of another programme is refused -> reporting
counts one recording.

Evaluations: a session held an hour ago (its `ProgrammeCreated`/`SessionScheduled` published as
scheduling published them then: scheduling refuses to schedule in the past) -> attendance records
two of three registered participants -> the survey goes out -> notifications emails the two
attendees their signed links, not the absentee -> one answers through the link, a second answer is
refused, the absentee cannot answer -> reporting shows invited 2, responses 1, rate 0.5 and the
scores.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import re
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from echo_contracts import ProgrammeCreated, SessionScheduled, new_envelope, subject_for, to_wire
from echo_runtime.testing import token

from tests.e2e.devplatform import wait_for

pytestmark = pytest.mark.e2e

REGION = "ontario"
# Smallest MP4 the library accepts: an `ftyp` box (magic bytes), then padding.
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 8


def _mails(data: Path) -> list[email.message.EmailMessage]:
    out = []
    for path in sorted((data / "mail").glob("**/*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        out.append(msg)
    return out


def _body(msg: email.message.EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    assert part is not None
    return str(part.get_content())


def _to(msg: email.message.EmailMessage) -> str:
    return str(msg["To"].addresses[0].addr_spec)


def _participant(http: httpx.Client, base: str, admin: dict[str, str], mail: str) -> str:
    created = http.post(
        f"{base}/v1/participants",
        headers=admin,
        json={
            "region": REGION,
            "name": "E2E Clinician",
            "email": mail,
            "profession": "physician",
            "clinic": "E2E Clinic",
            "clinic_id": str(uuid.uuid4()),
            "language": "en",
            "timezone": "America/Toronto",
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _register(
    http: httpx.Client, base: str, admin: dict[str, str], programme: str, person: str
) -> None:
    """Register once attendance has learned the programme from scheduling's event (404 before)."""

    def post() -> httpx.Response | None:
        done = http.post(
            f"{base}/v1/programmes/{programme}/registrations",
            headers=admin,
            json={"participant_id": person},
        )
        return None if done.status_code == 404 else done

    done = wait_for(post)
    assert done.status_code == 201, done.text


def test_a_recording_reaches_members_only_and_is_counted(platform: dict[str, Any]) -> None:
    admin = token("hub-admin", REGION)
    run = uuid.uuid4().hex[:8]
    with httpx.Client(timeout=30) as http:
        created = http.post(
            f"{platform['scheduling']}/v1/programmes",
            headers=admin,
            json={
                "region": REGION,
                "title": "Hepatitis C ECHO",
                "timezone": "America/Toronto",
                "starts_on": (date.today() + timedelta(days=7)).isoformat(),
                "local_start": "12:00",
                "session_count": 2,
            },
        )
        assert created.status_code == 201, created.text
        programme = created.json()["id"]
        member_mail = f"member-{run}@example.org"
        outsider_mail = f"outsider-{run}@example.org"
        member = _participant(http, platform["attendance"], admin, member_mail)
        outsider = _participant(http, platform["attendance"], admin, outsider_mail)
        _register(http, platform["attendance"], admin, programme, member)
        spoke = token("spoke", REGION, subject=member)
        # Scheduling learns the registration from attendance's RegistrationConfirmed.
        wait_for(
            lambda: (
                http.get(
                    f"{platform['scheduling']}/v1/programmes/{programme}/materials", headers=spoke
                ).status_code
                == 200
            )
        )

        uploaded = http.post(
            f"{platform['scheduling']}/v1/programmes/{programme}/materials",
            headers=admin,
            data={"kind": "recording", "title": "Session 1 recording", "language": "en"},
            files={"file": ("session1.mp4", MP4, "video/mp4")},
        )
        assert uploaded.status_code == 201, uploaded.text
        material = uploaded.json()["id"]
        wrong = http.post(
            f"{platform['scheduling']}/v1/programmes/{programme}/materials",
            headers=admin,
            data={"kind": "recording", "title": "Not a video", "language": "en"},
            files={"file": ("notes.mp4", b"%PDF-1.7 not a video", "video/mp4")},
        )
        assert wrong.status_code in (415, 422), wrong.text

        # The member lists the library and downloads the exact bytes through the signed link.
        listed = http.get(
            f"{platform['scheduling']}/v1/programmes/{programme}/materials", headers=spoke
        ).json()
        assert [m["id"] for m in listed["items"]] == [material]
        link = http.get(f"{platform['scheduling']}/v1/materials/{material}/download", headers=spoke)
        assert link.status_code == 307, link.text
        fetched = http.get(link.headers["location"])
        assert fetched.status_code == 200 and fetched.content == MP4
        tampered = http.get(link.headers["location"].replace("signature=", "signature=0"))
        assert tampered.status_code in (403, 422)
        outsider_spoke = token("spoke", REGION, subject=outsider)
        refused = http.get(
            f"{platform['scheduling']}/v1/materials/{material}/download", headers=outsider_spoke
        )
        assert refused.status_code == 403, refused.text

        # Notifications tells the member, and only the member, that the recording is there.
        def told() -> list[email.message.EmailMessage]:
            return [m for m in _mails(platform["data"]) if run in _to(m) and programme in _body(m)]

        mails = wait_for(told)
        time.sleep(2)  # anything extra (a duplicate, the outsider) would arrive by now
        mails = told()
        assert [_to(m) for m in mails] == [member_mail]

        def counted() -> dict[str, Any] | None:
            body: dict[str, Any] = http.get(
                f"{platform['reporting']}/v1/reports/programmes/{programme}", headers=admin
            ).json()
            return body if body.get("totals", {}).get("library_recordings") == 1 else None

        report = wait_for(counted)
        assert report["totals"]["library_materials"] == 0


async def _publish_past_session(nats_url: str, programme: str, session: str) -> None:
    ends = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    starts = ends - timedelta(minutes=60)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for event in (
            ProgrammeCreated(
                programme_id=uuid.UUID(programme),
                region=REGION,
                language="en",
                timezone="America/Toronto",
                session_minutes=60,
                starts_on=starts.date(),
            ),
            SessionScheduled(
                session_id=uuid.UUID(session),
                programme_id=uuid.UUID(programme),
                starts_at=starts,
                ends_at=ends,
                timezone="America/Toronto",
            ),
        ):
            envelope = new_envelope(event, region=REGION, service="scheduling")
            await js.publish(
                subject_for(REGION, event),
                to_wire(envelope),
                headers={"Nats-Msg-Id": str(envelope.id)},
            )
    finally:
        await nc.close()


def test_a_survey_reaches_attendees_once_and_its_numbers_reach_reporting(
    platform: dict[str, Any],
) -> None:
    admin = token("hub-admin", REGION)
    run = uuid.uuid4().hex[:8]
    programme, session = str(uuid.uuid4()), str(uuid.uuid4())
    asyncio.run(_publish_past_session(platform["nats"], programme, session))
    att = platform["attendance"]
    with httpx.Client(timeout=30) as http:
        wait_for(
            lambda: http.get(f"{att}/v1/sessions/{session}/attendance", headers=admin).is_success
        )
        mails = [f"attendee{n}-{run}@example.org" for n in range(2)] + [f"absent-{run}@example.org"]
        people = [_participant(http, att, admin, m) for m in mails]
        for person in people:
            _register(http, att, admin, programme, person)
        for person in people[:2]:
            recorded = http.post(
                f"{att}/v1/sessions/{session}/attendance",
                headers=admin,
                json={"participant_id": person, "attended_minutes": 55, "reason": "roll call"},
            )
            assert recorded.status_code == 200, recorded.text
        form = http.put(
            f"{att}/v1/programmes/{programme}/evaluation-form",
            headers=admin,
            json={
                "questions": [
                    {"code": "sat", "kind": "satisfaction", "text": "How satisfied were you?"},
                    {"code": "before", "kind": "confidence_before", "text": "Confidence before"},
                    {"code": "after", "kind": "confidence_after", "text": "Confidence after"},
                    {"code": "change", "kind": "intent_to_change", "text": "Will you change?"},
                    {"code": "note", "kind": "comment", "text": "Else?", "required": False},
                ],
                "send_after_minutes": 0,
            },
        )
        assert form.status_code == 200, form.text
        sent = http.post(f"{att}/v1/sessions/{session}/evaluations/send", headers=admin)
        assert sent.status_code == 200, sent.text
        assert sent.json()["invited"] == 2
        again = http.post(f"{att}/v1/sessions/{session}/evaluations/send", headers=admin)
        assert again.status_code == 200 and again.json()["sent_now"] is False

        # Notifications emails each attendee a signed link; the absentee gets nothing.
        def invitations() -> list[email.message.EmailMessage] | None:
            found = [
                m
                for m in _mails(platform["data"])
                if run in _to(m) and "/v1/evaluations/" in _body(m)
            ]
            return found if len(found) >= 2 else None

        invited = wait_for(invitations)
        time.sleep(2)
        invited = invitations() or []
        assert sorted(_to(m) for m in invited) == sorted(mails[:2])
        links = [re.search(r"https?://\S+/v1/evaluations/[^\s<>\"']+", _body(m)) for m in invited]
        assert all(links)
        link = links[0].group(0)  # type: ignore[union-attr]

        opened = http.get(link)
        assert opened.status_code == 200, opened.text
        assert [q["code"] for q in opened.json()["questions"]][:2] == ["sat", "before"]
        answers = {"sat": 5, "before": 2, "after": 4, "change": 4, "note": "useful"}
        first = http.post(link, json={"answers": answers})
        assert first.status_code in (200, 201), first.text
        second = http.post(link, json={"answers": answers})
        assert second.status_code == 409, second.text
        bad = http.post(links[1].group(0), json={"answers": {**answers, "sat": 9}})  # type: ignore[union-attr]
        assert bad.status_code == 422, bad.text
        absent = http.post(
            f"{att}/v1/sessions/{session}/evaluation",
            headers=token("spoke", REGION, subject=people[2]),
            json={"answers": answers},
        )
        assert absent.status_code in (403, 404), absent.text

        def reported() -> dict[str, Any] | None:
            got = http.get(
                f"{platform['reporting']}/v1/reports/sessions/{session}/evaluations", headers=admin
            )
            body: dict[str, Any] = got.json() if got.is_success else {}
            text = json.dumps(body)
            return body if '"responses": 1' in text and '"invited": 2' in text else None

        report = json.dumps(wait_for(reported))
        assert '"response_rate": 0.5' in report
        assert "useful" not in report  # the comment stays in attendance
