"""The events a change publishes, built from the domain objects (one place for their shape)."""

from __future__ import annotations

from echo_contracts import (
    AgendaUpdated,
    ProgrammeCreated,
    ProgrammeProfileUpdated,
    SessionScheduled,
)
from echo_contracts.events import CaseSlot, CurriculumTopic, HubRole, HubTeamMember

from echo_scheduling.domain.model import Programme, Session
from echo_scheduling.domain.recurrence import zone


def programme_created(programme: Programme) -> ProgrammeCreated:
    tz = zone(programme.timezone)
    last = max((s.starts_at.astimezone(tz) for s in programme.sessions), default=None)
    return ProgrammeCreated(
        programme_id=programme.id,
        region=programme.region,
        language=programme.language,
        timezone=programme.timezone,
        session_minutes=programme.session_minutes,
        starts_on=programme.starts_on,
        ends_on=programme.ends_on or (last.date() if last else None),
        template_id=programme.template_id,
        template_version=programme.template_version,
    )


def profile_updated(programme: Programme) -> ProgrammeProfileUpdated:
    return ProgrammeProfileUpdated(
        programme_id=programme.id,
        title=programme.title,
        hub_team=[
            HubTeamMember(person_id=m.person_id, name=m.name, email=m.email, role=HubRole(m.role))
            for m in programme.hub_team
        ],
        curriculum=[
            CurriculumTopic(position=t.position, title=t.title, presenter_name=t.presenter_name)
            for t in programme.curriculum
        ],
    )


def session_scheduled(programme: Programme, s: Session) -> SessionScheduled:
    return SessionScheduled(
        session_id=s.id,
        programme_id=programme.id,
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        timezone=programme.timezone,
        sequence=s.sequence,
    )


def agenda_updated(s: Session) -> AgendaUpdated:
    return AgendaUpdated(
        session_id=s.id,
        programme_id=s.programme_id,
        didactic_topic=s.didactic_topic,
        presenter_name=s.presenter_name,
        case_slots=[CaseSlot(position=p, case_id=c) for p, c in sorted(s.case_slots.items())],
        warnings=s.warnings,
    )
