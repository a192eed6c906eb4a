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


class MaterialNotFound(SchedulingError):
    pass


class InvalidMaterial(SchedulingError):
    """A library item with a bad field (unknown session, bad url, wrong encoding)."""


class UnsupportedFileType(SchedulingError):
    """The declared type or the file's bytes are not among those the kind accepts."""

    field = "file"


class FileTooLarge(SchedulingError):
    """An upload passed the size limit of its kind; nothing was kept."""

    field = "file"

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit

    def problem_extra(self) -> dict[str, object]:
        return {"limit": self.limit, "errors": [{"field": "file", "message": str(self)}]}


class StorageUnavailable(SchedulingError):
    """The file store failed; nothing was recorded, the upload may be retried."""

    field = "file"


class LibraryAccessDenied(SchedulingError):
    """The caller is neither on the programme's hub team nor a registered participant."""
