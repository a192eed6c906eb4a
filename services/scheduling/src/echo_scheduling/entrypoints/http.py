"""REST API of the scheduling service: entry points build a command and hand it on."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated

from echo_contracts.types import LanguageTag, Region
from echo_runtime.auth import CurrentPrincipal, Role
from echo_runtime.pagination import Page, PageDep
from echo_runtime.problems import Problem
from echo_runtime.service import RuntimeDep
from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from echo_scheduling.adapters.repository import SqlaProgrammeRepository
from echo_scheduling.service_layer.programmes import CreateProgramme, create_programme

router = APIRouter(prefix="/v1", tags=["programmes"])

READERS = (Role.HUB_ADMIN, Role.FACILITATOR, Role.EXPERT, Role.SPOKE, Role.OBSERVER)


class ProgrammeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: Region
    title: str = Field(min_length=1, max_length=200)
    language: LanguageTag = "en"
    timezone: str = Field(min_length=1, max_length=64, examples=["America/Toronto"])
    session_minutes: int = Field(default=90, ge=30, le=240)
    starts_on: date
    local_start: time = Field(examples=["12:00"])
    session_count: int = Field(default=12, ge=1, le=160)
    interval_weeks: int = Field(default=1, ge=1, le=8)


class SessionOut(BaseModel):
    id: uuid.UUID
    programme_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: str
    sequence: int


class ProgrammeOut(BaseModel):
    id: uuid.UUID
    region: str
    title: str
    language: str
    timezone: str
    session_minutes: int
    starts_on: date
    local_start: time
    session_count: int
    interval_weeks: int


@router.post("/programmes", status_code=status.HTTP_201_CREATED, response_model=ProgrammeOut)
async def post_programme(
    body: ProgrammeIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> ProgrammeOut:
    principal.require([Role.HUB_ADMIN], body.region)
    if body.region not in runtime.settings.regions:
        raise Problem(
            422,
            "Unprocessable Content",
            f"region: this deployment serves {runtime.settings.regions}, not {body.region!r}",
            errors=[{"field": "region", "message": "region not served here"}],
        )
    programme = await create_programme(
        runtime,
        CreateProgramme(**body.model_dump(), created_by=principal.subject),
    )
    return ProgrammeOut.model_validate(programme, from_attributes=True)


@router.get("/programmes", response_model=Page[ProgrammeOut])
async def list_programmes(
    principal: CurrentPrincipal, runtime: RuntimeDep, page: PageDep
) -> Page[ProgrammeOut]:
    if not principal.has_any([*READERS, Role.NETWORK_ADMIN]):
        raise Problem(403, "Forbidden", "reading programmes needs a hub or spoke role")
    regions = (
        None
        if Role.NETWORK_ADMIN in principal.roles or "*" in principal.regions
        else sorted(principal.regions)
    )
    async with runtime.db.session() as session:
        rows, total = await SqlaProgrammeRepository(session).list_page(regions, page.limit, page.offset)
    return Page.of([ProgrammeOut.model_validate(r) for r in rows], total, page)


async def _readable(
    runtime: RuntimeDep, principal: CurrentPrincipal, programme_id: uuid.UUID
) -> ProgrammeOut:
    async with runtime.db.session() as session:
        row = await SqlaProgrammeRepository(session).get(programme_id)
    if row is None or not principal.allows(READERS, row["region"], programme_id):
        # 404 for both: a caller outside the programme learns nothing about it.
        raise Problem(404, "Not Found", f"no programme {programme_id} that you can read")
    return ProgrammeOut.model_validate(row)


@router.get("/programmes/{programme_id}", response_model=ProgrammeOut)
async def get_programme(
    programme_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> ProgrammeOut:
    return await _readable(runtime, principal, programme_id)


@router.get("/programmes/{programme_id}/sessions", response_model=Page[SessionOut])
async def list_sessions(
    programme_id: uuid.UUID,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    page: PageDep,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query()] = None,
) -> Page[SessionOut]:
    await _readable(runtime, principal, programme_id)
    async with runtime.db.session() as session:
        items, total = await SqlaProgrammeRepository(session).sessions_of(
            programme_id, from_, to, page.limit, page.offset
        )
    return Page.of([SessionOut.model_validate(s, from_attributes=True) for s in items], total, page)
