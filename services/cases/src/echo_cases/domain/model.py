"""Cases and their review workflow: plain Python, no framework.

submitted -> in_review -> approved | rejected; approved -> scheduled (a session's case slot)
-> presented -> recommendations_issued -> follow_up_due -> scheduled again (the follow-up).
A scheduled case whose session is cancelled or whose slot is cleared goes back to approved.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from echo_contracts import (
    CaseApproved,
    CasePresented,
    CaseRejected,
    CaseReviewStarted,
    CaseScheduled,
    Event,
    FollowUpRequested,
    RecommendationsIssued,
    RecommendationsRecorded,
)


class CaseStatus(StrEnum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    SCHEDULED = "scheduled"
    PRESENTED = "presented"
    RECOMMENDATIONS_ISSUED = "recommendations_issued"
    FOLLOW_UP_DUE = "follow_up_due"


#: Every command of the workflow: the state it leads to and the states it is allowed from.
#: Anything else is an IllegalTransition (answered with 409 and the current state).
ACTIONS: dict[str, tuple[CaseStatus, frozenset[CaseStatus]]] = {
    "reviewed": (CaseStatus.IN_REVIEW, frozenset({CaseStatus.SUBMITTED})),
    "approved": (CaseStatus.APPROVED, frozenset({CaseStatus.IN_REVIEW})),
    "rejected": (CaseStatus.REJECTED, frozenset({CaseStatus.IN_REVIEW})),
    "scheduled": (
        CaseStatus.SCHEDULED,
        frozenset({CaseStatus.APPROVED, CaseStatus.SCHEDULED, CaseStatus.FOLLOW_UP_DUE}),
    ),
    "unscheduled": (CaseStatus.APPROVED, frozenset({CaseStatus.SCHEDULED})),
    "presented": (CaseStatus.PRESENTED, frozenset({CaseStatus.SCHEDULED})),
    "given recommendations": (CaseStatus.RECOMMENDATIONS_ISSUED, frozenset({CaseStatus.PRESENTED})),
    "given a follow-up": (CaseStatus.FOLLOW_UP_DUE, frozenset({CaseStatus.RECOMMENDATIONS_ISSUED})),
}

#: The workflow as a graph: which states each state can move to.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    state: frozenset(target for target, sources in ACTIONS.values() if state in sources)
    for state in CaseStatus
}

#: States in which a case has been (or is being) presented to the whole programme.
AFTER_SESSION = frozenset(
    {CaseStatus.PRESENTED, CaseStatus.RECOMMENDATIONS_ISSUED, CaseStatus.FOLLOW_UP_DUE}
)

MAX_FOLLOW_UP_WEEKS = 52


class CaseError(Exception):
    """Base of the cases domain's errors."""

    field: str = "body"


class CaseNotFound(CaseError):
    pass


class IllegalTransition(CaseError):
    """A workflow move that the case's current state does not allow (answered with 409)."""

    field = "status"

    def __init__(self, case_id: uuid.UUID, current: CaseStatus, action: str) -> None:
        allowed = sorted(s.value for s in ACTIONS[action][1])
        super().__init__(
            f"case {case_id} is {current.value}; it cannot be {action} "
            f"(only a case that is {' or '.join(allowed)} can)"
        )
        self.current = current

    def problem_extra(self) -> dict[str, Any]:
        return {"current_state": self.current.value}


class ConcurrentChange(CaseError):
    """Someone else changed the case between our read and our write."""

    field = "status"


class CaseStoreUnavailable(CaseError):
    """The database refused a write; the message names no case text (answered with 503)."""


