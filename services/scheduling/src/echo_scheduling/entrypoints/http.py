"""REST API of the scheduling service: entry points check access, build a command, hand it on."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Annotated, Literal

from echo_contracts.events import HubRole
from echo_contracts.types import Code, Email, LanguageTag, Region
from echo_runtime.auth import CurrentPrincipal, Principal, Role
from echo_runtime.inputs import InputModel, Line, Version
from echo_runtime.logging import get_logger
from echo_runtime.pagination import Page, PageDep
from echo_runtime.problems import Problem
from echo_runtime.service import RuntimeDep, ServiceRuntime
from fastapi import APIRouter, Query, Response, status
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from echo_scheduling.adapters.calendar import render_ics
from echo_scheduling.adapters.repository import (
    SqlaProgrammeRepository,
    SqlaSessionRepository,
    SqlaTemplateRepository,
)
from echo_scheduling.domain.model import Programme, Session, TeamMember, Template, Topic
from echo_scheduling.domain.recurrence import Frequency, zone
from echo_scheduling.service_layer.programmes import (
    AddSession,
    CreateProgramme,
    EditProgramme,
    ReplicateTemplate,
    add_one_off_session,
    create_programme,
    edit_programme,
    replicate_template,
)
from echo_scheduling.service_layer.sessions import (
    RescheduleSession,
    SetAgenda,
    cancel_session,
    reschedule_session,
    set_agenda,
)
from echo_scheduling.service_layer.templates import PublishTemplate, publish_template

log = get_logger(__name__)

router = APIRouter(prefix="/v1", tags=["scheduling"])

#: Who may read a programme, its sessions and its calendar (in its region and programme).
READERS = (Role.HUB_ADMIN, Role.FACILITATOR, Role.EXPERT, Role.SPOKE, Role.OBSERVER)
#: Who creates and edits programmes and sessions (network-admin always may).
EDITORS = (Role.HUB_ADMIN,)
#: Who edits agendas.
AGENDA_EDITORS = (Role.FACILITATOR, Role.HUB_ADMIN)

WeekOfMonth = Literal[1, 2, 3, 4, -1]
#: A wall-clock time in the programme's zone (an offset given with it is ignored: the zone rules).
LocalTime = Annotated[time, AfterValidator(lambda t: t.replace(tzinfo=None, microsecond=0))]
Title = Annotated[Line, Field(min_length=1, max_length=200)]


class _In(InputModel):
    model_config = ConfigDict(extra="forbid")


class TeamMemberIn(_In):
    person_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    name: Title
    email: Email | None = None
    role: HubRole


class TopicIn(_In):
    title: Title
    presenter_name: Title | None = None


class ProgrammeIn(_In):
    region: Region
    title: Title
    language: LanguageTag = "en"
    timezone: str = Field(min_length=1, max_length=64, examples=["America/Toronto"])
    session_minutes: int = Field(default=90, ge=30, le=240)
    starts_on: date
    local_start: LocalTime = Field(examples=["12:00"])
    frequency: Frequency = Frequency.WEEKLY
    interval_weeks: int = Field(default=1, ge=1, le=8)
    week_of_month: WeekOfMonth | None = None
    session_count: int | None = Field(
        default=None, ge=1, le=160, description="default 12 when ends_on is not given"
    )
    ends_on: date | None = None
    excluded_dates: list[date] = Field(default_factory=list, max_length=400)
    case_slots: int = Field(default=2, ge=1, le=2)
    hub_team: list[TeamMemberIn] = Field(default_factory=list, max_length=50)
    curriculum: list[TopicIn] = Field(default_factory=list, max_length=160)


class TeamMemberOut(BaseModel):
    person_id: uuid.UUID
    name: str
    email: str | None
    role: str


class TopicOut(BaseModel):
    position: int
    title: str
    presenter_name: str | None


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
    frequency: Frequency
    interval_weeks: int
    week_of_month: int | None
    ends_on: date | None
    excluded_dates: list[date]
    case_slots: int
    hub_team: list[TeamMemberOut]
    curriculum: list[TopicOut]
    template_id: uuid.UUID | None
    template_version: int | None

    @classmethod
    def of(cls, p: Programme) -> ProgrammeOut:
        return cls(
            id=p.id,
            region=p.region,
            title=p.title,
            language=p.language,
            timezone=p.timezone,
            session_minutes=p.session_minutes,
            starts_on=p.starts_on,
            local_start=p.local_start,
            session_count=p.session_count,
            frequency=p.frequency,
            interval_weeks=p.interval_weeks,
            week_of_month=p.week_of_month,
            ends_on=p.ends_on,
            excluded_dates=sorted(p.excluded_dates),
            case_slots=p.case_slots,
            hub_team=[TeamMemberOut(**m.__dict__) for m in p.hub_team],
            curriculum=[TopicOut(**t.__dict__) for t in p.curriculum],
            template_id=p.template_id,
            template_version=p.template_version,
        )


class CaseSlotOut(BaseModel):
    position: int
    case_id: uuid.UUID


class AgendaOut(BaseModel):
    session_id: uuid.UUID
    didactic_topic: str | None
    presenter_name: str | None
    case_slots: list[CaseSlotOut]
    warnings: list[str] = Field(description="what the agenda lacks, e.g. presenter_missing")

    @classmethod
    def of(cls, s: Session) -> AgendaOut:
        return cls(
            session_id=s.id,
            didactic_topic=s.didactic_topic,
            presenter_name=s.presenter_name,
            case_slots=[
                CaseSlotOut(position=p, case_id=c) for p, c in sorted(s.case_slots.items())
            ],
            warnings=s.warnings,
        )


class SessionOut(BaseModel):
    id: uuid.UUID
    programme_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    local_starts_at: datetime = Field(description="the start in the programme's own time zone")
    timezone: str
    status: str
    sequence: int
    kind: str
    cancel_reason: str | None
    agenda: AgendaOut
    warnings: list[str]

    @classmethod
    def of(cls, p: Programme, s: Session) -> SessionOut:
        return cls(
            id=s.id,
            programme_id=s.programme_id,
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            local_starts_at=s.starts_at.astimezone(zone(p.timezone)),
            timezone=p.timezone,
            status=s.status.value,
            sequence=s.sequence,
            kind=s.kind.value,
            cancel_reason=s.cancel_reason,
            agenda=AgendaOut.of(s),
            warnings=s.warnings,
        )


def _served(runtime: ServiceRuntime, region: str) -> None:
    if region not in runtime.settings.regions:
        raise Problem(
            422,
            "Unprocessable Content",
            f"region: this deployment serves {runtime.settings.regions}, not {region!r}",
            errors=[{"field": "region", "message": "region not served here"}],
        )


def _team(members: list[TeamMemberIn]) -> tuple[TeamMember, ...]:
    return tuple(
        TeamMember(person_id=m.person_id, name=m.name, role=m.role.value, email=m.email)
        for m in members
    )


@router.post("/programmes", status_code=status.HTTP_201_CREATED, response_model=ProgrammeOut)
async def post_programme(
    body: ProgrammeIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> ProgrammeOut:
    principal.require(EDITORS, body.region)
    _served(runtime, body.region)
    programme = await create_programme(
        runtime,
        CreateProgramme(
            region=body.region,
            title=body.title,
            language=body.language,
            timezone=body.timezone,
            session_minutes=body.session_minutes,
            starts_on=body.starts_on,
            local_start=body.local_start,
            created_by=principal.subject,
            session_count=body.session_count,
            interval_weeks=body.interval_weeks,
            frequency=body.frequency,
            week_of_month=body.week_of_month,
            ends_on=body.ends_on,
            excluded_dates=tuple(body.excluded_dates),
            case_slots=body.case_slots,
            hub_team=_team(body.hub_team),
            curriculum=tuple(
                Topic(position=n, title=t.title, presenter_name=t.presenter_name)
                for n, t in enumerate(body.curriculum, 1)
            ),
        ),
    )
    log.info("programme_created", programme_id=str(programme.id), sessions=programme.session_count)
    return ProgrammeOut.of(programme)


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
    ids = (
        sorted(principal.programmes)
        if principal.programmes is not None and Role.NETWORK_ADMIN not in principal.roles
        else None
    )
    async with runtime.db.session() as session:
        rows, total = await SqlaProgrammeRepository(session).list_page(
            regions, page.limit, page.offset, ids
        )
    return Page.of([ProgrammeOut.of(p) for p in rows], total, page)


def _not_found(what: str, ident: uuid.UUID) -> Problem:
    # 404 whether it does not exist or the caller may not see it: they learn nothing about it.
    return Problem(404, "Not Found", f"no {what} {ident} that you can read")


async def _readable(
    runtime: ServiceRuntime, principal: Principal, programme_id: uuid.UUID
) -> Programme:
    async with runtime.db.session() as session:
        programme = await SqlaProgrammeRepository(session).get(programme_id)
    if programme is None or not principal.allows(READERS, programme.region, programme_id):
        raise _not_found("programme", programme_id)
    return programme


def _may(
    principal: Principal, roles: tuple[Role, ...], what: str, ident: uuid.UUID
) -> Callable[[Programme], None]:
    """Object-level check run inside the command: 404 when unreadable, 403 when read-only."""

    def check(programme: Programme) -> None:
        if not principal.allows(READERS, programme.region, programme.id):
            raise _not_found(what, ident)
        principal.require(roles, programme.region, programme.id)

    return check


class ProgrammePatch(_In):
    """Fields to change; the rule's future sessions are re-planned when a rule field is given."""

    title: Title | None = None
    hub_team: list[TeamMemberIn] | None = Field(default=None, max_length=50)
    curriculum: list[TopicIn] | None = Field(default=None, max_length=160)
    local_start: LocalTime | None = None
    session_minutes: int | None = Field(default=None, ge=30, le=240)
    interval_weeks: int | None = Field(default=None, ge=1, le=8)
    week_of_month: WeekOfMonth | None = None
    session_count: int | None = Field(default=None, ge=1, le=160)
    ends_on: date | None = None
    exclude_dates: list[date] = Field(
        default_factory=list,
        max_length=400,
        description="added to the excluded dates; an excluded date stays excluded",
    )


