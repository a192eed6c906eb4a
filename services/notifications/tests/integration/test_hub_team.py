"""Hub team members get new cases by role, and the session messages they opted into."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from echo_contracts import CaseSubmitted, ProgrammeProfileUpdated, SessionScheduled
from echo_contracts.events import HubRole, HubTeamMember
from echo_runtime.testing import token

pytestmark = pytest.mark.integration

START = datetime(2030, 3, 5, 17, 0, tzinfo=UTC)


async def test_facilitators_hear_of_new_cases_and_an_expert_gets_the_reminders_she_chose(
    kit: Any, database_url: str, nats_server: Any, js: Any, smtp: Any
) -> None:
    async with kit.world(
        database_url, nats_server.url, js, smtp_port=smtp.port, start=START - timedelta(days=3)
    ) as w:
        await w.programme(language="en", timezone="America/Toronto")
        facilitator, expert = uuid.uuid4(), uuid.uuid4()
        await w.publish(
            ProgrammeProfileUpdated(
                programme_id=w.programme_id,
                title="ECHO Hepatitis C",
                hub_team=[
                    HubTeamMember(person_id=facilitator, name="Fay Tan",
                                  email="fay@hub.example.org", role=HubRole.FACILITATOR),
                    HubTeamMember(person_id=expert, name="Dr Eve Roy",
                                  email="eve@hub.example.org", role=HubRole.DIDACTIC_EXPERT),
                ],
            )
        )  # fmt: skip
        chosen = await w.client.put(
            f"/v1/participants/{expert}/preferences",
            json={"channels": ["email"], "topics": ["reminder_day_before"]},
            headers=token("expert", "ontario", subject=str(expert)),
        )
        assert chosen.status_code == 200, chosen.text
        await w.participant("ana@example.org", name="Ana Diaz")
        await w.publish(
            CaseSubmitted(
                case_id=uuid.uuid4(),
                programme_id=w.programme_id,
                presenter_id=uuid.uuid4(),
                template_id="echo-default",
                template_version=1,
            ),
            SessionScheduled(
                session_id=uuid.uuid4(),
                programme_id=w.programme_id,
                starts_at=START,
                ends_at=START + timedelta(minutes=90),
                timezone="America/Toronto",
            ),
        )
        await w.tick()
        [case_mail] = smtp.to("fay@hub.example.org")
        assert case_mail["Subject"] == "New case submitted to ECHO Hepatitis C"
        assert "Hello Fay Tan" in str(case_mail.get_body().get_content())
        assert smtp.to("eve@hub.example.org") == []

        w.clock.set(START - timedelta(days=1))
        await w.tick()
        reminded = sorted(str(m["To"]) for m in smtp.messages if "Tomorrow" in m["Subject"])
        assert reminded == ["Ana Diaz <ana@example.org>", "Dr Eve Roy <eve@hub.example.org>"]
        w.clock.set(START - timedelta(hours=1))
        await w.tick()
        in_an_hour = [str(m["To"]) for m in smtp.messages if "In one hour" in m["Subject"]]
        assert in_an_hour == ["Ana Diaz <ana@example.org>"]
        assert smtp.to("fay@hub.example.org") == [case_mail]
