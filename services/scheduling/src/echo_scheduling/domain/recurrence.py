"""Recurrence rules of a programme, evaluated in its IANA time zone: plain Python, no framework.

Dates are generated on the local calendar (RFC 5545 semantics: COUNT is applied before the
excluded dates are removed), then each date is combined with the programme's local wall-clock
start in its zone, so a session keeps its local time across daylight-saving changes. A local time
that does not exist on a spring-forward day (e.g. 02:30) falls `fold=0`, i.e. one gap later
(03:30 local); an ambiguous one on a fall-back day takes its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta
from dateutil.rrule import MONTHLY, WEEKLY, rrule, weekday

from echo_scheduling.domain.errors import InvalidRecurrence, UnknownTimeZone

#: Programmes are planned at most this far ahead.
HORIZON = relativedelta(years=3)
MAX_SESSIONS = 160
#: Weeks of the month a monthly rule may name: the 1st-4th, or -1 for the last.
WEEKS_OF_MONTH = (1, 2, 3, 4, -1)


class Frequency(StrEnum):
    WEEKLY = "weekly"
    MONTHLY_BY_WEEKDAY = "monthly_by_weekday"
    ONE_OFF = "one_off"


def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or UnknownTimeZone."""
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZone(
            f"unknown time zone {name!r}; use an IANA name such as 'America/Toronto'"
        ) from None


def horizon_end(today: date) -> date:
    """The last date a session may be on when planning on `today`."""
    end: date = today + HORIZON
    return end


def week_of_month_of(day: date) -> int:
    """The week of the month `day` falls in (1-4), or -1 when it is in the 5th week (the last)."""
    n = (day.day - 1) // 7 + 1
    return -1 if n == 5 else n


def local_start_at(day: date, local_start: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of `local_start` on `day` in `tz` (fold=0 for gaps and overlaps)."""
    return datetime.combine(day, local_start, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Recurrence:
    """When a programme meets: weekly / every N weeks, monthly by week of month, or once."""

    frequency: Frequency
    starts_on: date
    local_start: time
    timezone: str
    interval_weeks: int = 1
    #: Monthly rules only: 1-4 or -1 (last); defaults to the week `starts_on` is in.
    week_of_month: int | None = None
    count: int | None = None
    until: date | None = None
    excluded: frozenset[date] = field(default_factory=frozenset)

    @property
    def weekday(self) -> int:
        """Monday 0 ... Sunday 6: the weekday of `starts_on`."""
        return self.starts_on.weekday()

    def effective_week_of_month(self) -> int:
        return self.week_of_month or week_of_month_of(self.starts_on)

    def validate(self, today: date, *, running: bool = False) -> None:
        """Refuse a rule that is malformed, starts in the past, or ends beyond the horizon.

        `running`: the programme has begun already (an edited rule), so a past start is fine.
        """
        zone(self.timezone)
        if self.interval_weeks < 1 or self.interval_weeks > 8:
            raise InvalidRecurrence("repeat every 1 to 8 weeks", field="interval_weeks")
        if self.week_of_month is not None and self.week_of_month not in WEEKS_OF_MONTH:
            raise InvalidRecurrence(
                "week_of_month is 1, 2, 3, 4 or -1 (the last)", field="week_of_month"
            )
        if self.count is not None and not 1 <= self.count <= MAX_SESSIONS:
            raise InvalidRecurrence(
                f"a programme has 1 to {MAX_SESSIONS} sessions", field="session_count"
            )
        if self.starts_on < today and not running:
            raise InvalidRecurrence(
                f"starts_on {self.starts_on} is in the past; pick today or later",
                field="starts_on",
            )
        limit = horizon_end(today)
        if self.until is not None and self.until > limit:
            raise InvalidRecurrence(
                f"ends_on {self.until} is more than three years ahead (latest {limit})",
                field="ends_on",
            )
        if self.until is not None and self.until < self.starts_on:
            raise InvalidRecurrence("ends_on is before starts_on", field="ends_on")

    def dates(self, today: date, *, running: bool = False) -> list[date]:
        """The local dates of the sessions; InvalidRecurrence when none or when too far ahead."""
        self.validate(today, running=running)
        limit = horizon_end(today)
        candidates = self._candidates(limit)
        if self.count is not None and len(candidates) > self.count:
            candidates = candidates[: self.count]
        elif self.count is not None and self.until is None and len(candidates) < self.count:
            raise InvalidRecurrence(
                f"{self.count} sessions would run past {limit}, more than three years ahead",
                field="session_count",
            )
        if not candidates:
            raise InvalidRecurrence(
                "the rule yields no session between starts_on and ends_on", field="ends_on"
            )
        kept = [d for d in candidates if d not in self.excluded]
        if not kept:
            raise InvalidRecurrence(
                "every session of the rule is on an excluded date", field="excluded_dates"
            )
        return kept

    def _candidates(self, limit: date) -> list[date]:
        until = min(self.until or limit, limit)
        if self.frequency is Frequency.ONE_OFF:
            return [self.starts_on] if self.starts_on <= until else []
        start = datetime.combine(self.starts_on, time())
        end = datetime.combine(until, time())
        # Never more than one past COUNT: enough to tell "too far ahead" from "fits".
        cap = (self.count + 1) if self.count is not None else MAX_SESSIONS + 1
        if self.frequency is Frequency.WEEKLY:
            rule = rrule(WEEKLY, interval=self.interval_weeks, dtstart=start, until=end, count=None)
        else:
            wd = weekday(self.weekday, self.effective_week_of_month())
            rule = rrule(MONTHLY, byweekday=wd, dtstart=start, until=end)
        out: list[date] = []
        for occurrence in rule:
            out.append(occurrence.date())
            if len(out) >= cap:
                break
        if self.count is None and len(out) > MAX_SESSIONS:
            raise InvalidRecurrence(
                f"the rule yields more than {MAX_SESSIONS} sessions; set an earlier ends_on",
                field="ends_on",
            )
        return out

    def starts(self, today: date) -> list[datetime]:
        """The UTC start of every session, at the local wall-clock time in the programme's zone."""
        tz = zone(self.timezone)
        return [local_start_at(d, self.local_start, tz) for d in self.dates(today)]


def first_on_or_after(day: date, weekday_: int, week_of_month: int | None = None) -> date:
    """The first date on or after `day` with `weekday_` (and in `week_of_month` when given)."""
    candidate = day + timedelta(days=(weekday_ - day.weekday()) % 7)
    if week_of_month is None:
        return candidate
    for _ in range(60):
        if _in_week_of_month(candidate, week_of_month):
            return candidate
        candidate += timedelta(weeks=1)
    raise InvalidRecurrence("no such week of the month", field="week_of_month")


def _in_week_of_month(day: date, week_of_month: int) -> bool:
    if week_of_month == -1:
        return (day + timedelta(weeks=1)).month != day.month
    return (day.day - 1) // 7 + 1 == week_of_month
