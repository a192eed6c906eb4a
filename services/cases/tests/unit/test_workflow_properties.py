"""No sequence of workflow commands takes a case to a state the workflow does not allow."""

from __future__ import annotations

import copy
import uuid
from datetime import date

from echo_cases.domain.model import (
    TRANSITIONS,
    Case,
    CaseStatus,
    IllegalTransition,
)
from hypothesis import given, settings
from hypothesis import strategies as st

SESSIONS = [uuid.UUID(int=1), uuid.UUID(int=2)]
ACTOR = uuid.UUID(int=99)
BEFORE_SCHEDULING = {
    CaseStatus.SUBMITTED,
    CaseStatus.IN_REVIEW,
    CaseStatus.APPROVED,
    CaseStatus.REJECTED,
}

#: The commands anyone can send, with whatever arguments.
COMMANDS = st.one_of(
    st.just(("review",)),
    st.just(("approve",)),
    st.tuples(st.just("reject"), st.sampled_from(["Not enough detail.", "Duplicate."])),
    st.tuples(st.just("schedule"), st.sampled_from(SESSIONS), st.integers(1, 2)),
    st.just(("unschedule",)),
    st.just(("present",)),
    st.tuples(st.just("recommend"), st.one_of(st.none(), st.integers(1, 52))),
    st.tuples(st.just("follow_up"), st.integers(1, 52)),
)


def _new_case() -> Case:
    return Case(
        id=uuid.uuid4(),
        programme_id=uuid.uuid4(),
        region="ontario",
        presenter_id=uuid.uuid4(),
        template_id="echo-default",
        template_version=1,
        fields={"presenting_question": "?"},
    )


def _apply(case: Case, command: tuple[object, ...]) -> list[object]:
    name = command[0]
    if name == "review":
        return list(case.start_review(ACTOR))
    if name == "approve":
        return list(case.approve(ACTOR))
    if name == "reject":
        return list(case.reject(ACTOR, str(command[1])))
    if name == "schedule":
        session, slot = command[1], command[2]
        assert isinstance(session, uuid.UUID) and isinstance(slot, int)
        return list(case.schedule(session, slot))
    if name == "unschedule":
        case.unschedule()
        return []
    if name == "present":
        return list(case.present())
    if name == "recommend":
        weeks = command[1]
        assert weeks is None or isinstance(weeks, int)
        return list(case.issue_recommendations("Advice.", ACTOR, follow_up_weeks=weeks))
    weeks = command[1]
    assert isinstance(weeks, int)
    return list(case.request_follow_up(date(2027, 1, 1)))


@settings(max_examples=400, deadline=None)
@given(st.lists(COMMANDS, max_size=25))
def test_every_sequence_of_commands_stays_inside_the_workflow(
    commands: list[tuple[object, ...]],
) -> None:
    case = _new_case()
    for command in commands:
        before = copy.deepcopy(case)
        try:
            events = _apply(case, command)
        except IllegalTransition as exc:
            refused = exc
        else:
            refused = None
        if refused is not None:
            # A refused command changes nothing and names the state the case is in.
            assert case == before
            assert refused.current is before.status
            assert before.status.value in str(refused)
            continue
        # Every accepted command followed the transition table: one step, or two for the
        # commands that pass through a state (approve via review, recommend + follow-up).
        one = TRANSITIONS[before.status]
        two = {t for mid in one for t in TRANSITIONS[mid]}
        assert case.status is before.status or case.status in one | two, (
            before.status,
            command,
            case.status,
        )
        if case.status is before.status:
            assert events == [] or command[0] == "schedule"
        # Invariants of every reachable state.
        if case.status in {CaseStatus.SCHEDULED, CaseStatus.PRESENTED}:
            assert case.session_id is not None and case.slot in (1, 2)
        if case.status in BEFORE_SCHEDULING:
            assert case.session_id is None and case.slot is None
        if case.status is CaseStatus.REJECTED:
            assert case.rejection_reason
        if case.status in {CaseStatus.RECOMMENDATIONS_ISSUED, CaseStatus.FOLLOW_UP_DUE}:
            assert case.recommendations
        if case.status is CaseStatus.FOLLOW_UP_DUE:
            assert case.follow_up_due_on is not None


def test_a_rejected_case_accepts_no_further_command() -> None:
    case = _new_case()
    case.reject(ACTOR, "Not a case for this programme.")
    for command in [("review",), ("approve",), ("schedule", SESSIONS[0], 1), ("present",)]:
        try:
            _apply(case, command)
        except IllegalTransition:
            continue
        raise AssertionError(f"{command} was accepted on a rejected case")
    assert case.status is CaseStatus.REJECTED
