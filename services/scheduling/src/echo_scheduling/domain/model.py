"""Programmes and their sessions: plain Python, no framework."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_HORIZON_DAYS = 3 * 366


class SchedulingError(Exception):
    """Base of the scheduling domain's errors."""

    field: str = "body"


class UnknownTimeZone(SchedulingError):
    field = "timezone"


class InvalidRecurrence(SchedulingError):
    field = "recurrence"


class ProgrammeNotFound(SchedulingError):
    pass


def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or UnknownTimeZone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZone(
            f"unknown time zone {name!r}; use an IANA name such as 'America/Toronto'"
        ) from None


@dataclass
class Session:
    id: uuid.UUID
    programme_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: str = "scheduled"
    sequence: int = 0


@dataclass
class Programme:
    id: uuid.UUID
    region: str
    title: str
    language: str
    timezone: str
    session_minutes: int
    starts_on: date
    local_start: time
    session_count: int
    interval_weeks: int = 1
    sessions: list[Session] = field(default_factory=list)

    def generate_sessions(self) -> list[Session]:
        """Weekly sessions at the programme's local wall-clock time, kept across DST."""
        tz = zone(self.timezone)
        if self.session_count < 1:
            raise InvalidRecurrence("a programme needs at least one session")
        last = self.starts_on + timedelta(weeks=self.interval_weeks * (self.session_count - 1))
        if (last - date.today()).days > MAX_HORIZON_DAYS:
            raise InvalidRecurrence("the last session would be more than three years ahead")
        sessions = []
        for n in range(self.session_count):
            day = self.starts_on + timedelta(weeks=self.interval_weeks * n)
            start = datetime.combine(day, self.local_start, tzinfo=tz).astimezone(UTC)
            sessions.append(
                Session(
                    id=uuid.uuid5(self.id, f"session-{n}"),
                    programme_id=self.id,
                    starts_at=start,
                    ends_at=start + timedelta(minutes=self.session_minutes),
                )
            )
        self.sessions = sessions
        return sessions
