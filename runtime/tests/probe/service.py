"""A minimal service built on the runtime, to test the plumbing itself end to end."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from echo_contracts import Envelope, SessionScheduled
from echo_contracts.topology import ConsumerSpec
from echo_runtime.auth import CurrentPrincipal, Role
from echo_runtime.messaging_tables import add_messaging_tables
from echo_runtime.service import RuntimeDep, ServiceRuntime
from echo_runtime.settings import ServiceSettings
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

metadata = sa.MetaData()
seen_sessions = sa.Table(
    "seen_sessions",
    metadata,
    sa.Column("session_id", sa.Uuid, primary_key=True),
    sa.Column("minutes", sa.Integer, nullable=False),
)
add_messaging_tables(metadata)
MIGRATIONS = Path(__file__).parent / "migrations"
PROBE_CONSUMER = ConsumerSpec("probe", "inbox", (SessionScheduled,))

router = APIRouter()


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: str = Field(pattern=r"^[a-z-]+$")
    minutes: int = Field(ge=30, le=240)


@router.post("/v1/probe/sessions", status_code=201)
async def schedule(
    body: SessionIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> dict[str, str]:
    principal.require([Role.HUB_ADMIN], body.region)
    start = datetime(2027, 1, 1, tzinfo=UTC)
    event = SessionScheduled(
        session_id=uuid.uuid4(),
        programme_id=uuid.uuid4(),
        starts_at=start,
        ends_at=start + timedelta(minutes=body.minutes),
        timezone="America/Toronto",
    )
    async with runtime.db.transaction() as session:
        envelopes = await runtime.emit(session, body.region, event)
    return {"event_id": str(envelopes[0].id), "session_id": str(event.session_id)}


async def when_session_scheduled_count_it(session: AsyncSession, env: Envelope[Any]) -> None:
    data = env.data
    minutes = int((data.ends_at - data.starts_at).total_seconds() // 60)
    await session.execute(
        sa.insert(seen_sessions).values(session_id=data.session_id, minutes=minutes)
    )


def probe(settings: ServiceSettings, *, consume: bool = False) -> ServiceRuntime:
    return ServiceRuntime(
        settings,
        metadata=metadata,
        migrations=MIGRATIONS,
        handlers={SessionScheduled: when_session_scheduled_count_it} if consume else {},
        routers=[router],
        consumer=PROBE_CONSUMER,
    )
