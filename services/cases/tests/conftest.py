"""Fixtures of the cases tests: a cases runtime on real NATS and a real database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from echo_cases.adapters.repository import SqlaDirectory
from echo_cases.bootstrap import bootstrap
from echo_cases.settings import CasesSettings
from echo_contracts import (
    Envelope,
    Event,
    ProgrammeCreated,
    RegistrationConfirmed,
    SessionScheduled,
    decode,
    new_envelope,
    stream_name,
    subject_for,
    to_wire,
)
from echo_contracts.events import Profession
from echo_runtime.natsserver import NatsServer
from echo_runtime.service import ServiceRuntime
from echo_runtime.testing import REGIONS, eventually, running, token
from nats.js import JetStreamContext

CLEAN_FIELDS = {
    "presenting_question": "How should we adjust insulin for a patient with rising HbA1c?",
    "age_band": "50-59",
    "sex": "male",
    "relevant_history": "Type 2 diabetes for 12 years, hypertension, BMI 34. HbA1c 9.1% last "
    "quarter, eGFR 58 mL/min. 54-year-old smoker, 20 pack-years.",
    "medications": "Metformin 1000 mg BID, ramipril 10 mg daily, atorvastatin 40 mg.",
    "investigations": "LDL 2.9 mmol/L, ACR 12 mg/mmol, BP 142/88.",
    "what_was_tried": "Diet counselling for 6 months; metformin increased 3 months ago.",
    "specific_question": "Add an SGLT2 inhibitor or a GLP-1 agonist first?",
}


def settings_for(nats_server: NatsServer, database_url: str, **kw: Any) -> CasesSettings:
    return CasesSettings(
        nats_url=nats_server.url, database_url=database_url, regions=list(REGIONS), **kw
    )


async def publish(js: JetStreamContext, event: Event, region: str = "ontario") -> Envelope[Any]:
    """Publish an event of another service to JetStream as its relay would."""
    env = new_envelope(event, region=region, service=type(event).context)
    await js.publish(
        subject_for(region, env.data), to_wire(env), headers={"Nats-Msg-Id": str(env.id)}
    )
    return env


async def case_events(js: JetStreamContext, region: str = "ontario") -> list[Envelope[Any]]:
    """Every event the cases service published in `region`'s stream, in order."""
    stream = stream_name(region)
    info = await js.stream_info(stream)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        if msg.subject.startswith(f"echo.{region}.cases."):
            found.append(decode(msg.data))
    return found


@dataclass
class Programme:
    """A programme known to the cases service, with a hub team and one registered spoke."""

    id: uuid.UUID
    region: str
    session_id: uuid.UUID
    spoke_id: uuid.UUID
    facilitator_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def spoke(self) -> dict[str, str]:
        return token("spoke", self.region, subject=str(self.spoke_id))

    def facilitator(self) -> dict[str, str]:
        return token(
            "facilitator",
            self.region,
            subject=str(self.facilitator_id),
            programmes=[str(self.id)],
        )


async def known_programme(
    js: JetStreamContext,
    runtime: ServiceRuntime,
    region: str = "ontario",
    *,
    starts_in: timedelta = timedelta(minutes=-30),
) -> Programme:
    """Announce a programme, one session and one registered spoke; wait until consumed."""
    programme_id, session_id, spoke_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    starts = datetime.now(UTC) + starts_in
    await publish(
        js,
        ProgrammeCreated(
            programme_id=programme_id,
            region=region,
            language="en",
            timezone="America/Toronto",
            session_minutes=90,
            starts_on=starts.date(),
        ),
        region,
    )
    await publish(
        js,
        SessionScheduled(
            session_id=session_id,
            programme_id=programme_id,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=90),
            timezone="America/Toronto",
        ),
        region,
    )
    await publish(
        js,
        RegistrationConfirmed(
            registration_id=uuid.uuid4(),
            participant_id=spoke_id,
            programme_id=programme_id,
            clinic_id=uuid.uuid4(),
            profession=Profession.PHYSICIAN,
        ),
        region,
    )

    async def consumed() -> bool:
        async with runtime.db.session() as session:
            directory = SqlaDirectory(session)
            return (
                await directory.programme_region(programme_id) == region
                and await directory.session_info(session_id) is not None
                and await directory.is_registered(spoke_id, programme_id)
            )

    await eventually(consumed)
    return Programme(programme_id, region, session_id, spoke_id)


class CasesKit:
    """A running cases service and what tests need around it (events in, events out)."""

    clean_fields = CLEAN_FIELDS

    def __init__(
        self, runtime: ServiceRuntime, client: httpx.AsyncClient, js: JetStreamContext
    ) -> None:
        self.runtime = runtime
        self.client = client
        self.js = js

    async def publish(self, event: Event, region: str = "ontario") -> Envelope[Any]:
        """Publish an event of another service to JetStream as its relay would."""
        return await publish(self.js, event, region)

    async def case_events(self, region: str = "ontario") -> list[Envelope[Any]]:
        return await case_events(self.js, region)

    async def programme(
        self, region: str = "ontario", *, starts_in: timedelta = timedelta(minutes=-30)
    ) -> Programme:
        return await known_programme(self.js, self.runtime, region, starts_in=starts_in)

    async def submit(self, programme: Programme, **changes: str) -> dict[str, Any]:
        """Submit a clean case as the programme's registered spoke; the created case."""
        response = await self.client.post(
            "/v1/cases",
            json={"programme_id": str(programme.id), "fields": {**CLEAN_FIELDS, **changes}},
            headers=programme.spoke(),
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


@pytest.fixture
def cases_settings() -> dict[str, Any]:
    """Settings of the service under test beyond the defaults (override in a test module)."""
    return {}


@pytest.fixture
async def kit(
    nats_server: NatsServer,
    js: JetStreamContext,
    database_url: str,
    cases_settings: dict[str, Any],
) -> AsyncIterator[CasesKit]:
    """The cases service running on real NATS and a real database (SQLite and PostgreSQL)."""
    runtime = bootstrap(settings_for(nats_server, database_url, **cases_settings))
    async with running(runtime) as client:
        yield CasesKit(runtime, client, js)
