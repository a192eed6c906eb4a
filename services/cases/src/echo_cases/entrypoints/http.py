"""REST API of the cases service: entry points check who asks, build a command, hand it on."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from echo_contracts import Event
from echo_runtime.auth import CurrentPrincipal, Principal, Role
from echo_runtime.inputs import InputModel
from echo_runtime.pagination import Page, PageDep
from echo_runtime.problems import Problem
from echo_runtime.service import RuntimeDep, ServiceRuntime
from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from echo_cases.adapters.repository import (
    SqlaCaseRepository,
    SqlaDirectory,
    submission_context,
)
from echo_cases.domain.model import (
    MAX_FOLLOW_UP_WEEKS,
    Case,
    CaseStatus,
    InvalidCaseForm,
    SessionNotStarted,
    UnknownProgramme,
)
from echo_cases.domain.screening import PhiScreener
from echo_cases.domain.templates import (
    DEFAULT_TEMPLATE,
    TEMPLATES,
    CaseTemplate,
    find_template,
    latest_template,
)
from echo_cases.service_layer import access
from echo_cases.service_layer.cases import (
    SubmitCase,
    change_case,
    record_read,
    screen,
    submit_case,
)

router = APIRouter(prefix="/v1", tags=["cases"])


def _screener(request: Request) -> PhiScreener:
    screener: PhiScreener = request.app.state.phi_screener
    return screener


# ----------------------------------------------------------------------------- bodies


class TemplateFieldOut(BaseModel):
    name: str
    label: str
    kind: str
    required: bool
    choices: list[str]
    required_when: dict[str, Any] | None
    max_chars: int
    help: str


class CaseTemplateOut(BaseModel):
    id: str
    version: int
    title: str
    fields: list[TemplateFieldOut]

    @classmethod
    def of(cls, template: CaseTemplate) -> CaseTemplateOut:
        return cls(
            id=template.id,
            version=template.version,
            title=template.title,
            fields=[
                TemplateFieldOut(
                    name=f.name,
                    label=f.label,
                    kind=f.kind.value,
                    required=f.required,
                    choices=list(f.choices),
                    required_when=(
                        {"field": f.required_when.field, "values": list(f.required_when.values)}
                        if f.required_when
                        else None
                    ),
                    max_chars=f.max_chars,
                    help=f.help,
                )
                for f in template.fields
            ],
        )


class CaseIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    programme_id: uuid.UUID
    #: Omitted: the template the programme uses (the default template unless its hub chose one).
    template_id: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_.-]{0,63}$")
    template_version: int | None = Field(default=None, ge=1, le=1000)
    fields: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=20_000)]] = (
        Field(max_length=40)
    )


class TemplateChoiceIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    template_id: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")
    template_version: int | None = Field(default=None, ge=1, le=1000)


class RejectIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=2000)


class RecommendationsIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000)
    follow_up_weeks: int | None = Field(default=None, ge=1, le=MAX_FOLLOW_UP_WEEKS)


class FollowUpIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    weeks: int = Field(ge=1, le=MAX_FOLLOW_UP_WEEKS)


class RecommendationsOut(BaseModel):
    text: str
    issued_by: uuid.UUID
    issued_at: datetime
    follow_up_due_on: date | None


class CaseOut(BaseModel):
    id: uuid.UUID
    programme_id: uuid.UUID
    region: str
    presenter_id: uuid.UUID
    template_id: str
    template_version: int
    status: CaseStatus
    fields: dict[str, str]
    session_id: uuid.UUID | None
    slot: int | None
    rejection_reason: str | None
    recommendations: str | None
    follow_up_due_on: date | None
    created_at: datetime
    #: Every set of recommendations, oldest first (only on single-case answers).
    recommendation_history: list[RecommendationsOut] | None = None

    @classmethod
    def of(cls, case: Case) -> CaseOut:
        return cls(
            id=case.id,
            programme_id=case.programme_id,
            region=case.region,
            presenter_id=case.presenter_id,
            template_id=case.template_id,
            template_version=case.template_version,
            status=case.status,
            fields=case.fields,
            session_id=case.session_id,
            slot=case.slot,
            rejection_reason=case.rejection_reason,
            recommendations=case.recommendations,
            follow_up_due_on=case.follow_up_due_on,
            created_at=case.created_at,
        )


class AuditEntryOut(BaseModel):
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    at: datetime


# ----------------------------------------------------------------------------- helpers


def _not_found(case_id: uuid.UUID) -> Problem:
    # The same answer for "no such case" and "not yours to see": a caller learns nothing.
    return Problem(404, "Not Found", f"no case {case_id} that you can read")


async def _readable(runtime: ServiceRuntime, principal: Principal, case_id: uuid.UUID) -> Case:
    """The case if `principal` may read it, else a 404 problem."""
    async with runtime.db.session() as session:
        case = await SqlaCaseRepository(session).get(case_id)
        if case is None:
            raise _not_found(case_id)
        directory = SqlaDirectory(session)
        registered = await directory.is_registered(principal.subject_id, case.programme_id)
        info = await directory.session_info(case.session_id) if case.session_id else None
    if not access.can_read(
        principal, case, registered=registered, session=info, now=datetime.now(UTC)
    ):
        raise _not_found(case_id)
    return case


def _require(principal: Principal, roles: tuple[Role, ...], case: Case, action: str) -> None:
    if not access.in_scope(principal, roles, case.region, case.programme_id):
        wanted = sorted(r.value for r in roles)
        raise Problem(
            403,
            "Forbidden",
            f"only {' or '.join(wanted)} of programme {case.programme_id} may {action} a case",
        )


# ----------------------------------------------------------------------------- routes


def _template(template_id: str, version: int | None) -> CaseTemplate:
    template = (
        latest_template(template_id) if version is None else find_template(template_id, version)
    )
    if template is None:
        raise InvalidCaseForm(
            [
                (
                    "template_id",
                    f"no case template {template_id!r}"
                    + (f" version {version}" if version else "")
                    + "; see GET /v1/case-templates",
                )
            ]
        )
    return template


async def _programme_region(
    runtime: ServiceRuntime, principal: Principal, programme_id: uuid.UUID
) -> str:
    """The region of a programme the caller belongs to (hub or spoke side), else a 404."""
    async with runtime.db.session() as session:
        region = await SqlaDirectory(session).programme_region(programme_id)
    if region is None or not access.in_scope(
        principal, (*access.HUB_MEMBERS, *access.SUBMITTERS), region, programme_id
    ):
        raise Problem(404, "Not Found", f"no programme {programme_id} that you belong to")
    return region


async def _programme_template(runtime: ServiceRuntime, programme_id: uuid.UUID) -> CaseTemplate:
    async with runtime.db.session() as session:
        chosen = await SqlaDirectory(session).template_of(programme_id)
    return (find_template(*chosen) if chosen else None) or DEFAULT_TEMPLATE


@router.get("/case-templates", response_model=Page[CaseTemplateOut], tags=["case templates"])
async def list_case_templates(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    page: PageDep,
    programme_id: Annotated[
        uuid.UUID | None, Query(description="only the template this programme uses")
    ] = None,
) -> Page[CaseTemplateOut]:
    if programme_id is not None:
        await _programme_region(runtime, principal, programme_id)
        templates: list[CaseTemplate] = [await _programme_template(runtime, programme_id)]
    else:
        templates = list(TEMPLATES)
    items = [CaseTemplateOut.of(t) for t in templates]
    return Page.of(items[page.offset : page.offset + page.limit], len(items), page)


@router.put(
    "/case-templates/programmes/{programme_id}",
    response_model=CaseTemplateOut,
    tags=["case templates"],
)
async def choose_programme_template(
    programme_id: uuid.UUID,
    body: TemplateChoiceIn,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> CaseTemplateOut:
    region = await _programme_region(runtime, principal, programme_id)
    if not access.in_scope(principal, access.DECIDERS, region, programme_id):
        raise Problem(
            403,
            "Forbidden",
            f"only a hub-admin or facilitator of programme {programme_id} chooses its template",
        )
    template = _template(body.template_id, body.template_version)
    async with runtime.db.transaction() as session:
        await SqlaDirectory(session).choose_template(
            programme_id, template.id, template.version, principal.subject
        )
    return CaseTemplateOut.of(template)


@router.post("/cases", status_code=status.HTTP_201_CREATED, response_model=CaseOut)
async def post_case(
    body: CaseIn, principal: CurrentPrincipal, runtime: RuntimeDep, request: Request
) -> CaseOut:
    # One connection for the lookup and the write: one pool checkout a request.
    async with runtime.db.reads() as conn:
        return await _submit(body, principal, runtime, _screener(request), conn)


async def _submit(
    body: CaseIn,
    principal: Principal,
    runtime: ServiceRuntime,
    screener: PhiScreener,
    conn: AsyncConnection,
) -> CaseOut:
    # One statement for everything the checks need, outside a transaction.
    known = await submission_context(conn, body.programme_id, principal.subject_id)
    if known is None or known.region not in runtime.settings.regions:
        raise UnknownProgramme(
            f"programme {body.programme_id} is not known to this cases service"
            f" (regions {runtime.settings.regions}); create it in scheduling first"
        )
    region, registered = known.region, known.registered
    if not access.in_scope(principal, access.SUBMITTERS, region, body.programme_id):
        raise Problem(
            403,
            "Forbidden",
            f"submitting a case to programme {body.programme_id} needs the spoke, facilitator or"
            f" hub-admin role in region {region!r} and that programme",
        )
    hub_side = access.in_scope(principal, access.DECIDERS, region, body.programme_id)
    explicitly_scoped = principal.programmes is not None and body.programme_id in (
        principal.programmes
    )
    if not (hub_side or registered or explicitly_scoped):
        raise Problem(
            403,
            "Forbidden",
            f"register in programme {body.programme_id} before presenting a case to it",
        )
    template = (find_template(*known.template) if known.template else None) or DEFAULT_TEMPLATE
    if body.template_id is not None:
        asked = _template(body.template_id, body.template_version)
        if (asked.id, asked.version) != (template.id, template.version):
            raise InvalidCaseForm(
                [
                    (
                        "template_id",
                        f"programme {body.programme_id} presents cases on template"
                        f" {template.id!r} version {template.version}",
                    )
                ]
            )
    case = await submit_case(
        runtime,
        screener,
        SubmitCase(
            programme_id=body.programme_id,
            region=region,
            presenter_id=principal.subject_id,
            template_id=template.id,
            template_version=template.version,
            fields=body.fields,
            actor=principal.subject,
        ),
        conn,
    )
    return CaseOut.of(case)


@router.get("/cases", response_model=Page[CaseOut])
async def list_cases(
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    page: PageDep,
    programme_id: Annotated[uuid.UUID, Query(description="the programme whose cases to list")],
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
) -> Page[CaseOut]:
    async with runtime.db.session() as session:
        directory = SqlaDirectory(session)
        region = await directory.programme_region(programme_id)
        registered = await directory.is_registered(principal.subject_id, programme_id)
        if region is None or not access.in_scope(
            principal, (*access.HUB_MEMBERS, *access.SUBMITTERS), region, programme_id
        ):
            raise Problem(404, "Not Found", f"no programme {programme_id} whose cases you can read")
        items, total = await SqlaCaseRepository(session).list_visible(
            programme_id,
            everything=access.is_hub_member(principal, region, programme_id),
            viewer=principal.subject_id,
            registered=registered and principal.has_any([Role.SPOKE]),
            now=datetime.now(UTC),
            status=status_,
            limit=page.limit,
            offset=page.offset,
        )
    # A list shows the case text too: each case in it is audited as read.
    await record_read(runtime, [c.id for c in items], principal.subject, "listed")
    return Page.of([CaseOut.of(c) for c in items], total, page)


@router.get("/cases/{case_id}", response_model=CaseOut)
async def get_case(case_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep) -> CaseOut:
    case = await _readable(runtime, principal, case_id)
    await record_read(runtime, [case.id], principal.subject)
    return await _with_history(runtime, case)


async def _with_history(runtime: ServiceRuntime, case: Case) -> CaseOut:
    async with runtime.db.session() as session:
        history = await SqlaCaseRepository(session).recommendation_history(case.id)
    out = CaseOut.of(case)
    out.recommendation_history = [RecommendationsOut.model_validate(h) for h in history]
    return out


@router.post("/cases/{case_id}/review", response_model=CaseOut)
async def start_review(
    case_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> CaseOut:
    case = await _readable(runtime, principal, case_id)
    _require(principal, access.HUB_MEMBERS, case, "review")
    reviewer = principal.subject_id
    case = await change_case(
        runtime, case_id, actor=principal.subject, action="review_started",
        change=lambda c: c.start_review(reviewer),
    )  # fmt: skip
    return CaseOut.of(case)


@router.post("/cases/{case_id}/approve", response_model=CaseOut)
async def approve_case(
    case_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> CaseOut:
    case = await _readable(runtime, principal, case_id)
    _require(principal, access.DECIDERS, case, "approve")
    approver = principal.subject_id
    case = await change_case(
        runtime, case_id, actor=principal.subject, action="approved",
        change=lambda c: c.approve(approver),
    )  # fmt: skip
    return CaseOut.of(case)


@router.post("/cases/{case_id}/reject", response_model=CaseOut)
async def reject_case(
    case_id: uuid.UUID,
    body: RejectIn,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    request: Request,
) -> CaseOut:
    case = await _readable(runtime, principal, case_id)
    _require(principal, access.DECIDERS, case, "reject")
    reason = body.reason.strip()
    # The reason travels in a (regional) event to the presenter: it must not carry PHI either.
    screen(_screener(request), {"reason": reason}, prefix="", what="rejection_reason")
    reviewer = principal.subject_id
    case = await change_case(
        runtime, case_id, actor=principal.subject, action="rejected",
        change=lambda c: c.reject(reviewer, reason),
    )  # fmt: skip
    return CaseOut.of(case)


@router.post("/cases/{case_id}/presented", response_model=CaseOut)
async def mark_presented(
    case_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> CaseOut:
    case = await _readable(runtime, principal, case_id)
    _require(principal, access.DECIDERS, case, "mark presented")
    await _session_started(runtime, case)
    case = await change_case(
        runtime, case_id, actor=principal.subject, action="presented",
        change=lambda c: c.present(),
    )  # fmt: skip
    return CaseOut.of(case)


async def _session_started(runtime: ServiceRuntime, case: Case) -> None:
    if case.status is not CaseStatus.SCHEDULED or case.session_id is None:
        return  # the workflow answers with the current state
    async with runtime.db.session() as session:
        info = await SqlaDirectory(session).session_info(case.session_id)
    if not access.session_has_started(info, datetime.now(UTC)):
        raise SessionNotStarted(
            f"case {case.id} is scheduled for session {case.session_id}, which has not started;"
            " it can be marked presented once the session is under way"
        )


@router.post("/cases/{case_id}/recommendations", response_model=CaseOut)
async def issue_recommendations(
    case_id: uuid.UUID,
    body: RecommendationsIn,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    request: Request,
) -> CaseOut:
    case = await _readable(runtime, principal, case_id)
    _require(principal, access.DECIDERS, case, "record recommendations for")
    await _session_started(runtime, case)
    text = body.text.strip()
    screen(_screener(request), {"text": text}, prefix="", what="recommendations")
    issuer = principal.subject_id

    def change(c: Case) -> list[Event]:
        # A case still marked scheduled whose session is under way was presented in it.
        events = c.present() if c.status is CaseStatus.SCHEDULED else []
        return events + c.issue_recommendations(text, issuer, follow_up_weeks=body.follow_up_weeks)

    async def keep(repo: SqlaCaseRepository, c: Case) -> None:
        await repo.add_recommendations(c, issuer)

    case = await change_case(
        runtime,
        case_id,
        actor=principal.subject,
        action="recommendations_issued",
        change=change,
        also=keep,
    )
    return await _with_history(runtime, case)


@router.post("/cases/{case_id}/follow-up", response_model=CaseOut)
async def request_follow_up(
    case_id: uuid.UUID, body: FollowUpIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> CaseOut:
    case = await _readable(runtime, principal, case_id)
    _require(principal, access.DECIDERS, case, "request a follow-up of")
    due = datetime.now(UTC).date() + timedelta(weeks=body.weeks)
    case = await change_case(
        runtime, case_id, actor=principal.subject, action="follow_up_requested",
        change=lambda c: c.request_follow_up(due),
    )  # fmt: skip
    return CaseOut.of(case)


@router.get("/cases/{case_id}/audit", response_model=Page[AuditEntryOut])
async def case_audit_trail(
    case_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep, page: PageDep
) -> Page[AuditEntryOut]:
    case = await _readable(runtime, principal, case_id)
    _require(principal, access.DECIDERS, case, "read the audit trail of")
    async with runtime.db.session() as session:
        rows, total = await SqlaCaseRepository(session).audit_trail(
            case_id, page.limit, page.offset
        )
    return Page.of([AuditEntryOut.model_validate(r) for r in rows], total, page)
