"""REST API of the attendance service: entry points build a command and hand it on."""

from __future__ import annotations

import asyncio
import uuid
import weakref
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from echo_contracts.events import Profession
from echo_contracts.types import Email, LanguageTag, Region, TimeZoneName
from echo_runtime.auth import CurrentPrincipal, Principal, Role
from echo_runtime.inputs import InputModel, Line
from echo_runtime.pagination import Page, PageDep
from echo_runtime.problems import Problem
from echo_runtime.service import RuntimeDep, ServiceRuntime
from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from echo_attendance.adapters.certificate_pdf import FpdfCertificateRenderer
from echo_attendance.adapters.repository import Row, SqlaAttendanceRepository
from echo_attendance.domain.model import (
    MeetingLinkedElsewhere,
    ParticipantNotFound,
    ProgrammeNotFound,
    ProviderNotConfigured,
    SessionNotFound,
)
from echo_attendance.service_layer.credit import (
    ChangeCreditRule,
    change_credit_rule,
    issue_certificate,
    recompute_programme,
)
from echo_attendance.service_layer.participants import (
    RegisterParticipant,
    RegisterToProgramme,
    register_participant,
    register_to_programme,
)
from echo_attendance.service_layer.presence import (
    RecordManualAttendance,
    receive_webhook,
    record_manual_attendance,
)
from echo_attendance.settings import AttendanceSettings

router = APIRouter(prefix="/v1", tags=["attendance"])

STAFF = (Role.HUB_ADMIN, Role.FACILITATOR)
READERS = (Role.HUB_ADMIN, Role.FACILITATOR, Role.EXPERT, Role.OBSERVER)


async def settings_of(runtime: RuntimeDep) -> AttendanceSettings:
    settings = runtime.settings
    if not isinstance(settings, AttendanceSettings):
        raise TypeError("the attendance runtime needs AttendanceSettings")
    return settings


SettingsDep = Annotated[AttendanceSettings, Depends(settings_of)]

