"""A preview of a programme's recurring dates in its own time zone, DST changes marked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class InvalidPreview(ValueError):
    """The wizard's answers cannot make a schedule; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class PreviewDate:
    local: datetime
    utc_offset: str
    #: The offset differs from the first session's: a daylight-saving change lies between.
    dst_changed: bool


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidPreview("timezone", f"{name!r} is not an IANA time zone") from None


def _offset(moment: datetime) -> str:
    delta = moment.utcoffset() or timedelta(0)
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def preview_weekly(
    *,
    timezone: str,
    starts_on: date,
    local_start: time,
    interval_weeks: int,
    session_count: int,
    excluded: frozenset[date] = frozenset(),
    limit: int = 24,
) -> list[PreviewDate]:
    """The first `limit` sessions of a weekly rule as the scheduling service will plan them."""
    if not 1 <= interval_weeks <= 8:
        raise InvalidPreview("interval_weeks", "choose every 1 to 8 weeks")
    if not 1 <= session_count <= 160:
        raise InvalidPreview("session_count", "choose 1 to 160 sessions")
    tz = zone_of(timezone)
    dates: list[PreviewDate] = []
    first_offset: str | None = None
    day = starts_on
    while len(dates) < min(session_count, limit):
        if day not in excluded:
            moment = datetime.combine(day, local_start, tz)
            offset = _offset(moment)
            first_offset = first_offset or offset
            dates.append(PreviewDate(moment, offset, offset != first_offset))
        day += timedelta(weeks=interval_weeks)
    return dates
