"""Use cases on participants and registrations: one function per command."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from echo_contracts import ParticipantRegistered, RegistrationConfirmed
from echo_contracts.events import Profession
from echo_runtime.service import ServiceRuntime
from sqlalchemy.exc import IntegrityError

from echo_attendance.adapters.repository import Row, SqlaAttendanceRepository
from echo_attendance.domain.model import (
    AlreadyRegistered,
    DuplicateParticipant,
    ParticipantNotFound,
    ProgrammeNotFound,
    RegionMismatch,
)


@dataclass(frozen=True)
class RegisterParticipant:
    region: str
    name: str
    email: str
    profession: Profession
    clinic: str
    clinic_id: uuid.UUID
    language: str
    timezone: str | None
    created_by: str
    participant_id: uuid.UUID | None = None


async def register_participant(runtime: ServiceRuntime, cmd: RegisterParticipant) -> Row:
    """Create a participant's profile; its personal data is published only in its region."""
    email = cmd.email.strip().lower()
    values: dict[str, Any] = {
        "id": cmd.participant_id or uuid.uuid4(),
        "region": cmd.region,
        "name": cmd.name,
        "email": email,
        "profession": cmd.profession.value,
        "clinic": cmd.clinic,
        "clinic_id": cmd.clinic_id,
        "language": cmd.language,
        "timezone": cmd.timezone,
        "created_by": cmd.created_by,
        "created_at": datetime.now(UTC),
    }
    try:
        await _add_participant(runtime, cmd, values)
    except IntegrityError:
        # Two requests raced for the same email or id: the loser learns it like any duplicate.
        raise DuplicateParticipant(
            "a participant with this email or id already exists in this region"
        ) from None
    return values


async def _add_participant(
    runtime: ServiceRuntime, cmd: RegisterParticipant, values: dict[str, Any]
) -> None:
    email = values["email"]
    async with runtime.db.transaction() as session:
        repo = SqlaAttendanceRepository(session)
        if await repo.participant_by_email(cmd.region, email) is not None:
            raise DuplicateParticipant(
                "a participant with this email already exists in this region;"
                " register that participant to programmes instead"
            )
        if await repo.participant(values["id"]) is not None:
            raise DuplicateParticipant("a participant with this id already exists")
        await repo.add_participant(values)
        await runtime.emit(
            session,
            cmd.region,
            ParticipantRegistered(
                participant_id=values["id"],
                name=cmd.name,
                email=email,
                profession=cmd.profession,
                clinic=cmd.clinic,
                clinic_id=cmd.clinic_id,
                language=cmd.language,
                timezone=cmd.timezone,
            ),
        )


@dataclass(frozen=True)
class RegisterToProgramme:
    participant_id: uuid.UUID
    programme_id: uuid.UUID


async def register_to_programme(runtime: ServiceRuntime, cmd: RegisterToProgramme) -> Row:
    """Register a participant to a programme; the join token identifies them in any video tool."""
    async with runtime.db.transaction() as session:
        repo = SqlaAttendanceRepository(session)
        programme = await repo.programme(cmd.programme_id)
        if programme is None:
            raise ProgrammeNotFound(f"no programme {cmd.programme_id} known here")
        person = await repo.participant(cmd.participant_id)
        if person is None:
            raise ParticipantNotFound(f"no participant {cmd.participant_id}")
        if person["region"] != programme["region"]:
            raise RegionMismatch(
                f"the participant is in region {person['region']!r} and the programme in"
                f" {programme['region']!r}; personal data stays in its region"
            )
        if await repo.registration(cmd.participant_id, cmd.programme_id) is not None:
            raise AlreadyRegistered("this participant is already registered to the programme")
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "participant_id": cmd.participant_id,
            "programme_id": cmd.programme_id,
            "email": person["email"],
            "join_token": secrets.token_urlsafe(16),
            "created_at": datetime.now(UTC),
        }
        try:
            async with session.begin_nested():
                await repo.add_registration(values)
        except IntegrityError:
            raise AlreadyRegistered(
                "this participant is already registered to the programme"
            ) from None
        await runtime.emit(
            session,
            programme["region"],
            RegistrationConfirmed(
                registration_id=values["id"],
                participant_id=cmd.participant_id,
                programme_id=cmd.programme_id,
                clinic_id=person["clinic_id"],
                profession=Profession(person["profession"]),
            ),
        )
    return values