class InvalidCaseForm(CaseError):
    """The submitted form does not fit its template."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__(
            "the case form does not fit its template: "
            + "; ".join(f"{f}: {m}" for f, m in problems[:10])
        )
        self.field = problems[0][0] if problems else "fields"

    def problem_extra(self) -> dict[str, Any]:
        return {"errors": [{"field": f, "message": m} for f, m in self.problems]}


class UnknownProgramme(CaseError):
    field = "programme_id"


class SessionNotStarted(CaseError):
    field = "status"


@dataclass
class Case:
    """One de-identified case presentation and where it is in the workflow."""

    id: uuid.UUID
    programme_id: uuid.UUID
    region: str
    presenter_id: uuid.UUID
    template_id: str
    template_version: int
    fields: dict[str, str]
    status: CaseStatus = CaseStatus.SUBMITTED
    session_id: uuid.UUID | None = None
    slot: int | None = None
    rejection_reason: str | None = None
    recommendations: str | None = None
    follow_up_due_on: date | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    version: int = 1

    def _move(self, action: str) -> None:
        target, sources = ACTIONS[action]
        if self.status not in sources:
            raise IllegalTransition(self.id, self.status, action)
        self.status = target

    def start_review(self, reviewer_id: uuid.UUID) -> list[Event]:
        """Open the case for review by a hub member."""
        self._move("reviewed")
        return [
            CaseReviewStarted(
                case_id=self.id, programme_id=self.programme_id, reviewer_id=reviewer_id
            )
        ]

    def approve(self, approver_id: uuid.UUID) -> list[Event]:
        """Approve for presentation; a submitted case is opened for review on the way."""
        events = self.start_review(approver_id) if self.status is CaseStatus.SUBMITTED else []
        self._move("approved")
        return [
            *events,
            CaseApproved(
                case_id=self.id,
                programme_id=self.programme_id,
                presenter_id=self.presenter_id,
                approved_by=approver_id,
            ),
        ]

    def reject(self, reviewer_id: uuid.UUID, reason: str) -> list[Event]:
        """Reject with a reason the presenter is told."""
        events = self.start_review(reviewer_id) if self.status is CaseStatus.SUBMITTED else []
        self._move("rejected")
        self.rejection_reason = reason
        return [
            *events,
            CaseRejected(
                case_id=self.id,
                programme_id=self.programme_id,
                presenter_id=self.presenter_id,
                rejected_by=reviewer_id,
                reason=reason,
            ),
        ]

    def schedule(self, session_id: uuid.UUID, slot: int) -> list[Event]:
        """Place the case in a session's case slot (no event when nothing changes)."""
        if (
            self.status is CaseStatus.SCHEDULED
            and self.session_id == session_id
            and self.slot == slot
        ):
            return []
        self._move("scheduled")
        self.session_id, self.slot = session_id, slot
        return [
            CaseScheduled(
                case_id=self.id, programme_id=self.programme_id, session_id=session_id, slot=slot
            )
        ]

    def unschedule(self) -> None:
        """Take the case out of its slot (session cancelled or slot cleared)."""
        self._move("unscheduled")
        self.session_id, self.slot = None, None

    def present(self) -> list[Event]:
        """Record that the case was presented in its session."""
        self._move("presented")
        assert self.session_id is not None  # a scheduled case always has a session
        return [
            CasePresented(
                case_id=self.id, programme_id=self.programme_id, session_id=self.session_id
            )
        ]

    def issue_recommendations(
        self,
        text: str,
        issuer_id: uuid.UUID,
        *,
        follow_up_weeks: int | None = None,
        today: date | None = None,
    ) -> list[Event]:
        """Record the hub's written recommendations, optionally asking for a follow-up."""
        self._move("given recommendations")
        self.recommendations = text
        due = None
        if follow_up_weeks is not None:
            due = (today or datetime.now(UTC).date()) + timedelta(weeks=follow_up_weeks)
        events: list[Event] = [
            RecommendationsIssued(
                case_id=self.id,
                programme_id=self.programme_id,
                presenter_id=self.presenter_id,
                issued_by=issuer_id,
                follow_up_due_on=due,
            ),
            # The text itself travels only in a regional event, for the presenter.
            RecommendationsRecorded(
                case_id=self.id,
                programme_id=self.programme_id,
                presenter_id=self.presenter_id,
                issued_by=issuer_id,
                text=text,
                follow_up_due_on=due,
            ),
        ]
        if due is not None:
            events += self.request_follow_up(due)
        return events

    def request_follow_up(self, due_on: date) -> list[Event]:
        """Ask the presenter to bring the case back on `due_on`."""
        self._move("given a follow-up")
        self.follow_up_due_on = due_on
        return [FollowUpRequested(case_id=self.id, programme_id=self.programme_id, due_on=due_on)]
