"""Use cases on post-session evaluations: forms, sending (exactly once), answers, summaries."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from echo_contracts import EvaluationOpened, EvaluationRequested, EvaluationSubmitted, Event
from echo_contracts.events import EvaluationScore
from echo_runtime.clock import Clock
from echo_runtime.logging import get_logger
from echo_runtime.service import ServiceRuntime
from sqlalchemy.exc import IntegrityError

from echo_attendance.adapters.repository import Row, SqlaAttendanceRepository, utc, window_of
from echo_attendance.domain.evaluation import (
    AlreadyAnswered,
    EvaluationClosed,
    EvaluationForm,
    EvaluationNotOpen,
    FormChangedMeanwhile,
    InvalidEvaluationLink,
    NoEvaluationForm,
    NotAnAttendee,
    Question,
    SessionNotEnded,
    answered_marker,
    check_answers,
    check_questions,
    request_id,
    sign_link,
    verify_link,
)
from echo_attendance.domain.model import ProgrammeNotFound, SessionNotFound
from echo_attendance.settings import AttendanceSettings

log = get_logger(__name__)


# --------------------------------------------------------------------------- forms


@dataclass(frozen=True)
class ChangeEvaluationForm:
    programme_id: uuid.UUID
    questions: list[Question]
    anonymous: bool
    send_after_minutes: int
    open_days: int
    actor: str


async def change_evaluation_form(
    runtime: ServiceRuntime, cmd: ChangeEvaluationForm
) -> EvaluationForm:
    """Add a new version of a programme's form; answers keep the version they were sent."""
    check_questions(cmd.questions)
    try:
        form = await _add_form(runtime, cmd)
    except IntegrityError:
        raise FormChangedMeanwhile(
            "the form was changed by someone else at the same moment; read it and send yours again"
        ) from None
    log.info("evaluation_form_changed", programme_id=str(cmd.programme_id), version=form.version)
    return form


async def _add_form(runtime: ServiceRuntime, cmd: ChangeEvaluationForm) -> EvaluationForm:
    async with runtime.db.transaction() as session:
        repo = SqlaAttendanceRepository(session)
        if not await repo.lock_programme(cmd.programme_id):
            raise ProgrammeNotFound(f"no programme {cmd.programme_id} known here")
        current = await repo.evaluation_form(cmd.programme_id)
        form = EvaluationForm(
            version=(current.version if current else 0) + 1,
            questions=tuple(cmd.questions),
            anonymous=cmd.anonymous,
            send_after_minutes=cmd.send_after_minutes,
            open_days=cmd.open_days,
        )
        await repo.add_evaluation_form(cmd.programme_id, form, cmd.actor)
    return form


# --------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class EvaluationRound:
    session_id: uuid.UUID
    programme_id: uuid.UUID
    form_version: int
    invited: int
    opened_at: datetime
    closes_at: datetime
    trigger: str
    #: False when the round had already been sent (by this or another instance).
    sent_now: bool

    @classmethod
    def of(cls, row: Row, *, sent_now: bool) -> EvaluationRound:
        return cls(
            session_id=row["session_id"],
            programme_id=row["programme_id"],
            form_version=int(row["form_version"]),
            invited=int(row["invited"]),
            opened_at=utc(row["opened_at"]),
            closes_at=utc(row["closes_at"]),
            trigger=row["trigger"],
            sent_now=sent_now,
        )


async def send_evaluations(
    runtime: ServiceRuntime,
    settings: AttendanceSettings,
    session_id: uuid.UUID,
    now: datetime,
    *,
    trigger: str = "manual",
) -> EvaluationRound:
    """Ask every attendee of an ended session to answer its survey: once, whoever calls.

    Requests, their `EvaluationRequested` events and the `EvaluationOpened` count are written
    in one transaction whose first statement claims the session's round (its primary key):
    a second call, a second instance or a restart finds the claim and sends nothing.
    """
    async with runtime.db.session() as session:
        repo = SqlaAttendanceRepository(session)
        session_row = await repo.session_row(session_id)
        window = None if session_row is None else window_of(session_row)
        if session_row is None or window is None or session_row["status"] == "cancelled":
            raise SessionNotFound(f"no session {session_id} known here (or it was cancelled)")
        existing = await repo.evaluation_round(session_id)
        if existing is not None:
            return EvaluationRound.of(existing, sent_now=False)
        if window.ends_at > now:
            raise SessionNotEnded(
                f"the session ends at {window.ends_at.isoformat()}; its evaluation is sent"
                " after it ends"
            )
        form = await repo.evaluation_form(session_row["programme_id"])
        if form is None:
            raise NoEvaluationForm(
                "this session's programme has no evaluation form; a hub-admin sets one with"
                f" PUT /v1/programmes/{session_row['programme_id']}/evaluation-form"
            )
    closes_at = now + timedelta(days=form.open_days)
    values: dict[str, Any] = {
        "session_id": session_id,
        "programme_id": session_row["programme_id"],
        "form_version": form.version,
        "invited": 0,
        "trigger": trigger,
        "opened_at": now,
        "closes_at": closes_at,
    }
    async with runtime.db.transaction() as session:
        repo = SqlaAttendanceRepository(session)
        if not await repo.claim_evaluation_round(values):
            existing = await repo.evaluation_round(session_id)
            assert existing is not None
            return EvaluationRound.of(existing, sent_now=False)
        attendees = await repo.evaluation_attendees(session_id)
        requests: list[Row] = []
        events: list[Event] = []
        for participant_id in attendees:
            rid = request_id(session_id, participant_id)
            token = sign_link(settings.evaluation_secret, rid, closes_at)
            requests.append(
                {
                    "id": rid,
                    "session_id": session_id,
                    "participant_id": participant_id,
                    "programme_id": session_row["programme_id"],
                    "form_version": form.version,
                    "closes_at": closes_at,
                    "created_at": now,
                }
            )
            events.append(
                EvaluationRequested(
                    request_id=rid,
                    participant_id=participant_id,
                    session_id=session_id,
                    programme_id=session_row["programme_id"],
                    form_version=form.version,
                    response_url=f"{settings.public_base_url.rstrip('/')}/v1/evaluations/{token}",
                    closes_at=closes_at,
                )
            )
        await repo.add_evaluation_requests(requests)
        await repo.set_invited(session_id, len(attendees))
        events.append(
            EvaluationOpened(
                session_id=session_id,
                programme_id=session_row["programme_id"],
                form_version=form.version,
                invited=len(attendees),
                closes_at=closes_at,
            )
        )
        await runtime.emit(session, session_row["region"], *events)
    log.info("evaluation_sent", session_id=str(session_id), invited=len(attendees), trigger=trigger)
    return EvaluationRound.of({**values, "invited": len(attendees)}, sent_now=True)


