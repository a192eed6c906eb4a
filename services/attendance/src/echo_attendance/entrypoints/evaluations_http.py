"""REST API of evaluations and guests: entry points build a command and hand it on."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from echo_contracts.events import QuestionKind
from echo_contracts.types import Code, Email, LanguageTag
from echo_runtime.auth import CurrentPrincipal, Role
from echo_runtime.pagination import Page, PageDep
from echo_runtime.service import RuntimeDep
from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field, StringConstraints

from echo_attendance.adapters.repository import SqlaAttendanceRepository
from echo_attendance.domain.evaluation import (
    MAX_COMMENT,
    EvaluationForm,
    NoEvaluationForm,
    Question,
)
from echo_attendance.domain.guests import GuestPolicy
from echo_attendance.entrypoints.evaluation_page import render_form, wants_html
from echo_attendance.entrypoints.http import (
    READERS,
    STAFF,
    SettingsDep,
    _In,
    _programme_for,
    _read,
    _session_for,
)
from echo_attendance.entrypoints.timekeeping import now_of as _now
from echo_attendance.service_layer.evaluations import (
    ChangeEvaluationForm,
    EvaluationRound,
    OpenEvaluation,
    change_evaluation_form,
    evaluation_by_link,
    evaluation_for_participant,
    programme_summary,
    send_evaluations,
    submit_evaluation,
)
from echo_attendance.service_layer.guests import JoinSession, join_session, set_guest_policy

router = APIRouter(prefix="/v1", tags=["evaluations and guests"])

# --------------------------------------------------------------------------- models


class QuestionIn(_In):
    code: Code
    kind: QuestionKind
    text: str = Field(min_length=1, max_length=500)
    language: LanguageTag | None = None
    required: bool = True


class EvaluationFormIn(_In):
    #: 1 to 20 questions, unique codes, at most one comment (checked with a message per field).
    questions: list[QuestionIn] = Field(max_length=100)
    anonymous: bool = False
    send_after_minutes: int = Field(default=30, ge=0, le=24 * 60)
    open_days: int = Field(default=14, ge=1, le=90)


class QuestionOut(BaseModel):
    code: str
    kind: QuestionKind
    text: str
    language: str | None
    required: bool


class EvaluationFormOut(BaseModel):
    programme_id: uuid.UUID
    version: int
    anonymous: bool
    send_after_minutes: int
    open_days: int
    questions: list[QuestionOut]

    @classmethod
    def of(cls, programme_id: uuid.UUID, form: EvaluationForm) -> EvaluationFormOut:
        return cls(
            programme_id=programme_id,
            version=form.version,
            anonymous=form.anonymous,
            send_after_minutes=form.send_after_minutes,
            open_days=form.open_days,
            questions=[
                QuestionOut(
                    code=q.code, kind=q.kind, text=q.text, language=q.language, required=q.required
                )
                for q in form.questions
            ],
        )


class EvaluationRoundOut(BaseModel):
    session_id: uuid.UUID
    programme_id: uuid.UUID
    form_version: int
    invited: int
    opened_at: datetime
    closes_at: datetime
    trigger: str
    #: False when the survey had already been sent (the call changed nothing).
    sent_now: bool

    @classmethod
    def of(cls, r: EvaluationRound) -> EvaluationRoundOut:
        return cls.model_validate(r, from_attributes=True)


class OpenEvaluationOut(BaseModel):
    session_id: uuid.UUID
    programme_id: uuid.UUID
    form_version: int
    anonymous: bool
    closes_at: datetime
    comment_max_length: int = MAX_COMMENT
    questions: list[QuestionOut]

    @classmethod
    def of(cls, opened: OpenEvaluation) -> OpenEvaluationOut:
        form = EvaluationFormOut.of(opened.request["programme_id"], opened.form)
        return cls(
            session_id=opened.request["session_id"],
            programme_id=opened.request["programme_id"],
            form_version=opened.form.version,
            anonymous=opened.form.anonymous,
            closes_at=opened.closes_at,
            questions=form.questions,
        )


AnswerCode = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class AnswersIn(_In):
    #: Question code -> a score 1..5, or the text of the comment question.
    answers: dict[AnswerCode, int | str | None] = Field(max_length=50)


class SubmittedOut(BaseModel):
    response_id: uuid.UUID
    session_id: uuid.UUID
    form_version: int
    anonymous: bool


class ResponseOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    form_version: int
    #: The participant who answered; empty when the form was anonymous.
    respondent_id: uuid.UUID | None
    anonymous: bool
    scores: dict[str, int]
    comment: str | None
    submitted_on: date


class QuestionSummaryOut(BaseModel):
    code: str
    kind: str
    answers: int
    average: float | None


class SessionSummaryOut(BaseModel):
    session_id: uuid.UUID
    form_version: int
    invited: int
    responses: int
    response_rate: float | None


class EvaluationSummaryOut(BaseModel):
    programme_id: uuid.UUID
    invited: int
    responses: int
    response_rate: float | None
    comments: int
    sessions: list[SessionSummaryOut]
    questions: list[QuestionSummaryOut]


class GuestPolicyIn(_In):
    #: Guests admitted to one session; null: no limit, 0: no guests.
    max_guests_per_session: int | None = Field(default=None, ge=0, le=10_000)
    #: Sessions a guest may attend before registering; null: no limit.
    register_after_sessions: int | None = Field(default=None, ge=1, le=1000)


class GuestPolicyOut(BaseModel):
    programme_id: uuid.UUID
    max_guests_per_session: int | None
    register_after_sessions: int | None


class JoinIn(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: Email | None = None


class JoinOut(BaseModel):
    session_id: uuid.UUID
    admitted: bool
    #: `participant` or `guest`.
    admitted_as: str
    participant_id: uuid.UUID | None
    guest_id: uuid.UUID | None


def _rate(responses: int, invited: int) -> float | None:
    return round(responses / invited, 4) if invited else None


# --------------------------------------------------------------------------- forms


@router.put("/programmes/{programme_id}/evaluation-form", response_model=EvaluationFormOut)
async def put_evaluation_form(
    programme_id: uuid.UUID,
    body: EvaluationFormIn,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> EvaluationFormOut:
    """A new version of the programme's post-session survey (answers keep their version)."""
    await _programme_for(runtime, principal, programme_id, [Role.HUB_ADMIN])
    form = await change_evaluation_form(
        runtime,
        ChangeEvaluationForm(
            programme_id=programme_id,
            questions=[
                Question(q.code, q.kind, q.text, q.required, q.language) for q in body.questions
            ],
            anonymous=body.anonymous,
            send_after_minutes=body.send_after_minutes,
            open_days=body.open_days,
            actor=principal.subject,
        ),
    )
    return EvaluationFormOut.of(programme_id, form)


