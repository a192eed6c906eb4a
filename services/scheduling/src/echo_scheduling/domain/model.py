"""Programmes, sessions and agendas: plain Python, no framework."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from echo_scheduling.domain.errors import (
    CaseAlreadyScheduled,
    InvalidAgenda,
    SessionCancelledAlready,
    SessionInPast,
)
from echo_scheduling.domain.recurrence import (
    Frequency,
    Recurrence,
    horizon_end,
    local_start_at,
    zone,
)

#: Warning codes of an agenda (flags in the API, never errors).
PRESENTER_MISSING = "presenter_missing"
TOPIC_MISSING = "didactic_topic_missing"


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class SessionKind(StrEnum):
    RECURRING = "recurring"
    ONE_OFF = "one_off"


@dataclass(frozen=True)
class TeamMember:
    person_id: uuid.UUID
    name: str
    role: str
    email: str | None = None


@dataclass(frozen=True)
class Topic:
    """One entry of the curriculum, in order; the presenter may be agreed later."""

    position: int
    title: str
    presenter_name: str | None = None


@dataclass
class Session:
    id: uuid.UUID
    programme_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: SessionStatus = SessionStatus.SCHEDULED
    sequence: int = 0
    kind: SessionKind = SessionKind.RECURRING
    didactic_topic: str | None = None
    presenter_name: str | None = None
    cancel_reason: str | None = None
    #: Case slot position (1-based) -> approved case placed there.
    case_slots: dict[int, uuid.UUID] = field(default_factory=dict)

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    @property
    def warnings(self) -> list[str]:
        """What the agenda still lacks (flagged, not refused)."""
        out = []
        if not self.didactic_topic:
            out.append(TOPIC_MISSING)
        if not self.presenter_name:
            out.append(PRESENTER_MISSING)
        return out

    def _ensure_open(self) -> None:
        if self.status is SessionStatus.CANCELLED:
            raise SessionCancelledAlready(f"session {self.id} is cancelled")

    def reschedule(self, starts_at: datetime, minutes: int | None, now: datetime) -> datetime:
        """Move the session (keeping its length unless given); return the previous start."""
        self._ensure_open()
        if starts_at <= now:
            raise SessionInPast(
                f"starts_at {starts_at.isoformat()} is in the past; pick a future time"
            )
        if starts_at.date() > horizon_end(now.date()):
            raise SessionInPast("starts_at is more than three years ahead")
        previous = self.starts_at
        length = timedelta(minutes=minutes if minutes is not None else self.minutes)
        self.starts_at = starts_at
        self.ends_at = starts_at + length
        self.sequence += 1
        return previous

    def cancel(self, reason: str) -> bool:
        """Cancel the session; False when it already was (nothing changes then)."""
        if self.status is SessionStatus.CANCELLED:
            return False
        self.status = SessionStatus.CANCELLED
        self.cancel_reason = reason
        self.sequence += 1
        return True

    def set_agenda(
        self,
        didactic_topic: str | None,
        presenter_name: str | None,
        case_slots: dict[int, uuid.UUID] | None,
        slot_count: int,
    ) -> None:
        """Replace the agenda; `case_slots=None` keeps the cases already placed."""
        self._ensure_open()
        if case_slots is not None:
            bad = sorted(p for p in case_slots if not 1 <= p <= slot_count)
            if bad:
                raise InvalidAgenda(
                    f"case slot positions {bad} do not exist; this programme has"
                    f" {slot_count} slot(s) per session"
                )
            if len(set(case_slots.values())) != len(case_slots):
                raise CaseAlreadyScheduled("the same case is in two slots")
            self.case_slots = dict(case_slots)
        self.didactic_topic = didactic_topic
        self.presenter_name = presenter_name

    def free_slot(self, slot_count: int) -> int | None:
        """The first free case slot, or None when the session is full or cancelled."""
        if self.status is SessionStatus.CANCELLED:
            return None
        for position in range(1, slot_count + 1):
            if position not in self.case_slots:
                return position
        return None


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
    session_count: int = 12
    interval_weeks: int = 1
    frequency: Frequency = Frequency.WEEKLY
    week_of_month: int | None = None
    ends_on: date | None = None
    excluded_dates: list[date] = field(default_factory=list)
    case_slots: int = 2
    hub_team: list[TeamMember] = field(default_factory=list)
    curriculum: list[Topic] = field(default_factory=list)
    template_id: uuid.UUID | None = None
    template_version: int | None = None
    #: The rule's COUNT as asked (None when bounded by `ends_on` only).
    rule_count: int | None = None
    sessions: list[Session] = field(default_factory=list)

    def recurrence(self, count: int | None) -> Recurrence:
        return Recurrence(
            frequency=self.frequency,
            starts_on=self.starts_on,
            local_start=self.local_start,
            timezone=self.timezone,
            interval_weeks=self.interval_weeks,
            week_of_month=self.week_of_month,
            count=count,
            until=self.ends_on,
            excluded=frozenset(self.excluded_dates),
        )

    def generate_sessions(self, today: date, count: int | None = None) -> list[Session]:
        """Sessions from the rule at the local wall-clock time; agendas from the curriculum."""
        self.rule_count = count
        starts = self.recurrence(count).starts(today)
        topics = sorted(self.curriculum, key=lambda t: t.position)
        sessions = []
        for n, start in enumerate(starts):
            topic = topics[n] if n < len(topics) else None
            sessions.append(
                Session(
                    id=uuid.uuid5(self.id, f"session-{start.isoformat()}"),
                    programme_id=self.id,
                    starts_at=start,
                    ends_at=start + timedelta(minutes=self.session_minutes),
                    didactic_topic=topic.title if topic else None,
                    presenter_name=topic.presenter_name if topic else None,
                )
            )
        self.sessions = sessions
        self.session_count = len(sessions)
        if self.frequency is Frequency.MONTHLY_BY_WEEKDAY and self.week_of_month is None:
            self.week_of_month = self.recurrence(count).effective_week_of_month()
        return sessions

    def replan(self, existing: list[Session], now: datetime) -> Replan:
        """Re-plan the future sessions of the rule after an edit (past ones stay as they were).

        Excluded dates stay excluded; a future session off the new rule is cancelled, one on a
        kept date moves to the new local time, a new date gets a new session. One-off sessions
        and sessions already cancelled are left alone.
        """
        tz = zone(self.timezone)
        # Programmes created before the rule's COUNT was kept: what they yielded is the best bound.
        bounded = self.rule_count is not None or self.ends_on is not None
        rec = self.recurrence(self.rule_count if bounded else self.session_count)
        wanted = {
            d: start
            for d in rec.dates(now.date(), running=True)
            if (start := local_start_at(d, self.local_start, tz)) > now
        }
        future = {
            s.starts_at.astimezone(tz).date(): s
            for s in existing
            if s.kind is SessionKind.RECURRING and s.starts_at > now
        }
        change = Replan()
        for day, s in sorted(future.items()):
            if s.status is SessionStatus.CANCELLED:
                continue
            if day not in wanted:
                s.cancel("the programme's rule changed")
                change.cancelled.append(s)
            elif s.starts_at != wanted[day] or s.minutes != self.session_minutes:
                previous = s.reschedule(wanted[day], self.session_minutes, now)
                change.moved.append((s, previous))
        for day, start in sorted(wanted.items()):
            if day not in future:
                change.added.append(
                    Session(
                        id=uuid.uuid4(),
                        programme_id=self.id,
                        starts_at=start,
                        ends_at=start + timedelta(minutes=self.session_minutes),
                    )
                )
        return change

    def one_off_session(
        self,
        starts_at: datetime,
        minutes: int | None,
        now: datetime,
        didactic_topic: str | None = None,
        presenter_name: str | None = None,
    ) -> Session:
        """An extra session outside the rule (must be in the future, within the horizon)."""
        if starts_at <= now:
            raise SessionInPast(f"the session would start at {starts_at.isoformat()}, in the past")
        if starts_at.date() > horizon_end(now.date()):
            raise SessionInPast("the session would be more than three years ahead")
        return Session(
            id=uuid.uuid4(),
            programme_id=self.id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes or self.session_minutes),
            kind=SessionKind.ONE_OFF,
            didactic_topic=didactic_topic,
            presenter_name=presenter_name,
        )


@dataclass
class Replan:
    """What an edited rule did to the future sessions."""

    cancelled: list[Session] = field(default_factory=list)
    moved: list[tuple[Session, datetime]] = field(default_factory=list)
    added: list[Session] = field(default_factory=list)


@dataclass(frozen=True)
class Template:
    """A version of a superhub's programme template, as replicated into regions."""

    id: uuid.UUID
    version: int
    title: str
    language: str
    session_minutes: int
    frequency: Frequency
    interval_weeks: int
    weekday: int
    week_of_month: int | None
    local_start: time
    session_count: int
    curriculum: list[str]
    case_template_id: str | None = None
    credit_rule: str | None = None