@dataclass
class SenderReport:
    sent: list[uuid.UUID] = field(default_factory=list)
    waiting: int = 0


class EvaluationSender:
    """Background job: sends each ended session's survey once its programme's delay has passed.

    Only sessions that ended within `evaluation_lookback_hours` are sent automatically, so a
    form added today does not survey a programme's whole past; staff can still send any ended
    session with `POST /v1/sessions/{id}/evaluations/send`.
    """

    def __init__(self, settings: AttendanceSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._runtime: ServiceRuntime | None = None
        self._lock = asyncio.Lock()

    def bind(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime

    async def run(self, runtime: ServiceRuntime) -> None:
        """Tick every `evaluation_interval_seconds` until cancelled; errors never stop it."""
        self.bind(runtime)
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be restarting: try again next tick
                log.warning("evaluation_sender_failed", error=type(exc).__name__)
            await asyncio.sleep(self.settings.evaluation_interval_seconds)

    async def tick(self) -> SenderReport:
        """Send every survey that is due now (by this sender's clock)."""
        if self._runtime is None:
            raise RuntimeError("the evaluation sender is not bound to a runtime")
        runtime = self._runtime
        async with self._lock:
            now = self.clock.now()
            since = now - timedelta(hours=self.settings.evaluation_lookback_hours)
            report = SenderReport()
            async with runtime.db.session() as session:
                repo = SqlaAttendanceRepository(session)
                due: list[tuple[Row, EvaluationForm]] = []
                for row in await repo.sessions_due_for_evaluation(now, since):
                    form = await repo.evaluation_form(row["programme_id"])
                    # No attendance yet (a facilitator may enter it by hand later): wait rather
                    # than close the round with nobody invited.
                    if form is not None and await repo.evaluation_attendees(row["id"]):
                        due.append((row, form))
                    else:
                        report.waiting += 1
            for row, form in due:
                assert row["ends_at"] is not None
                if utc(row["ends_at"]) + timedelta(minutes=form.send_after_minutes) > now:
                    report.waiting += 1
                    continue
                sent = await send_evaluations(
                    runtime, self.settings, row["id"], now, trigger="schedule"
                )
                if sent.sent_now:
                    report.sent.append(row["id"])
            return report


# --------------------------------------------------------------------------- answering


@dataclass(frozen=True)
class OpenEvaluation:
    """A request someone may answer, with the form version it was sent with."""

    request: Row
    form: EvaluationForm
    closes_at: datetime


async def evaluation_by_link(
    runtime: ServiceRuntime, settings: AttendanceSettings, token: str, now: datetime
) -> OpenEvaluation:
    """The evaluation a signed link is for; 401 when forged, 410 when closed."""
    claims = verify_link(settings.evaluation_secret, token, now)
    async with runtime.db.session() as session:
        repo = SqlaAttendanceRepository(session)
        request = await repo.evaluation_request(claims.request_id)
        if request is None:
            raise InvalidEvaluationLink("this evaluation link is not valid any more")
        return await _open(repo, request, now)


async def evaluation_for_participant(
    runtime: ServiceRuntime, session_id: uuid.UUID, participant_id: uuid.UUID, now: datetime
) -> OpenEvaluation:
    """A participant's own evaluation of a session (spoke token); 403 when they did not attend."""
    async with runtime.db.session() as session:
        repo = SqlaAttendanceRepository(session)
        request = await repo.evaluation_request(request_id(session_id, participant_id))
        if request is None:
            if await repo.attended(session_id, participant_id):
                if await repo.evaluation_round(session_id) is None:
                    raise EvaluationNotOpen(
                        "this session's evaluation has not been sent yet; it opens after the"
                        " session"
                    )
                raise NotAnAttendee(
                    "this session's evaluation went to the people whose attendance was recorded"
                    " when it was sent; yours was recorded later, so you are not among them"
                )
            raise NotAnAttendee(
                "only people who attended this session are asked to evaluate it, and no"
                " attendance of yours is recorded for it"
            )
        return await _open(repo, request, now)


async def _open(repo: SqlaAttendanceRepository, request: Row, now: datetime) -> OpenEvaluation:
    closes_at = utc(request["closes_at"])
    if now >= closes_at:
        raise EvaluationClosed(
            f"this evaluation closed at {closes_at.isoformat()}; answers are no longer accepted"
        )
    form = await repo.evaluation_form(request["programme_id"], int(request["form_version"]))
    if form is None:
        raise NoEvaluationForm("the form this evaluation was sent with is missing")
    return OpenEvaluation(request, form, closes_at)


@dataclass(frozen=True)
class SubmittedEvaluation:
    response_id: uuid.UUID
    session_id: uuid.UUID
    form_version: int
    anonymous: bool


async def submit_evaluation(
    runtime: ServiceRuntime,
    settings: AttendanceSettings,
    opened: OpenEvaluation,
    answers: dict[str, Any],
    now: datetime,
) -> SubmittedEvaluation:
    """Store one person's answer to one session (a second one is a 409) and publish the scores.

    Bad answers are refused before anything is written. An anonymous form's response keeps no
    participant id: only a keyed one-way marker remembers that this person answered.
    """
    request = opened.request
    session_id = request["session_id"]
    marker = answered_marker(settings.evaluation_secret, session_id, request["participant_id"])
    already = AlreadyAnswered(
        "you have already answered this session's evaluation; each person answers once"
    )
    async with runtime.db.session() as session:
        repo = SqlaAttendanceRepository(session)
        if not await repo.marker_free(session_id, marker):
            raise already
        session_row = await repo.session_row(session_id)
    answer = check_answers(opened.form, answers)
    if session_row is None:
        raise SessionNotFound(f"no session {session_id} known here")
    response_id = uuid.uuid4()
    scores = [{"question": c, "kind": k.value, "value": v} for c, k, v in answer.scores]
    async with runtime.db.transaction() as session:
        repo = SqlaAttendanceRepository(session)
        if not await repo.mark_answered(session_id, marker):
            raise already
        await repo.add_evaluation_response(
            {
                "id": response_id,
                "session_id": session_id,
                "programme_id": request["programme_id"],
                "form_version": opened.form.version,
                "participant_id": None if opened.form.anonymous else request["participant_id"],
                "scores": scores,
                "comment": answer.comment,
                "submitted_on": now.date(),
            }
        )
        await runtime.emit(
            session,
            session_row["region"],
            EvaluationSubmitted(
                response_id=response_id,
                session_id=session_id,
                programme_id=request["programme_id"],
                form_version=opened.form.version,
                scores=[EvaluationScore(question=c, kind=k, value=v) for c, k, v in answer.scores],
                has_comment=answer.comment is not None,
            ),
        )
    log.info("evaluation_submitted", session_id=str(session_id))
    return SubmittedEvaluation(response_id, session_id, opened.form.version, opened.form.anonymous)


# --------------------------------------------------------------------------- summaries


@dataclass
class QuestionSummary:
    code: str
    kind: str
    answers: int = 0
    total: int = 0

    @property
    def average(self) -> float | None:
        return round(self.total / self.answers, 2) if self.answers else None


@dataclass
class SessionSummary:
    session_id: uuid.UUID
    form_version: int
    invited: int
    responses: int = 0


@dataclass
class ProgrammeSummary:
    programme_id: uuid.UUID
    sessions: list[SessionSummary]
    questions: list[QuestionSummary]
    comments: int

    @property
    def invited(self) -> int:
        return sum(s.invited for s in self.sessions)

    @property
    def responses(self) -> int:
        return sum(s.responses for s in self.sessions)


async def programme_summary(runtime: ServiceRuntime, programme_id: uuid.UUID) -> ProgrammeSummary:
    """Invited, answered and the average score of each question across a programme's sessions."""
    async with runtime.db.session() as session:
        rounds, responses = await SqlaAttendanceRepository(session).programme_evaluations(
            programme_id
        )
    sessions = {
        r["session_id"]: SessionSummary(r["session_id"], int(r["form_version"]), int(r["invited"]))
        for r in rounds
    }
    questions: dict[str, QuestionSummary] = {}
    comments = 0
    for response in responses:
        summary = sessions.get(response["session_id"])
        if summary is not None:
            summary.responses += 1
        comments += bool(response["has_comment"])
        for score in response["scores"]:
            q = questions.setdefault(
                score["question"], QuestionSummary(score["question"], score["kind"])
            )
            q.answers += 1
            q.total += int(score["value"])
    return ProgrammeSummary(
        programme_id, list(sessions.values()), list(questions.values()), comments
    )
