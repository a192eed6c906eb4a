"""Use cases on programmes: one function per command."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from echo_contracts import SessionCancelled, SessionRescheduled
from echo_runtime.service import ServiceRuntime

from echo_scheduling.adapters.repository import (
    SqlaProgrammeRepository,
    SqlaSessionRepository,
    SqlaTemplateRepository,
)
from echo_scheduling.domain.errors import ProgrammeNotFound, TemplateNotFound
from echo_scheduling.domain.model import Programme, Session, TeamMember, Topic
from echo_scheduling.domain.recurrence import (
    Frequency,
    first_on_or_after,
    local_start_at,
    zone,
)
from echo_scheduling.service_layer import events

DEFAULT_SESSION_COUNT = 12


@dataclass(frozen=True)
class CreateProgramme:
    region: str
    title: str
    language: str
    timezone: str
    session_minutes: int
    starts_on: date
    local_start: time
    created_by: str
    session_count: int | None = None
    interval_weeks: int = 1
    frequency: Frequency = Frequency.WEEKLY
    week_of_month: int | None = None
    ends_on: date | None = None
    excluded_dates: tuple[date, ...] = ()
    case_slots: int = 2
    hub_team: tuple[TeamMember, ...] = ()
    curriculum: tuple[Topic, ...] = ()
    template_id: uuid.UUID | None = None
    template_version: int | None = None


def _today() -> date:
    return datetime.now(UTC).date()


def _plan(cmd: CreateProgramme, today: date) -> Programme:
    zone(cmd.timezone)
    programme = Programme(
        id=uuid.uuid4(),
        region=cmd.region,
        title=cmd.title,
        language=cmd.language,
        timezone=cmd.timezone,
        session_minutes=cmd.session_minutes,
        starts_on=cmd.starts_on,
        local_start=cmd.local_start,
        interval_weeks=cmd.interval_weeks,
        frequency=cmd.frequency,
        week_of_month=cmd.week_of_month,
        ends_on=cmd.ends_on,
        excluded_dates=sorted(set(cmd.excluded_dates)),
        case_slots=cmd.case_slots,
        hub_team=list(cmd.hub_team),
        curriculum=list(cmd.curriculum),
        template_id=cmd.template_id,
        template_version=cmd.template_version,
    )
    count = cmd.session_count
    if count is None and cmd.ends_on is None:
        count = DEFAULT_SESSION_COUNT
    programme.generate_sessions(today, count)
    return programme


async def create_programme(
    runtime: ServiceRuntime, cmd: CreateProgramme, today: date | None = None
) -> Programme:
    """Create a programme, generate its sessions, and emit their events in one transaction."""
    programme = _plan(cmd, today or _today())
    async with runtime.db.transaction() as session:
        await SqlaProgrammeRepository(session).add(programme, cmd.created_by)
        await runtime.emit(
            session,
            programme.region,
            events.programme_created(programme),
            events.profile_updated(programme),
            *[events.session_scheduled(programme, s) for s in programme.sessions],
            *[events.agenda_updated(s) for s in programme.sessions if s.didactic_topic],
        )
    return programme


@dataclass(frozen=True)
class AddSession:
    programme_id: uuid.UUID
    on: date
    local_start: time | None = None
    minutes: int | None = None
    didactic_topic: str | None = None
    presenter_name: str | None = None


async def add_one_off_session(
    runtime: ServiceRuntime,
    cmd: AddSession,
    authorize: Callable[[Programme], None],
    now: datetime | None = None,
) -> Session:
    """Add a session outside the rule, in the programme's zone; waiting cases fill its slots."""
    async with runtime.db.transaction() as session:
        programme = await SqlaProgrammeRepository(session).get(cmd.programme_id)
        if programme is None:
            raise ProgrammeNotFound(f"no programme {cmd.programme_id}")
        authorize(programme)
        starts_at = local_start_at(
            cmd.on, cmd.local_start or programme.local_start, zone(programme.timezone)
        )
        new = programme.one_off_session(
            starts_at,
            cmd.minutes,
            now or datetime.now(UTC),
            cmd.didactic_topic,
            cmd.presenter_name,
        )
        repo = SqlaSessionRepository(session)
        waiting = await repo.waiting(programme.id)
        placed = []
        for case_id in waiting:
            position = new.free_slot(programme.case_slots)
            if position is None:
                break
            new.case_slots[position] = case_id
            placed.append(case_id)
        await repo.add([new])
        await repo.save_slots(new)
        await repo.remove_waiting(placed)
        await SqlaProgrammeRepository(session).add_session_count(programme.id, 1)
        await runtime.emit(
            session,
            programme.region,
            events.session_scheduled(programme, new),
            events.agenda_updated(new),
        )
    return new


@dataclass(frozen=True)
class ReplicateTemplate:
    template_id: uuid.UUID
    region: str
    timezone: str
    starts_on: date
    created_by: str
    version: int | None = None
    title: str | None = None
    language: str | None = None
    local_start: time | None = None
    excluded_dates: tuple[date, ...] = ()
    hub_team: tuple[TeamMember, ...] = ()