@router.patch("/programmes/{programme_id}", response_model=ProgrammeOut)
async def patch_programme(
    programme_id: uuid.UUID,
    body: ProgrammePatch,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> ProgrammeOut:
    programme = await edit_programme(
        runtime,
        EditProgramme(
            programme_id=programme_id,
            title=body.title,
            hub_team=None if body.hub_team is None else _team(body.hub_team),
            curriculum=None
            if body.curriculum is None
            else tuple(
                Topic(position=n, title=t.title, presenter_name=t.presenter_name)
                for n, t in enumerate(body.curriculum, 1)
            ),
            local_start=body.local_start,
            session_minutes=body.session_minutes,
            interval_weeks=body.interval_weeks,
            week_of_month=body.week_of_month,
            session_count=body.session_count,
            ends_on=body.ends_on,
            exclude=tuple(body.exclude_dates),
        ),
        _may(principal, EDITORS, "programme", programme_id),
    )
    log.info("programme_edited", programme_id=str(programme_id))
    return ProgrammeOut.of(programme)


@router.get("/programmes/{programme_id}", response_model=ProgrammeOut)
async def get_programme(
    programme_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> ProgrammeOut:
    return ProgrammeOut.of(await _readable(runtime, principal, programme_id))


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@router.get("/programmes/{programme_id}/sessions", response_model=Page[SessionOut])
async def list_sessions(
    programme_id: uuid.UUID,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    page: PageDep,
    from_: Annotated[
        datetime | None, Query(alias="from", description="sessions starting at or after")
    ] = None,
    to: Annotated[datetime | None, Query(description="sessions starting before")] = None,
) -> Page[SessionOut]:
    programme = await _readable(runtime, principal, programme_id)
    async with runtime.db.session() as session:
        items, total = await SqlaSessionRepository(session).page(
            programme_id, _aware(from_), _aware(to), page.limit, page.offset
        )
    return Page.of([SessionOut.of(programme, s) for s in items], total, page)


class OneOffIn(_In):
    starts_on: date = Field(description="the local date in the programme's time zone")
    local_start: LocalTime | None = Field(default=None, description="default: the programme's")
    session_minutes: int | None = Field(default=None, ge=30, le=240)
    didactic_topic: Title | None = None
    presenter_name: Title | None = None


@router.post(
    "/programmes/{programme_id}/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionOut,
)
async def post_one_off_session(
    programme_id: uuid.UUID, body: OneOffIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> SessionOut:
    programme = await _readable(runtime, principal, programme_id)
    new = await add_one_off_session(
        runtime,
        AddSession(
            programme_id=programme_id,
            on=body.starts_on,
            local_start=body.local_start,
            minutes=body.session_minutes,
            didactic_topic=body.didactic_topic,
            presenter_name=body.presenter_name,
        ),
        _may(principal, EDITORS, "programme", programme_id),
    )
    return SessionOut.of(programme, new)


async def _session_readable(
    runtime: ServiceRuntime, principal: Principal, session_id: uuid.UUID
) -> tuple[Programme, Session]:
    async with runtime.db.session() as session:
        found = await SqlaSessionRepository(session).get(session_id)
        programme = (
            await SqlaProgrammeRepository(session).get(found.programme_id) if found else None
        )
    if (
        found is None
        or programme is None
        or not principal.allows(READERS, programme.region, programme.id)
    ):
        raise _not_found("session", session_id)
    return programme, found


@router.get("/sessions/{session_id}", response_model=SessionOut)
async def get_session(
    session_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> SessionOut:
    return SessionOut.of(*await _session_readable(runtime, principal, session_id))


class RescheduleIn(_In):
    starts_at: AwareDatetime = Field(description="the new start, with its UTC offset")
    session_minutes: int | None = Field(default=None, ge=30, le=240)


@router.patch("/sessions/{session_id}", response_model=SessionOut)
async def patch_session(
    session_id: uuid.UUID, body: RescheduleIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> SessionOut:
    programme, moved = await reschedule_session(
        runtime,
        RescheduleSession(session_id, body.starts_at, body.session_minutes),
        _may(principal, EDITORS, "session", session_id),
    )
    log.info("session_rescheduled", session_id=str(session_id), sequence=moved.sequence)
    return SessionOut.of(programme, moved)


class CancelIn(_In):
    reason: str = Field(min_length=1, max_length=1000)


@router.post("/sessions/{session_id}/cancel", response_model=SessionOut)
async def post_cancel(
    session_id: uuid.UUID, body: CancelIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> SessionOut:
    programme, cancelled = await cancel_session(
        runtime, session_id, body.reason, _may(principal, EDITORS, "session", session_id)
    )
    log.info("session_cancelled", session_id=str(session_id), sequence=cancelled.sequence)
    return SessionOut.of(programme, cancelled)


class CaseSlotIn(_In):
    position: int = Field(ge=1, le=2)
    case_id: uuid.UUID


class AgendaIn(_In):
    didactic_topic: Title | None = None
    presenter_name: Title | None = None
    case_slots: list[CaseSlotIn] | None = Field(
        default=None, max_length=2, description="omit to keep the cases already placed"
    )


@router.put("/sessions/{session_id}/agenda", response_model=AgendaOut)
async def put_agenda(
    session_id: uuid.UUID, body: AgendaIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> AgendaOut:
    slots = None if body.case_slots is None else {s.position: s.case_id for s in body.case_slots}
    if body.case_slots is not None and len(slots or {}) != len(body.case_slots):
        raise Problem(
            422,
            "Unprocessable Content",
            "case_slots: each position at most once",
            errors=[{"field": "case_slots", "message": "a position is given twice"}],
        )
    _, changed = await set_agenda(
        runtime,
        SetAgenda(session_id, body.didactic_topic, body.presenter_name, slots),
        _may(principal, AGENDA_EDITORS, "session", session_id),
    )
    return AgendaOut.of(changed)


@router.get(
    "/programmes/{programme_id}/calendar.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def get_calendar(
    programme_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> Response:
    programme = await _readable(runtime, principal, programme_id)
    async with runtime.db.session() as session:
        items = await SqlaSessionRepository(session).all_of(programme_id)
    body = render_ics(programme, items, datetime.now(UTC))
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"content-disposition": f'inline; filename="programme-{programme_id}.ics"'},
    )


# --------------------------------------------------------------------------- templates


class TemplateIn(_In):
    title: Title
    language: LanguageTag = "en"
    session_minutes: int = Field(default=90, ge=30, le=240)
    frequency: Frequency = Frequency.WEEKLY
    interval_weeks: int = Field(default=1, ge=1, le=8)
    weekday: int = Field(ge=0, le=6, description="Monday 0 ... Sunday 6")
    week_of_month: WeekOfMonth | None = None
    local_start: LocalTime = Field(examples=["12:00"])
    session_count: int = Field(default=12, ge=1, le=160)
    curriculum: list[Title] = Field(default_factory=list, max_length=160)
    case_template_id: Code | None = None
    credit_rule: Code | None = None

    def template(self) -> Template:
        return Template(
            id=uuid.UUID(int=0),
            version=0,
            title=self.title,
            language=self.language,
            session_minutes=self.session_minutes,
            frequency=self.frequency,
            interval_weeks=self.interval_weeks,
            weekday=self.weekday,
            week_of_month=self.week_of_month,
            local_start=self.local_start.replace(second=0, microsecond=0, tzinfo=None),
            session_count=self.session_count,
            curriculum=list(self.curriculum),
            case_template_id=self.case_template_id,
            credit_rule=self.credit_rule,
        )


class TemplateOut(BaseModel):
    id: uuid.UUID
    version: int
    title: str
    language: str
    session_minutes: int
    frequency: Frequency
    interval_weeks: int
    weekday: int
    week_of_month: int | None
    local_start: time
    session_count: int
    curriculum: list[str]
    case_template_id: str | None
    credit_rule: str | None

    @classmethod
    def of(cls, t: Template) -> TemplateOut:
        return cls(**t.__dict__)


def _network_admin(principal: Principal) -> None:
    if Role.NETWORK_ADMIN not in principal.roles:
        raise Problem(
            403,
            "Forbidden",
            "publishing programme templates needs the network-admin role (the superhub)",
        )


@router.post("/templates", status_code=status.HTTP_201_CREATED, response_model=TemplateOut)
async def post_template(
    body: TemplateIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> TemplateOut:
    _network_admin(principal)
    published = await publish_template(runtime, PublishTemplate(body.template()))
    log.info("template_published", template_id=str(published.id), version=published.version)
    return TemplateOut.of(published)


@router.put("/templates/{template_id}", response_model=TemplateOut)
async def put_template(
    template_id: uuid.UUID, body: TemplateIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> TemplateOut:
    """Publish a new version; programmes replicated earlier keep the version they copied."""
    _network_admin(principal)
    published = await publish_template(runtime, PublishTemplate(body.template(), template_id))
    log.info("template_published", template_id=str(published.id), version=published.version)
    return TemplateOut.of(published)


@router.get("/templates", response_model=Page[TemplateOut])
async def list_templates(
    principal: CurrentPrincipal, runtime: RuntimeDep, page: PageDep
) -> Page[TemplateOut]:
    if not principal.has_any([Role.NETWORK_ADMIN, *READERS]):
        raise Problem(403, "Forbidden", "reading templates needs a hub role")
    async with runtime.db.session() as session:
        items, total = await SqlaTemplateRepository(session).page(page.limit, page.offset)
    return Page.of([TemplateOut.of(t) for t in items], total, page)


@router.get("/templates/{template_id}", response_model=TemplateOut)
async def get_template(
    template_id: uuid.UUID,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    version: Annotated[Version | None, Query()] = None,
) -> TemplateOut:
    if not principal.has_any([Role.NETWORK_ADMIN, *READERS]):
        raise Problem(403, "Forbidden", "reading templates needs a hub role")
    async with runtime.db.session() as session:
        found = await SqlaTemplateRepository(session).get(template_id, version)
    if found is None:
        raise _not_found("template", template_id)
    return TemplateOut.of(found)


class ReplicateIn(_In):
    region: Region
    timezone: str = Field(min_length=1, max_length=64, examples=["Asia/Shanghai"])
    starts_on: date = Field(description="the first session is on the template's weekday from here")
    version: Version | None = Field(default=None, description="default: the latest")
    title: Title | None = None
    language: LanguageTag | None = None
    local_start: LocalTime | None = Field(default=None, description="default: the template's")
    excluded_dates: list[date] = Field(default_factory=list, max_length=400)
    hub_team: list[TeamMemberIn] = Field(default_factory=list, max_length=50)


@router.post(
    "/templates/{template_id}/replicate",
    status_code=status.HTTP_201_CREATED,
    response_model=ProgrammeOut,
)
async def post_replicate(
    template_id: uuid.UUID, body: ReplicateIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> ProgrammeOut:
    principal.require(EDITORS, body.region)
    _served(runtime, body.region)
    programme = await replicate_template(
        runtime,
        ReplicateTemplate(
            template_id=template_id,
            region=body.region,
            timezone=body.timezone,
            starts_on=body.starts_on,
            created_by=principal.subject,
            version=body.version,
            title=body.title,
            language=body.language,
            local_start=body.local_start,
            excluded_dates=tuple(body.excluded_dates),
            hub_team=_team(body.hub_team),
        ),
    )
    log.info(
        "template_replicated",
        template_id=str(template_id),
        version=programme.template_version,
        programme_id=str(programme.id),
    )
    return ProgrammeOut.of(programme)
