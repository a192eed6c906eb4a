"""Use cases on guests: the programme's guest policy and admission to a session."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from echo_runtime.logging import get_logger
from echo_runtime.service import ServiceRuntime

from echo_attendance.adapters.repository import Row, SqlaAttendanceRepository
from echo_attendance.domain.guests import (
    GuestIdentityMissing,
    GuestPolicy,
    GuestRefused,
    check_admission,
    guest_email_key,
)
from echo_attendance.domain.model import NotRegistered, ProgrammeNotFound, SessionNotFound

log = get_logger(__name__)


async def set_guest_policy(
    runtime: ServiceRuntime, programme_id: uuid.UUID, policy: GuestPolicy, actor: str
) -> GuestPolicy:
    """Replace a programme's guest limits; admissions already given stay."""
    async with runtime.db.transaction() as session:
        repo = SqlaAttendanceRepository(session)
        if not await repo.lock_programme(programme_id):
            raise ProgrammeNotFound(f"no programme {programme_id} known here")
        await repo.set_guest_policy(programme_id, policy, actor)
    return policy


async def admit_guest(
    repo: SqlaAttendanceRepository,
    session_row: Row,
    guest_id: uuid.UUID,
    attendee_key: str,
    policy: GuestPolicy | None = None,
) -> GuestRefused | None:
    """Admit a guest to a session under the programme's limits; the refusal when over them.

    An admission is kept, so a guest who rejoins (or whose video tool reconnects) keeps their
    place; the session row is locked so two guests cannot take the last place at once.
    `policy`: the programme's guest policy when the caller has read it already.
    """
    session_id = session_row["id"]
    programme_id = session_row["programme_id"]
    if policy is None:
        policy = await repo.guest_policy(programme_id)
    cap, after = policy.max_guests_per_session, policy.register_after_sessions
    if cap is None and after is None:
        # No limit: nothing to count, so no lock; admitting twice is a no-op. Every guest's
        # join of a session otherwise waits for the session row, one after the other.
        await repo.admit_guest(session_id, guest_id)
        return None
    if await repo.guest_admitted(session_id, guest_id):
        return None
    await repo.lock_session(session_id)
    if await repo.guest_admitted(session_id, guest_id):
        return None
    # Count only what a limit asks for, and no further than the limit: a session with hundreds
    # of guests must not cost a growing COUNT on every join.
    refusal = check_admission(
        policy,
        places_taken=0 if cap is None else await repo.guest_places_taken(session_id, cap),
        sessions_attended=(
            0
            if after is None
            else await repo.guest_sessions_attended(programme_id, attendee_key, session_id)
        ),
    )
    if refusal is None:
        await repo.admit_guest(session_id, guest_id)
    return refusal


@dataclass(frozen=True)
class JoinSession:
    session_id: uuid.UUID
    #: A spoke joining with their own token (their participant id).
    participant_id: uuid.UUID | None = None
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Admission:
    admitted_as: str
    participant_id: uuid.UUID | None = None
    guest_id: uuid.UUID | None = None


async def join_session(runtime: ServiceRuntime, cmd: JoinSession) -> Admission:
    """Decide whether someone may enter a session: participants always, guests within limits.

    A refused guest raises `RegistrationRequired` or `GuestPlacesFull` and nothing is stored.
    """
    # Reads first, outside the transaction: on SQLite the first statement of a transaction
    # that writes must be a write (a stale read snapshot cannot take the write lock).
    async with runtime.db.session() as session:
        repo = SqlaAttendanceRepository(session)
        session_row = await repo.session_row(cmd.session_id)
        if session_row is None or session_row["status"] == "cancelled":
            raise SessionNotFound(f"no session {cmd.session_id} open for joining here")
        programme_id = session_row["programme_id"]
        if cmd.participant_id is not None:
            if await repo.registration(cmd.participant_id, programme_id) is not None:
                return Admission("participant", participant_id=cmd.participant_id)
            if not cmd.email:
                raise NotRegistered(
                    "you are not registered to this session's programme; register"
                    f" (POST /v1/programmes/{programme_id}/registrations) or give your name and"
                    " email to join as a guest"
                )
        if not cmd.email:
            raise GuestIdentityMissing("give the email of the person joining")
        email = cmd.email.strip().lower()
        participant = await repo.registrant(programme_id, email, None)
        if participant is not None:
            return Admission("participant", participant_id=participant)
    key = guest_email_key(email)
    async with runtime.db.transaction() as session:
        repo = SqlaAttendanceRepository(session)
        guest_id = await repo.ensure_guest(programme_id, key, cmd.name, email)
        refusal = await admit_guest(repo, session_row, guest_id, key)
        if refusal is not None:
            log.info("guest_refused", session_id=str(cmd.session_id), reason=type(refusal).__name__)
            raise refusal
    return Admission("guest", guest_id=guest_id)