async def replicate_template(
    runtime: ServiceRuntime, cmd: ReplicateTemplate, today: date | None = None
) -> Programme:
    """Instantiate a template version in a region and zone; the programme keeps a copy of it."""
    async with runtime.db.session() as session:
        template = await SqlaTemplateRepository(session).get(cmd.template_id, cmd.version)
    if template is None:
        which = f"version {cmd.version} of " if cmd.version else ""
        raise TemplateNotFound(f"no {which}template {cmd.template_id} has reached this region")
    week = template.week_of_month if template.frequency is Frequency.MONTHLY_BY_WEEKDAY else None
    first = first_on_or_after(cmd.starts_on, template.weekday, week)
    one_off = template.frequency is Frequency.ONE_OFF
    return await create_programme(
        runtime,
        CreateProgramme(
            region=cmd.region,
            title=cmd.title or template.title,
            language=cmd.language or template.language,
            timezone=cmd.timezone,
            session_minutes=template.session_minutes,
            starts_on=first,
            local_start=cmd.local_start or template.local_start,
            created_by=cmd.created_by,
            session_count=1 if one_off else template.session_count,
            interval_weeks=template.interval_weeks,
            frequency=template.frequency,
            week_of_month=week,
            excluded_dates=cmd.excluded_dates,
            hub_team=cmd.hub_team,
            curriculum=tuple(
                Topic(position=n, title=title) for n, title in enumerate(template.curriculum, 1)
            ),
            template_id=template.id,
            template_version=template.version,
        ),
        today,
    )


@dataclass(frozen=True)
class EditProgramme:
    """Changes to a programme; None leaves a field as it is."""

    programme_id: uuid.UUID
    title: str | None = None
    hub_team: tuple[TeamMember, ...] | None = None
    curriculum: tuple[Topic, ...] | None = None
    local_start: time | None = None
    session_minutes: int | None = None
    interval_weeks: int | None = None
    week_of_month: int | None = None
    session_count: int | None = None
    ends_on: date | None = None
    #: Added to the dates already excluded (an excluded date stays excluded).
    exclude: tuple[date, ...] = ()


async def edit_programme(
    runtime: ServiceRuntime,
    cmd: EditProgramme,
    authorize: Callable[[Programme], None],
    now: datetime | None = None,
) -> Programme:
    """Edit a programme's profile and rule; re-plan its future sessions and emit each change."""
    at = now or datetime.now(UTC)
    async with runtime.db.transaction() as session:
        repo = SqlaProgrammeRepository(session)
        programme = await repo.get(cmd.programme_id)
        if programme is None:
            raise ProgrammeNotFound(f"no programme {cmd.programme_id}")
        authorize(programme)
        profile = cmd.title is not None or cmd.hub_team is not None or cmd.curriculum is not None
        if cmd.title is not None:
            programme.title = cmd.title
        if cmd.hub_team is not None:
            programme.hub_team = list(cmd.hub_team)
        if cmd.curriculum is not None:
            programme.curriculum = list(cmd.curriculum)
        rule = (
            cmd.local_start,
            cmd.session_minutes,
            cmd.interval_weeks,
            cmd.week_of_month,
            cmd.session_count,
            cmd.ends_on,
        )
        replanned: list[Any] = []
        if any(v is not None for v in rule) or cmd.exclude:
            programme.local_start = cmd.local_start or programme.local_start
            programme.session_minutes = cmd.session_minutes or programme.session_minutes
            programme.interval_weeks = cmd.interval_weeks or programme.interval_weeks
            programme.week_of_month = cmd.week_of_month or programme.week_of_month
            if cmd.session_count is not None:
                programme.rule_count = cmd.session_count
            if cmd.ends_on is not None:
                programme.ends_on = cmd.ends_on
            programme.excluded_dates = sorted({*programme.excluded_dates, *cmd.exclude})
            sessions_repo = SqlaSessionRepository(session)
            existing = await sessions_repo.all_of(programme.id)
            before = {s.id: s.sequence for s in existing}
            change = programme.replan(existing, at)
            for s in change.cancelled:
                await sessions_repo.save(s, before[s.id])
            for s, _ in change.moved:
                await sessions_repo.save(s, before[s.id])
            await sessions_repo.add(change.added)
            programme.session_count = sum(
                1 for s in existing if s.status.value == "scheduled"
            ) + len(change.added)
            replanned = [
                *[
                    SessionCancelled(
                        session_id=s.id,
                        programme_id=programme.id,
                        starts_at=s.starts_at,
                        sequence=s.sequence,
                    )
                    for s in change.cancelled
                ],
                *[
                    SessionRescheduled(
                        session_id=s.id,
                        programme_id=programme.id,
                        previous_starts_at=previous,
                        starts_at=s.starts_at,
                        ends_at=s.ends_at,
                        timezone=programme.timezone,
                        sequence=s.sequence,
                    )
                    for s, previous in change.moved
                ],
                *[events.session_scheduled(programme, s) for s in change.added],
            ]
        await repo.update(programme)
        emitted = [events.profile_updated(programme)] if profile else []
        if emitted or replanned:
            await runtime.emit(session, programme.region, *emitted, *replanned)
    return programme
