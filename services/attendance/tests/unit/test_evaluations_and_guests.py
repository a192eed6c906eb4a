"""Evaluation forms, answers and links; guest admission rules (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from echo_attendance.domain.evaluation import (
    MAX_COMMENT,
    EvaluationClosed,
    EvaluationForm,
    InvalidAnswers,
    InvalidEvaluationForm,
    InvalidEvaluationLink,
    Question,
    answered_marker,
    check_answers,
    check_questions,
    sign_link,
    verify_link,
)
from echo_attendance.domain.guests import (
    GuestPlacesFull,
    GuestPolicy,
    RegistrationRequired,
    check_admission,
    guest_email_key,
)
from echo_contracts.events import QuestionKind

K = QuestionKind
FORM = EvaluationForm(
    version=3,
    questions=(
        Question("sat", K.SATISFACTION, "Satisfied?"),
        Question("intent", K.INTENT_TO_CHANGE, "Change?", required=False),
        Question("comment", K.COMMENT, "Comment", required=False),
    ),
    anonymous=False,
    send_after_minutes=0,
    open_days=7,
)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _fields(
    exc: pytest.ExceptionInfo[InvalidAnswers] | pytest.ExceptionInfo[Exception],
) -> set[str]:
    return {e["field"] for e in getattr(exc.value, "errors", [])}


def test_form_rules_name_each_field() -> None:
    check_questions(list(FORM.questions))
    with pytest.raises(InvalidEvaluationForm) as empty:
        check_questions([])
    assert _fields(empty) == {"questions"}
    with pytest.raises(InvalidEvaluationForm) as too_many:
        check_questions([Question(f"q{i}", K.RELEVANCE, "?") for i in range(21)])
    assert "1 to 20" in str(too_many.value)
    with pytest.raises(InvalidEvaluationForm) as twice:
        check_questions(
            [
                Question("a", K.RELEVANCE, "?"),
                Question("a", K.SATISFACTION, "?"),
                Question("c1", K.COMMENT, "?"),
                Question("c2", K.COMMENT, "?"),
            ]
        )
    assert _fields(twice) == {"questions[1].code", "questions[3].kind"}


def test_answers_are_checked_against_their_form_version() -> None:
    ok = check_answers(FORM, {"sat": 4, "comment": "  useful  "})
    assert ok.scores == (("sat", K.SATISFACTION, 4),) and ok.comment == "useful"
    assert check_answers(FORM, {"sat": 1, "intent": None, "comment": ""}).comment is None
    cases = {
        "answers.sat": {"sat": 0},
        "answers.intent": {"sat": 3, "intent": 6},
        "answers.nope": {"sat": 3, "nope": 2},
        "answers.comment": {"sat": 3, "comment": "x" * (MAX_COMMENT + 1)},
    }
    for field, answers in cases.items():
        with pytest.raises(InvalidAnswers) as bad:
            check_answers(FORM, answers)
        assert field in _fields(bad), field
    with pytest.raises(InvalidAnswers) as missing:
        check_answers(FORM, {"intent": 2})
    assert _fields(missing) == {"answers.sat"}
    with pytest.raises(InvalidAnswers) as text_score:
        check_answers(FORM, {"sat": "5"})
    assert _fields(text_score) == {"answers.sat"}


def test_links_are_signed_expire_and_cannot_be_forged() -> None:
    request = uuid.uuid4()
    closes = NOW + timedelta(days=7)
    link = sign_link("secret", request, closes)
    claims = verify_link("secret", link, NOW)
    assert claims.request_id == request and claims.closes_at == closes
    with pytest.raises(InvalidEvaluationLink):
        verify_link("other-secret", link, NOW)
    with pytest.raises(InvalidEvaluationLink):
        verify_link(
            "secret",
            sign_link("secret", uuid.uuid4(), closes).split(".")[0] + "." + link.split(".")[1],
            NOW,
        )
    with pytest.raises(InvalidEvaluationLink):
        verify_link("secret", "garbage", NOW)
    with pytest.raises(EvaluationClosed):
        verify_link("secret", link, closes)


def test_answered_marker_is_one_way_and_per_session() -> None:
    person, session = uuid.uuid4(), uuid.uuid4()
    marker = answered_marker("s", session, person)
    assert marker == answered_marker("s", session, person)
    assert marker != answered_marker("s", uuid.uuid4(), person)
    assert str(person) not in marker and len(marker) == 64


def test_guest_admission_rules() -> None:
    assert check_admission(GuestPolicy(), places_taken=1000, sessions_attended=1000) is None
    policy = GuestPolicy(max_guests_per_session=2, register_after_sessions=3)
    assert check_admission(policy, places_taken=1, sessions_attended=2) is None
    full = check_admission(policy, places_taken=2, sessions_attended=0)
    assert isinstance(full, GuestPlacesFull) and "guest places are full" in str(full)
    register = check_admission(policy, places_taken=0, sessions_attended=3)
    assert isinstance(register, RegistrationRequired)
    assert "attended 3 sessions" in str(register) and "Register to continue" in str(register)
    assert isinstance(check_admission(GuestPolicy(0, None), 0, 0), GuestPlacesFull)
    assert guest_email_key(" A@Example.org ") == guest_email_key("a@example.org")
    assert "example" not in guest_email_key("a@example.org")