#: Webhook bursts wait here, not for a pooled connection (whose checkout times out into a 500).
_webhook_gates: weakref.WeakKeyDictionary[ServiceRuntime, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _webhook_gate(runtime: ServiceRuntime, settings: AttendanceSettings) -> asyncio.Semaphore:
    gate = _webhook_gates.get(runtime)
    if gate is None:
        gate = _webhook_gates[runtime] = asyncio.Semaphore(settings.webhook_concurrency)
    return gate


# --------------------------------------------------------------------------- models


class _In(InputModel):
    model_config = ConfigDict(extra="forbid")


class ParticipantIn(_In):
    region: Region
    name: Line = Field(min_length=1, max_length=200)
    email: Email
    profession: Profession
    clinic: Line = Field(min_length=1, max_length=200)
    clinic_id: uuid.UUID
    language: LanguageTag = "en"
    timezone: TimeZoneName | None = None
    #: The person's id at the identity provider, so their own token can read their credit.
    id: uuid.UUID | None = None


class ParticipantOut(BaseModel):
    id: uuid.UUID
    region: str
    name: str
    email: str
    profession: str
    clinic: str
    clinic_id: uuid.UUID
    language: str
    timezone: str | None


class RegistrationIn(_In):
    participant_id: uuid.UUID


class RegistrationOut(BaseModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    programme_id: uuid.UUID
    #: Put it in the personal join link (Zoom `customer_key`, or `join_token` of the generic tool).
    join_token: str


class VideoMeetingIn(_In):
    provider: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")
    meeting_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class VideoMeetingOut(BaseModel):
    provider: str
    meeting_id: str
    programme_id: uuid.UUID


class GuestIn(_In):
    name: Line = Field(min_length=1, max_length=200)
    email: Email


class ManualAttendanceIn(_In):
    #: A registered participant, or else `guest` (someone unregistered: name and email).
    participant_id: uuid.UUID | None = None
    guest: GuestIn | None = None
    attended_minutes: float = Field(ge=0, le=240)
    reason: str = Field(min_length=5, max_length=500)

    @model_validator(mode="after")
    def _one_attendee(self) -> ManualAttendanceIn:
        if (self.participant_id is None) == (self.guest is None):
            raise ValueError("give either participant_id or guest (name and email), not both")
        return self


class AttendanceOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    programme_id: uuid.UUID
    participant_id: uuid.UUID | None
    guest: bool
    guest_id: uuid.UUID | None = None
    #: A guest present beyond the programme's guest limits (recorded, not admitted).
    over_limit: bool = False
    attended_seconds: int
    session_seconds: int
    attended_percent: float
    source: str
    adjusted: bool
    revision: int

    @classmethod
    def of(cls, row: Row) -> AttendanceOut:
        session_seconds = int(row["session_seconds"])
        attended = int(row["attended_seconds"])
        return cls(
            id=row["id"],
            session_id=row["session_id"],
            programme_id=row["programme_id"],
            participant_id=row["participant_id"],
            guest=row["participant_id"] is None,
            guest_id=row.get("guest_id"),
            over_limit=bool(row.get("over_limit")),
            attended_seconds=attended,
            session_seconds=session_seconds,
            attended_percent=round(100 * attended / session_seconds, 2) if session_seconds else 0,
            source=row["source"],
            adjusted=bool(row["adjusted"]),
            revision=int(row["revision"]),
        )


class AdjustmentOut(BaseModel):
    id: uuid.UUID
    attendance_id: uuid.UUID
    participant_id: uuid.UUID | None
    guest_id: uuid.UUID | None = None
    previous_seconds: int | None
    attended_seconds: int
    reason: str
    actor: str
    created_at: datetime


class CreditOut(BaseModel):
    id: uuid.UUID
    programme_id: uuid.UUID
    session_id: uuid.UUID
    session_starts_at: datetime | None
    hours: float
    rule_version: int
    attended_seconds: int | None
    adjusted: bool


class CreditRuleIn(_In):
    min_percent: int = Field(ge=1, le=100)
    rounding_hours: Decimal = Field(default=Decimal("0.25"), gt=0, le=4, decimal_places=4)


class CreditRuleOut(BaseModel):
    programme_id: uuid.UUID
    version: int
    min_percent: int
    rounding_hours: float
    credits_changed: int | None = None


# --------------------------------------------------------------------------- helpers


async def _read(runtime: ServiceRuntime, fn: Any, *args: Any) -> Any:
    async with runtime.db.session() as session:
        return await fn(SqlaAttendanceRepository(session), *args)


async def _programme_for(
    runtime: ServiceRuntime, principal: Principal, programme_id: uuid.UUID, roles: Any
) -> Row:
    row: Row | None = await _read(runtime, SqlaAttendanceRepository.programme, programme_id)
    if row is None or not principal.allows((*READERS, Role.SPOKE), row["region"], programme_id):
        raise ProgrammeNotFound(f"no programme {programme_id} that you can see")
    principal.require(roles, row["region"], programme_id)
    return row


async def _participant_for(
    runtime: ServiceRuntime, principal: Principal, participant_id: uuid.UUID
) -> Row:
    """The participant, if the caller is staff of their region or the participant themselves."""
    row: Row | None = await _read(runtime, SqlaAttendanceRepository.participant, participant_id)
    if row is None or not (
        principal.allows(STAFF, row["region"]) or principal.subject_id == participant_id
    ):
        raise ParticipantNotFound(f"no participant {participant_id} that you can see")
    return row


async def _session_for(
    runtime: ServiceRuntime, principal: Principal, session_id: uuid.UUID, roles: Any
) -> Row:
    row: Row | None = await _read(runtime, SqlaAttendanceRepository.session_row, session_id)
    # Everyone in the programme may know the session exists (it is on their calendar).
    if row is None or not principal.allows(
        (*READERS, Role.SPOKE), row["region"], row["programme_id"]
    ):
        raise SessionNotFound(f"no session {session_id} that you can see")
    principal.require(roles, row["region"], row["programme_id"])
    return row


# --------------------------------------------------------------------------- participants


@router.post("/participants", status_code=status.HTTP_201_CREATED, response_model=ParticipantOut)
async def post_participant(
    body: ParticipantIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> ParticipantOut:
    principal.require(STAFF, body.region)
    if body.region not in runtime.settings.regions:
        raise Problem(
            422,
            "Unprocessable Content",
            f"region: this deployment serves {runtime.settings.regions}, not {body.region!r}",
            errors=[{"field": "region", "message": "region not served here"}],
        )
    row = await register_participant(
        runtime,
        RegisterParticipant(
            region=body.region,
            name=body.name,
            email=str(body.email),
            profession=body.profession,
            clinic=body.clinic,
            clinic_id=body.clinic_id,
            language=body.language,
            timezone=body.timezone,
            created_by=principal.subject,
            participant_id=body.id,
        ),
    )
    return ParticipantOut.model_validate(row)


@router.get("/participants/{participant_id}", response_model=ParticipantOut)
async def get_participant(
    participant_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> ParticipantOut:
    return ParticipantOut.model_validate(await _participant_for(runtime, principal, participant_id))


@router.post(
    "/programmes/{programme_id}/registrations",
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationOut,
)
async def post_registration(
    programme_id: uuid.UUID, body: RegistrationIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> RegistrationOut:
    programme: Row | None = await _read(runtime, SqlaAttendanceRepository.programme, programme_id)
    if programme is None or not principal.allows(
        (*READERS, Role.SPOKE), programme["region"], programme_id
    ):
        raise ProgrammeNotFound(f"no programme {programme_id} that you can see")
    self_service = principal.subject_id == body.participant_id and principal.allows(
        [Role.SPOKE], programme["region"], programme_id
    )
    if not self_service:
        principal.require(STAFF, programme["region"], programme_id)
    row = await register_to_programme(
        runtime, RegisterToProgramme(participant_id=body.participant_id, programme_id=programme_id)
    )
    return RegistrationOut.model_validate(row)


@router.post(
    "/programmes/{programme_id}/video-meetings",
    status_code=status.HTTP_201_CREATED,
    response_model=VideoMeetingOut,
)
async def post_video_meeting(
    programme_id: uuid.UUID,
    body: VideoMeetingIn,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> VideoMeetingOut:
    """Link a (recurring) video meeting to a programme: its webhooks then find sessions by time.

    Linking again to the same programme is a no-op; a meeting linked to another programme is a
    409 that names neither that programme nor its region (the caller may not see them).
    """
    await _programme_for(runtime, principal, programme_id, STAFF)
    if body.provider not in settings.webhook_secrets:
        raise ProviderNotConfigured(
            f"provider: no webhook secret is configured for {body.provider!r}, so its join and"
            f" leave webhooks could not be verified; use one of"
            f" {sorted(settings.webhook_secrets)} or have the operator add a secret to"
            " ATTENDANCE_WEBHOOK_SECRETS"
        )
    async with runtime.db.transaction() as session:
        linked = await SqlaAttendanceRepository(session).link_meeting(
            body.provider, body.meeting_id, programme_id
        )
    if linked != programme_id:
        raise MeetingLinkedElsewhere(
            f"meeting_id: {body.provider} meeting {body.meeting_id} is already linked to another"
            " programme and was left as it is; create a new meeting for this programme, or ask"
            " the hub that linked it to release it"
        )
    return VideoMeetingOut(
        provider=body.provider, meeting_id=body.meeting_id, programme_id=programme_id
    )


# --------------------------------------------------------------------------- credit rules


@router.get("/programmes/{programme_id}/credit-rule", response_model=CreditRuleOut)
async def get_credit_rule(
    programme_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> CreditRuleOut:
    await _programme_for(runtime, principal, programme_id, (*READERS, Role.SPOKE))
    rule = await _read(runtime, SqlaAttendanceRepository.rule, programme_id)
    if rule is None:
        raise ProgrammeNotFound(f"programme {programme_id} has no credit rule yet")
    return CreditRuleOut(
        programme_id=programme_id,
        version=rule.version,
        min_percent=rule.min_percent,
        rounding_hours=float(rule.rounding_hours),
    )


@router.put("/programmes/{programme_id}/credit-rule", response_model=CreditRuleOut)
async def put_credit_rule(
    programme_id: uuid.UUID, body: CreditRuleIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> CreditRuleOut:
    """A new version of the rule; every credit of the programme is recomputed from the segments."""
    await _programme_for(runtime, principal, programme_id, [Role.HUB_ADMIN])
    result = await change_credit_rule(
        runtime,
        ChangeCreditRule(
            programme_id=programme_id,
            min_percent=body.min_percent,
            rounding_hours=body.rounding_hours,
            actor=principal.subject,
        ),
    )
    return CreditRuleOut(
        programme_id=programme_id,
        version=result.rule.version,
        min_percent=result.rule.min_percent,
        rounding_hours=float(result.rule.rounding_hours),
        credits_changed=len(result.credit_changes),
    )


class RecomputationOut(BaseModel):
    programme_id: uuid.UUID
    rule_version: int
    records_changed: int
    credits_changed: int


@router.post("/programmes/{programme_id}/credits/recompute", response_model=RecomputationOut)
async def post_recompute(
    programme_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> RecomputationOut:
    """Recompute every record and credit from the stored segments; only differences are events."""
    await _programme_for(runtime, principal, programme_id, [Role.HUB_ADMIN])
    result = await recompute_programme(runtime, programme_id)
    return RecomputationOut(
        programme_id=programme_id,
        rule_version=result.rule.version,
        records_changed=len(result.events) - len(result.credit_changes),
        credits_changed=len(result.credit_changes),
    )


# --------------------------------------------------------------------------- presence


@router.post("/webhooks/video/{provider}")
async def post_video_webhook(
    provider: str, request: Request, runtime: RuntimeDep, settings: SettingsDep
) -> dict[str, Any]:
    """Signed join/leave webhooks (Zoom-style or generic); 401 when forged, stale or replayed."""
    body = await request.body()
    async with _webhook_gate(runtime, settings):
        outcome = await receive_webhook(runtime, settings, provider, request.headers, body)
    if outcome.answer is not None:
        return dict(outcome.answer)
    return {
        "status": outcome.status,
        "session_id": outcome.session_id,
        "attendance_id": outcome.attendance_id,
        "guest": outcome.guest,
    }


@router.post("/sessions/{session_id}/attendance", response_model=AttendanceOut)
async def post_manual_attendance(
    session_id: uuid.UUID,
    body: ManualAttendanceIn,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> AttendanceOut:
    await _session_for(runtime, principal, session_id, STAFF)
    row = await record_manual_attendance(
        runtime,
        RecordManualAttendance(
            session_id=session_id,
            participant_id=body.participant_id,
            guest_name=body.guest.name if body.guest else None,
            guest_email=str(body.guest.email) if body.guest else None,
            attended_minutes=body.attended_minutes,
            reason=body.reason,
            actor=principal.subject,
        ),
    )
    return AttendanceOut.of(row)


@router.get("/sessions/{session_id}/attendance", response_model=Page[AttendanceOut])
async def list_attendance(
    session_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep, page: PageDep
) -> Page[AttendanceOut]:
    await _session_for(runtime, principal, session_id, READERS)
    rows, total = await _read(
        runtime, SqlaAttendanceRepository.page_of_session, session_id, page.limit, page.offset
    )
    return Page.of([AttendanceOut.of(r) for r in rows], total, page)


@router.get("/sessions/{session_id}/attendance-adjustments", response_model=Page[AdjustmentOut])
async def list_adjustments(
    session_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep, page: PageDep
) -> Page[AdjustmentOut]:
    """The audit trail of manual entries in a session: who, when, from what, to what, why."""
    await _session_for(runtime, principal, session_id, (Role.HUB_ADMIN, Role.FACILITATOR))
    rows, total = await _read(
        runtime, SqlaAttendanceRepository.adjustments, session_id, page.limit, page.offset
    )
    return Page.of([AdjustmentOut.model_validate(r) for r in rows], total, page)


# --------------------------------------------------------------------------- credit, certificates


@router.get("/participants/{participant_id}/credits", response_model=Page[CreditOut])
async def list_credits(
    participant_id: uuid.UUID,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    page: PageDep,
    programme_id: uuid.UUID | None = None,
) -> Page[CreditOut]:
    await _participant_for(runtime, principal, participant_id)
    rows, total = await _read(
        runtime,
        SqlaAttendanceRepository.credits_of,
        participant_id,
        programme_id,
        page.limit,
        page.offset,
    )
    items = [
        CreditOut(
            id=r["id"],
            programme_id=r["programme_id"],
            session_id=r["session_id"],
            session_starts_at=r["starts_at"],
            hours=float(r["hours"]),
            rule_version=r["rule_version"],
            attended_seconds=r["attended_seconds"],
            adjusted=bool(r["adjusted"]),
        )
        for r in rows
    ]
    return Page.of(items, total, page)


@router.get(
    "/participants/{participant_id}/certificates/{programme_id}",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def get_certificate(
    participant_id: uuid.UUID,
    programme_id: uuid.UUID,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> Response:
    await _participant_for(runtime, principal, participant_id)
    cert = await issue_certificate(runtime, settings, participant_id, programme_id)
    pdf = FpdfCertificateRenderer(settings.certificate_font).render(cert)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "content-disposition": f'inline; filename="certificate-{cert.verification_code}.pdf"'
        },
    )
