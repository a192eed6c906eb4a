"""Errors of the scheduling domain; the edge maps each class to a problem-details status."""

from __future__ import annotations


class SchedulingError(Exception):
    """Base of the scheduling domain's errors; `field` names the input at fault (422s)."""

    field: str = "body"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field


class UnknownTimeZone(SchedulingError):
    field = "timezone"


class InvalidRecurrence(SchedulingError):
    field = "recurrence"


class SessionInPast(SchedulingError):
    field = "starts_at"


class InvalidAgenda(SchedulingError):
    field = "case_slots"


class ProgrammeNotFound(SchedulingError):
    pass


class SessionNotFound(SchedulingError):
    pass


class TemplateNotFound(SchedulingError):
    pass


class SessionCancelledAlready(SchedulingError):
    """A cancelled session cannot be moved or given an agenda."""


class ConcurrentChange(SchedulingError):
    """Someone else changed the session in the meantime; retry with the new state."""


class CaseAlreadyScheduled(SchedulingError):
    field = "case_slots"
