"""Post-session evaluations: versioned forms, signed response links, answer rules. No framework."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from echo_contracts.events import QuestionKind

from echo_attendance.domain.model import ATTENDANCE_NS, AttendanceError

MAX_QUESTIONS = 20
#: Longest free comment kept (characters); longer answers are refused, not cut.
MAX_COMMENT = 2000
SCORE_MIN, SCORE_MAX = 1, 5
_CODE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


class EvaluationError(AttendanceError):
    """Base of the evaluation errors; `errors` names each field and what to do."""

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    def problem_extra(self) -> dict[str, Any]:
        return {"errors": self.errors} if self.errors else {}


class InvalidEvaluationForm(EvaluationError):
    field = "questions"


class NoEvaluationForm(EvaluationError):
    field = "programme_id"


class FormChangedMeanwhile(EvaluationError):
    """Two changes of one form at once: the later one is refused, to be sent again."""


class SessionNotEnded(EvaluationError):
    field = "session_id"


class InvalidAnswers(EvaluationError):
    field = "answers"


class AlreadyAnswered(EvaluationError):
    pass


class NotAnAttendee(EvaluationError):
    pass


class EvaluationNotOpen(EvaluationError):
    pass


class EvaluationClosed(EvaluationError):
    pass


class InvalidEvaluationLink(EvaluationError):
    field = "token"


@dataclass(frozen=True)
class Question:
    code: str
    kind: QuestionKind
    text: str
    required: bool = True
    language: str | None = None

    @property
    def is_comment(self) -> bool:
        return self.kind is QuestionKind.COMMENT


@dataclass(frozen=True)
class EvaluationForm:
    """One version of a programme's survey."""

    version: int
    questions: tuple[Question, ...]
    anonymous: bool
    send_after_minutes: int
    open_days: int

    def question(self, code: str) -> Question | None:
        """The question with this code, if the form has it."""
        return next((q for q in self.questions if q.code == code), None)


def check_questions(questions: list[Question]) -> None:
    """Refuse a form that is empty, too long, has a repeated code or more than one comment."""
    errors: list[dict[str, str]] = []
    if not 1 <= len(questions) <= MAX_QUESTIONS:
        errors.append(
            {
                "field": "questions",
                "message": f"a form has 1 to {MAX_QUESTIONS} questions, not {len(questions)}",
            }
        )
    seen: set[str] = set()
    comments = 0
    for i, q in enumerate(questions):
        if not _CODE.match(q.code):
            errors.append(
                {
                    "field": f"questions[{i}].code",
                    "message": "a code is lowercase letters, digits, '_', '.' or '-',"
                    " starting with a letter",
                }
            )
        if q.code in seen:
            errors.append(
                {
                    "field": f"questions[{i}].code",
                    "message": f"code {q.code!r} is used twice; give each question its own code",
                }
            )
        seen.add(q.code)
        if q.is_comment:
            comments += 1
            if comments > 1:
                errors.append(
                    {
                        "field": f"questions[{i}].kind",
                        "message": "a form has at most one comment question; merge them",
                    }
                )
    if errors:
        raise InvalidEvaluationForm(
            "the evaluation form is not valid: "
            + "; ".join(f"{e['field']}: {e['message']}" for e in errors),
            errors,
        )


@dataclass(frozen=True)
class Answer:
    """A checked answer: the scores (question, kind, value) and the optional comment."""

    scores: tuple[tuple[str, QuestionKind, int], ...]
    comment: str | None


def check_answers(form: EvaluationForm, answers: dict[str, Any]) -> Answer:
    """Check answers against the form version they answer; every problem is named at once."""
    errors: list[dict[str, str]] = []
    scores: list[tuple[str, QuestionKind, int]] = []
    comment: str | None = None
    for code, value in answers.items():
        field = f"answers.{code}"
        question = form.question(code)
        if question is None:
            known = ", ".join(q.code for q in form.questions)
            errors.append(
                {
                    "field": field,
                    "message": f"this form has no question {code!r}; its questions are {known}",
                }
            )
        elif question.is_comment:
            if value is None:
                continue
            if not isinstance(value, str):
                errors.append({"field": field, "message": "a comment is text"})
            elif len(value) > MAX_COMMENT:
                errors.append(
                    {
                        "field": field,
                        "message": f"a comment is at most {MAX_COMMENT} characters,"
                        f" this one has {len(value)}; shorten it",
                    }
                )
            elif value.strip():
                comment = value.strip()
        elif value is None:
            continue
        elif (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not SCORE_MIN <= value <= SCORE_MAX
        ):
            errors.append(
                {
                    "field": field,
                    "message": f"a score is a whole number from {SCORE_MIN} to {SCORE_MAX},"
                    f" not {repr(value)[:40]}",
                }
            )
        else:
            scores.append((code, question.kind, value))
    comment_codes = {q.code for q in form.questions if q.is_comment}
    answered = {code for code, _, _ in scores} | (comment_codes if comment else set())
    flagged = {e["field"] for e in errors}
    for q in form.questions:
        if q.required and q.code not in answered and f"answers.{q.code}" not in flagged:
            errors.append(
                {"field": f"answers.{q.code}", "message": "this question needs an answer"}
            )
    if errors:
        raise InvalidAnswers(
            "the answers are not valid: "
            + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10]),
            errors,
        )
    return Answer(tuple(scores), comment)


def request_id(session_id: uuid.UUID, participant_id: uuid.UUID) -> uuid.UUID:
    """One evaluation request per session and participant, the same id on every attempt."""
    return uuid.uuid5(ATTENDANCE_NS, f"evaluation-request:{session_id}:{participant_id}")


def answered_marker(secret: str, session_id: uuid.UUID, participant_id: uuid.UUID) -> str:
    """A one-way mark that this person answered this session (no participant id is kept)."""
    message = f"answered:{session_id}:{participant_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_link(secret: str, request: uuid.UUID, closes_at: datetime) -> str:
    """The credential in a response URL: the request id and its expiry, HMAC-SHA256 signed."""
    payload = request.bytes + struct.pack(">q", int(closes_at.timestamp()))
    mac = hmac.new(secret.encode(), b"evaluation:" + payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


@dataclass(frozen=True)
class LinkClaims:
    request_id: uuid.UUID
    closes_at: datetime


def verify_link(secret: str, token: str, now: datetime) -> LinkClaims:
    """The request a link is for; refuses forged links (401) and expired ones (410)."""
    invalid = InvalidEvaluationLink(
        "this evaluation link is not valid; open the link from your invitation email as it was sent"
    )
    body, _, signature = token.partition(".")
    try:
        payload, mac = _unb64(body), _unb64(signature)
    except ValueError:
        raise invalid from None
    if len(payload) != 24:
        raise invalid
    expected = hmac.new(secret.encode(), b"evaluation:" + payload, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, mac):
        raise invalid
    (expiry,) = struct.unpack(">q", payload[16:])
    closes_at = datetime.fromtimestamp(expiry, UTC)
    if now >= closes_at:
        raise EvaluationClosed(
            f"this evaluation closed at {closes_at.isoformat()}; answers are no longer accepted"
        )
    return LinkClaims(uuid.UUID(bytes=payload[:16]), closes_at)