@router.get("/programmes/{programme_id}/evaluation-form", response_model=EvaluationFormOut)
async def get_evaluation_form(
    programme_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> EvaluationFormOut:
    await _programme_for(runtime, principal, programme_id, (*READERS, Role.SPOKE))
    form = await _read(runtime, SqlaAttendanceRepository.evaluation_form, programme_id)
    if form is None:
        raise NoEvaluationForm(f"programme {programme_id} has no evaluation form yet")
    return EvaluationFormOut.of(programme_id, form)


# --------------------------------------------------------------------------- sending


@router.post("/sessions/{session_id}/evaluations/send", response_model=EvaluationRoundOut)
async def post_send_evaluations(
    session_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep, settings: SettingsDep
) -> EvaluationRoundOut:
    """Send the survey of an ended session to its attendees now; once, however often called."""
    await _session_for(runtime, principal, session_id, STAFF)
    sent = await send_evaluations(runtime, settings, session_id, _now(runtime), trigger="manual")
    return EvaluationRoundOut.of(sent)


# --------------------------------------------------------------------------- answering


@router.get("/evaluations/{token}", response_model=OpenEvaluationOut)
async def get_evaluation_by_link(
    token: str, request: Request, runtime: RuntimeDep, settings: SettingsDep
) -> OpenEvaluationOut | Response:
    """The survey behind a signed link (the link is the credential: no bearer token).

    A browser (Accept: text/html) gets the survey as a page posting to `.../form`.
    """
    opened = await evaluation_by_link(runtime, settings, token, _now(runtime))
    if wants_html(request):
        return render_form(token, opened)
    return OpenEvaluationOut.of(opened)


@router.post(
    "/evaluations/{token}", status_code=status.HTTP_201_CREATED, response_model=SubmittedOut
)
async def post_evaluation_by_link(
    token: str, body: AnswersIn, runtime: RuntimeDep, settings: SettingsDep
) -> SubmittedOut:
    """Answer through a signed link: once per person and session."""
    now = _now(runtime)
    opened = await evaluation_by_link(runtime, settings, token, now)
    result = await submit_evaluation(runtime, settings, opened, body.answers, now)
    return SubmittedOut.model_validate(result, from_attributes=True)


@router.get("/sessions/{session_id}/evaluation", response_model=OpenEvaluationOut)
async def get_own_evaluation(
    session_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> OpenEvaluationOut:
    """A spoke's own survey of a session they attended (token subject = participant id)."""
    await _session_for(runtime, principal, session_id, [Role.SPOKE])
    opened = await evaluation_for_participant(
        runtime, session_id, principal.subject_id, _now(runtime)
    )
    return OpenEvaluationOut.of(opened)


@router.post(
    "/sessions/{session_id}/evaluation",
    status_code=status.HTTP_201_CREATED,
    response_model=SubmittedOut,
)
async def post_own_evaluation(
    session_id: uuid.UUID,
    body: AnswersIn,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    settings: SettingsDep,
) -> SubmittedOut:
    """A spoke answers a session they attended; 403 when they did not attend it."""
    await _session_for(runtime, principal, session_id, [Role.SPOKE])
    now = _now(runtime)
    opened = await evaluation_for_participant(runtime, session_id, principal.subject_id, now)
    result = await submit_evaluation(runtime, settings, opened, body.answers, now)
    return SubmittedOut.model_validate(result, from_attributes=True)


# --------------------------------------------------------------------------- staff views


@router.get("/sessions/{session_id}/evaluations", response_model=Page[ResponseOut])
async def list_evaluations(
    session_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep, page: PageDep
) -> Page[ResponseOut]:
    """A session's answers with comments; the respondent only when the form was not anonymous."""
    await _session_for(runtime, principal, session_id, STAFF)
    rows, total = await _read(
        runtime, SqlaAttendanceRepository.evaluation_responses, session_id, page.limit, page.offset
    )
    items = [
        ResponseOut(
            id=r["id"],
            session_id=r["session_id"],
            form_version=r["form_version"],
            respondent_id=r["participant_id"],
            anonymous=r["participant_id"] is None,
            scores={s["question"]: int(s["value"]) for s in r["scores"]},
            comment=r["comment"],
            submitted_on=r["submitted_on"],
        )
        for r in rows
    ]
    return Page.of(items, total, page)


@router.get("/programmes/{programme_id}/evaluation-summary", response_model=EvaluationSummaryOut)
async def get_evaluation_summary(
    programme_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> EvaluationSummaryOut:
    """Invited, answered, response rates and average scores per question (no comments)."""
    await _programme_for(runtime, principal, programme_id, READERS)
    summary = await programme_summary(runtime, programme_id)
    return EvaluationSummaryOut(
        programme_id=programme_id,
        invited=summary.invited,
        responses=summary.responses,
        response_rate=_rate(summary.responses, summary.invited),
        comments=summary.comments,
        sessions=[
            SessionSummaryOut(
                session_id=s.session_id,
                form_version=s.form_version,
                invited=s.invited,
                responses=s.responses,
                response_rate=_rate(s.responses, s.invited),
            )
            for s in summary.sessions
        ],
        questions=[
            QuestionSummaryOut(code=q.code, kind=q.kind, answers=q.answers, average=q.average)
            for q in summary.questions
        ],
    )


# --------------------------------------------------------------------------- guests


@router.put("/programmes/{programme_id}/guest-policy", response_model=GuestPolicyOut)
async def put_guest_policy(
    programme_id: uuid.UUID, body: GuestPolicyIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> GuestPolicyOut:
    """Limit guests per session and sessions per guest before registration (null: no limit)."""
    await _programme_for(runtime, principal, programme_id, [Role.HUB_ADMIN])
    policy = await set_guest_policy(
        runtime,
        programme_id,
        GuestPolicy(body.max_guests_per_session, body.register_after_sessions),
        principal.subject,
    )
    return GuestPolicyOut(
        programme_id=programme_id,
        max_guests_per_session=policy.max_guests_per_session,
        register_after_sessions=policy.register_after_sessions,
    )


@router.get("/programmes/{programme_id}/guest-policy", response_model=GuestPolicyOut)
async def get_guest_policy(
    programme_id: uuid.UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> GuestPolicyOut:
    await _programme_for(runtime, principal, programme_id, (*READERS, Role.SPOKE))
    policy: GuestPolicy = await _read(runtime, SqlaAttendanceRepository.guest_policy, programme_id)
    return GuestPolicyOut(
        programme_id=programme_id,
        max_guests_per_session=policy.max_guests_per_session,
        register_after_sessions=policy.register_after_sessions,
    )


@router.post("/sessions/{session_id}/join", response_model=JoinOut)
async def post_join(
    session_id: uuid.UUID, body: JoinIn, principal: CurrentPrincipal, runtime: RuntimeDep
) -> JoinOut:
    """May this person enter the session? Called by a join page or video integration first.

    A spoke asks for themselves (token subject = participant id); staff (the join page's
    service token) ask for anyone by email. Refused guests get a 403 or 409 problem.
    """
    row: dict[str, Any] = await _session_for(runtime, principal, session_id, (*STAFF, Role.SPOKE))
    staff = principal.allows(STAFF, row["region"], row["programme_id"])
    admission = await join_session(
        runtime,
        JoinSession(
            session_id=session_id,
            participant_id=None if staff else principal.subject_id,
            name=body.name,
            email=str(body.email) if body.email else None,
        ),
    )
    return JoinOut(
        session_id=session_id,
        admitted=True,
        admitted_as=admission.admitted_as,
        participant_id=admission.participant_id,
        guest_id=admission.guest_id,
    )
